//! The screen console's font and colour under UEFI: the kernel's framebuffer console draws with
//! them, and `cargo xtask test` renders the same glyphs to read a screenshot back as text.

use noto_sans_mono_bitmap::{
    FontWeight, RasterHeight, RasterizedChar, get_raster, get_raster_width,
};

pub const WEIGHT: FontWeight = FontWeight::Regular;
pub const HEIGHT: RasterHeight = RasterHeight::Size16;
/// Full-intensity text colour (red, green, blue); the background is black.
pub const FOREGROUND: (u8, u8, u8) = (0xcc, 0xcc, 0xcc);

/// A character cell's size in pixels: (width, height).
pub fn cell_size() -> (usize, usize) {
    (get_raster_width(WEIGHT, HEIGHT), HEIGHT.val())
}

/// The glyph drawn for `ch`: its own, or the replacement character's.
pub fn glyph(ch: char) -> Option<RasterizedChar> {
    get_raster(ch, WEIGHT, HEIGHT).or_else(|| get_raster('\u{fffd}', WEIGHT, HEIGHT))
}

/// The 8-bit (red, green, blue) of a glyph pixel of `intensity` (0 = background).
pub fn rgb(intensity: u8) -> [u8; 3] {
    let scale = |full: u8| (u32::from(full) * u32::from(intensity) / 255) as u8;
    [
        scale(FOREGROUND.0),
        scale(FOREGROUND.1),
        scale(FOREGROUND.2),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glyphs_fill_their_cells_and_differ() {
        let (width, height) = cell_size();
        let a = glyph('a').unwrap();
        assert_eq!((a.width(), a.raster().len()), (width, height));
        assert_ne!(a.raster(), glyph('b').unwrap().raster());
        assert!(
            glyph(' ')
                .unwrap()
                .raster()
                .iter()
                .all(|row| row.iter().all(|&i| i == 0))
        );
        assert_eq!(rgb(0), [0, 0, 0]);
        assert_eq!(rgb(255), [0xcc, 0xcc, 0xcc]);
    }
}
