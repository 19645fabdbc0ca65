//! A linear framebuffer (UEFI GOP or VBE): a safe handle for writing whole rows of pixels.

use super::phys_to_virt;

/// Geometry and pixel format of a linear framebuffer.
#[derive(Clone, Copy, Debug)]
pub struct FramebufferInfo {
    pub phys: u64,
    pub width: usize,
    pub height: usize,
    /// Bytes per row.
    pub pitch: usize,
    /// Bytes per pixel (2, 3 or 4).
    pub bytes_per_pixel: usize,
    /// (bit position, bit count) of each colour channel in a pixel.
    pub red: (u8, u8),
    pub green: (u8, u8),
    pub blue: (u8, u8),
}

impl FramebufferInfo {
    pub fn len(&self) -> usize {
        self.pitch * self.height
    }
}

/// Write access to the framebuffer memory.
pub struct Framebuffer {
    info: FramebufferInfo,
    base: *mut u8,
}

// SAFETY: the framebuffer is device memory owned by the console, which wraps it in a lock.
unsafe impl Send for Framebuffer {}

impl Framebuffer {
    /// Validates the geometry the boot loader reported.
    pub fn new(info: FramebufferInfo) -> Option<Self> {
        let sane = info.width > 0
            && info.height > 0
            && (2..=4).contains(&info.bytes_per_pixel)
            && info.pitch >= info.width * info.bytes_per_pixel
            && info.phys.checked_add(info.len() as u64).is_some();
        sane.then(|| Self {
            info,
            base: phys_to_virt(info.phys) as *mut u8,
        })
    }

    pub fn info(&self) -> &FramebufferInfo {
        &self.info
    }

    /// Copies `pixels` (already in the framebuffer's format) into row `y`.
    pub fn write_row(&mut self, y: usize, pixels: &[u8]) {
        assert!(y < self.info.height, "row {y} is off the screen");
        let len = pixels.len().min(self.info.pitch);
        // SAFETY: row `y` lies inside the framebuffer (checked), `len` is at most one pitch,
        // the direct map covers the framebuffer (paging::init maps up to its end), and the
        // source is ordinary memory that cannot overlap device memory.
        unsafe {
            core::ptr::copy_nonoverlapping(pixels.as_ptr(), self.base.add(y * self.info.pitch), len)
        }
    }
}
