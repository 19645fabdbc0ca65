//! A text console drawn on a linear framebuffer with the Noto Sans Mono bitmap font.
//!
//! Drawing goes to a shadow copy in RAM; changed rows are then copied to the framebuffer. That
//! keeps scrolling a RAM-to-RAM move and never reads video memory, which is slow on real cards.

use alloc::vec;
use alloc::vec::Vec;

use lux9_kernel_core::screen_font;
use lux9_kernel_core::text_cursor::{Step, TextCursor};

use crate::arch::framebuffer::{Framebuffer, FramebufferInfo};

pub struct FramebufferConsole {
    framebuffer: Framebuffer,
    shadow: Vec<u8>,
    cursor: TextCursor,
    glyph_width: usize,
    glyph_height: usize,
    /// Pixel rows changed since the last flush.
    dirty: Option<(usize, usize)>,
}

impl FramebufferConsole {
    pub fn new(info: FramebufferInfo) -> Option<Self> {
        let framebuffer = Framebuffer::new(info)?;
        let (glyph_width, glyph_height) = screen_font::cell_size();
        let columns = info.width / glyph_width;
        let rows = info.height / glyph_height;
        if columns == 0 || rows == 0 {
            return None;
        }
        let mut console = Self {
            framebuffer,
            shadow: vec![0; info.len()],
            cursor: TextCursor::new(columns, rows),
            glyph_width,
            glyph_height,
            dirty: Some((0, info.height)),
        };
        console.flush();
        Some(console)
    }

    fn mark_dirty(&mut self, from: usize, to: usize) {
        self.dirty = Some(match self.dirty {
            None => (from, to),
            Some((a, b)) => (a.min(from), b.max(to)),
        });
    }

    fn encode(info: &FramebufferInfo, intensity: u8) -> u32 {
        let channel = |(position, size): (u8, u8), value: u8| {
            (u32::from(value) >> 8u32.saturating_sub(u32::from(size))) << position
        };
        let [red, green, blue] = screen_font::rgb(intensity);
        channel(info.red, red) | channel(info.green, green) | channel(info.blue, blue)
    }

    fn draw(&mut self, column: usize, row: usize, ch: Option<char>) {
        let info = *self.framebuffer.info();
        let raster = ch.and_then(screen_font::glyph);
        let top = row * self.glyph_height;
        let left = column * self.glyph_width;
        for y in 0..self.glyph_height {
            let line = (top + y) * info.pitch;
            for x in 0..self.glyph_width {
                let intensity = raster.as_ref().map_or(0, |r| r.raster()[y][x]);
                let pixel = Self::encode(&info, intensity).to_le_bytes();
                let at = line + (left + x) * info.bytes_per_pixel;
                self.shadow[at..at + info.bytes_per_pixel]
                    .copy_from_slice(&pixel[..info.bytes_per_pixel]);
            }
        }
        self.mark_dirty(top, top + self.glyph_height);
    }

    fn scroll(&mut self) {
        let info = *self.framebuffer.info();
        let text_bytes = self.glyph_height * info.pitch;
        let used = (info.height / self.glyph_height) * text_bytes;
        self.shadow.copy_within(text_bytes..used, 0);
        self.shadow[used - text_bytes..used].fill(0);
        self.mark_dirty(0, info.height);
    }

    fn flush(&mut self) {
        let Some((from, to)) = self.dirty.take() else {
            return;
        };
        let pitch = self.framebuffer.info().pitch;
        for y in from..to.min(self.framebuffer.info().height) {
            self.framebuffer
                .write_row(y, &self.shadow[y * pitch..(y + 1) * pitch]);
        }
    }

    pub fn write_str(&mut self, s: &str) {
        for ch in s.chars() {
            // One character yields at most 8 draws (a tab) and a scroll.
            let mut steps = [None; 16];
            let mut count = 0;
            self.cursor.feed(ch, &mut |step| {
                if count < steps.len() {
                    steps[count] = Some(step);
                    count += 1;
                }
            });
            for step in steps.into_iter().flatten() {
                match step {
                    Step::Draw { column, row, ch } => self.draw(column, row, Some(ch)),
                    Step::Scroll => self.scroll(),
                }
            }
        }
        self.flush();
    }
}
