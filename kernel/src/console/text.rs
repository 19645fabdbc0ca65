//! The VGA text screen console.

use lux9_kernel_core::text_cursor::{Step, TextCursor};

use crate::arch::vga_text::TextBuffer;

/// Light grey on black.
const ATTRIBUTE: u8 = 0x07;

pub struct TextConsole {
    buffer: TextBuffer,
    cursor: TextCursor,
}

impl TextConsole {
    pub fn new(phys: u64, width: usize, height: usize, pitch: usize) -> Option<Self> {
        let mut buffer = TextBuffer::new(phys, width, height, pitch)?;
        for row in 0..height {
            for column in 0..width {
                buffer.write(column, row, b' ', ATTRIBUTE);
            }
        }
        Some(Self {
            buffer,
            cursor: TextCursor::new(width, height),
        })
    }

    pub fn write_str(&mut self, s: &str) {
        let buffer = &mut self.buffer;
        for ch in s.chars() {
            self.cursor.feed(ch, &mut |step| match step {
                Step::Draw { column, row, ch } => {
                    // The VGA font is code page 437; ASCII is shared, anything else shows as '?'.
                    let byte = if ch.is_ascii() { ch as u8 } else { b'?' };
                    buffer.write(column, row, byte, ATTRIBUTE);
                }
                Step::Scroll => {
                    for row in 1..buffer.height {
                        for column in 0..buffer.width {
                            let cell = buffer.read(column, row);
                            buffer.write(column, row - 1, cell as u8, (cell >> 8) as u8);
                        }
                    }
                    for column in 0..buffer.width {
                        buffer.write(column, buffer.height - 1, b' ', ATTRIBUTE);
                    }
                }
            });
        }
        let (column, row) = (self.cursor.column.min(buffer.width - 1), self.cursor.row);
        buffer.set_cursor(column, row);
    }
}
