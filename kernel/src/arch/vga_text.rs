//! The VGA text buffer (80x25 cells at 0xb8000 on BIOS machines) and its hardware cursor.

use x86_64::instructions::port::Port;

use super::phys_to_virt;

/// A text-mode screen: `width` x `height` cells of (character, attribute).
pub struct TextBuffer {
    base: *mut u16,
    pub width: usize,
    pub height: usize,
    /// Cells per row in memory (pitch / 2).
    stride: usize,
}

// SAFETY: the buffer is device memory owned by the console, which wraps it in a lock.
unsafe impl Send for TextBuffer {}

impl TextBuffer {
    /// The text buffer the boot loader reported at physical `phys`.
    pub fn new(phys: u64, width: usize, height: usize, pitch: usize) -> Option<Self> {
        if width == 0 || height == 0 || pitch < width * 2 || !(0xa0000..0xc0000).contains(&phys) {
            return None;
        }
        Some(Self {
            base: phys_to_virt(phys) as *mut u16,
            width,
            height,
            stride: pitch / 2,
        })
    }

    fn cell(&self, column: usize, row: usize) -> *mut u16 {
        assert!(
            column < self.width && row < self.height,
            "text cell out of range"
        );
        // SAFETY: (column, row) is inside the buffer, checked above.
        unsafe { self.base.add(row * self.stride + column) }
    }

    pub fn write(&mut self, column: usize, row: usize, byte: u8, attribute: u8) {
        // SAFETY: `cell` returns an in-range pointer into VGA memory, which the direct map covers.
        unsafe {
            core::ptr::write_volatile(
                self.cell(column, row),
                u16::from(byte) | (u16::from(attribute) << 8),
            )
        }
    }

    pub fn read(&self, column: usize, row: usize) -> u16 {
        // SAFETY: as in `write`.
        unsafe { core::ptr::read_volatile(self.cell(column, row)) }
    }

    /// Moves the blinking hardware cursor.
    pub fn set_cursor(&mut self, column: usize, row: usize) {
        let position = (row * self.width + column) as u16;
        // SAFETY: 0x3d4/0x3d5 are the CRT controller's index/data ports on colour VGA.
        unsafe {
            let mut index = Port::<u8>::new(0x3d4);
            let mut data = Port::<u8>::new(0x3d5);
            index.write(0x0f);
            data.write(position as u8);
            index.write(0x0e);
            data.write((position >> 8) as u8);
        }
    }
}
