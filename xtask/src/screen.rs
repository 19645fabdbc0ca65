//! Reading the screen back as text in the console sessions: the VGA text buffer at physical
//! 0xb8000 under BIOS (QMP `pmemsave`), and under UEFI a screenshot of the framebuffer (QMP
//! `screendump`, a PPM) read cell by cell against the kernel's own glyphs
//! (`lux9_kernel_core::screen_font`).

use std::collections::HashMap;
use std::path::Path;

use lux9_kernel_core::screen_font;
use lux9_tests::qmp::Qmp;

/// The VGA text buffer: 80 x 25 cells of (character, attribute) at physical 0xb8000.
const VGA_TEXT: u64 = 0xb8000;
const VGA_COLUMNS: usize = 80;
const VGA_ROWS: usize = 25;

/// What the screen shows, one string per text row (trailing blanks kept).
pub fn read(qmp: &mut Qmp, uefi: bool, scratch: &Path) -> Result<Vec<String>, String> {
    let path = scratch.display().to_string();
    let _ = std::fs::remove_file(scratch);
    if uefi {
        qmp.execute("screendump", &format!("{{\"filename\": \"{path}\"}}"))?;
        let image = std::fs::read(scratch).map_err(|e| format!("reading {path}: {e}"))?;
        framebuffer_text(&image)
    } else {
        let size = VGA_COLUMNS * VGA_ROWS * 2;
        qmp.execute(
            "pmemsave",
            &format!("{{\"val\": {VGA_TEXT}, \"size\": {size}, \"filename\": \"{path}\"}}"),
        )?;
        let cells = std::fs::read(scratch).map_err(|e| format!("reading {path}: {e}"))?;
        Ok(vga_text(&cells))
    }
}

/// Decodes VGA text cells (character byte, attribute byte) into rows; bytes outside printable
/// ASCII show as `?` (NUL as a blank).
pub fn vga_text(cells: &[u8]) -> Vec<String> {
    cells
        .chunks(VGA_COLUMNS * 2)
        .map(|row| {
            row.chunks(2)
                .map(|cell| match cell[0] {
                    0 => ' ',
                    b @ 0x20..=0x7e => char::from(b),
                    _ => '?',
                })
                .collect()
        })
        .collect()
}

/// A binary PPM (P6, 8 bits per channel): (width, height, RGB bytes).
pub fn parse_ppm(image: &[u8]) -> Result<(usize, usize, &[u8]), String> {
    let mut fields = Vec::new();
    let mut at = 0;
    while fields.len() < 4 {
        while at < image.len() && image[at].is_ascii_whitespace() {
            at += 1;
        }
        if image.get(at) == Some(&b'#') {
            while at < image.len() && image[at] != b'\n' {
                at += 1;
            }
            continue;
        }
        let start = at;
        while at < image.len() && !image[at].is_ascii_whitespace() {
            at += 1;
        }
        if start == at {
            return Err("truncated PPM header".into());
        }
        fields.push(String::from_utf8_lossy(&image[start..at]).into_owned());
    }
    at += 1; // the one whitespace byte before the pixels
    let number = |i: usize| -> Result<usize, String> {
        fields[i]
            .parse()
            .map_err(|_| format!("PPM header field {:?}", fields[i]))
    };
    if fields[0] != "P6" || number(3)? != 255 {
        return Err(format!("not an 8-bit P6 PPM: {fields:?}"));
    }
    let (width, height) = (number(1)?, number(2)?);
    let pixels = image
        .get(at..at + width * height * 3)
        .ok_or("PPM shorter than its header says")?;
    Ok((width, height, pixels))
}

/// Reads a screenshot of the framebuffer console as text: each cell of the kernel's grid (from
/// the top left corner) is matched with the printable ASCII glyph whose rendering is nearest;
/// a cell that is near none reads as U+FFFD.
pub fn framebuffer_text(image: &[u8]) -> Result<Vec<String>, String> {
    let (width, height, pixels) = parse_ppm(image)?;
    let (cell_width, cell_height) = screen_font::cell_size();
    let render = |ch: char| -> Vec<u8> {
        let glyph = screen_font::glyph(ch).expect("the font has ASCII");
        glyph
            .raster()
            .iter()
            .flat_map(|row| row.iter().flat_map(|&i| screen_font::rgb(i)))
            .collect()
    };
    let glyphs: Vec<(char, Vec<u8>)> = (' '..='~').map(|ch| (ch, render(ch))).collect();
    let exact: HashMap<&[u8], char> = glyphs.iter().map(|(ch, p)| (p.as_slice(), *ch)).collect();
    // Allow a small difference per channel (e.g. a 16-bit mode's rounding), never a glyph's.
    let tolerance = cell_width * cell_height * 3 * 8;
    let mut cell = Vec::with_capacity(cell_width * cell_height * 3);
    let mut rows = Vec::new();
    for row in 0..height / cell_height {
        let mut text = String::new();
        for column in 0..width / cell_width {
            cell.clear();
            for y in 0..cell_height {
                let start = ((row * cell_height + y) * width + column * cell_width) * 3;
                cell.extend_from_slice(&pixels[start..start + cell_width * 3]);
            }
            let ch = exact.get(cell.as_slice()).copied().unwrap_or_else(|| {
                let distance = |p: &[u8]| -> usize {
                    p.iter()
                        .zip(&cell)
                        .map(|(a, b)| usize::from(a.abs_diff(*b)))
                        .sum()
                };
                glyphs
                    .iter()
                    .map(|(ch, p)| (distance(p), *ch))
                    .min()
                    .filter(|(d, _)| *d <= tolerance)
                    .map_or('\u{fffd}', |(_, ch)| ch)
            });
            text.push(ch);
        }
        rows.push(text);
    }
    Ok(rows)
}

/// Checks that the last rows with text on the screen are exactly `expected` (compared without
/// trailing blanks): the prompt, the last command and its output, and the new prompt.
pub fn ends_with(rows: &[String], expected: &[&str]) -> Result<(), String> {
    let used = rows
        .iter()
        .rposition(|row| !row.trim_end().is_empty())
        .map_or(0, |last| last + 1);
    let shown: Vec<&str> = rows[..used].iter().map(|row| row.trim_end()).collect();
    let tail = &shown[shown.len().saturating_sub(expected.len())..];
    let wanted: Vec<&str> = expected.iter().map(|line| line.trim_end()).collect();
    if tail == wanted.as_slice() {
        Ok(())
    } else {
        let from = shown.len().saturating_sub(expected.len() + 4);
        Err(format!(
            "the screen's last rows are not {wanted:?}; it shows (bottom rows):\n{}",
            shown[from..].join("\n")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Draws `lines` as the kernel's framebuffer console would, into a P6 PPM.
    fn draw(lines: &[&str], columns: usize, rows: usize) -> Vec<u8> {
        let (cw, ch) = screen_font::cell_size();
        let (width, height) = (columns * cw + 3, rows * ch + 5); // ragged edges, as real modes
        let mut pixels = vec![0u8; width * height * 3];
        for (row, line) in lines.iter().enumerate() {
            for (column, c) in line.chars().enumerate() {
                let glyph = screen_font::glyph(c).unwrap();
                for (y, raster_row) in glyph.raster().iter().enumerate() {
                    for (x, &intensity) in raster_row.iter().enumerate() {
                        let at = ((row * ch + y) * width + column * cw + x) * 3;
                        pixels[at..at + 3].copy_from_slice(&screen_font::rgb(intensity));
                    }
                }
            }
        }
        let mut image = format!("P6\n# a comment\n{width} {height}\n255\n").into_bytes();
        image.extend_from_slice(&pixels);
        image
    }

    #[test]
    fn a_drawn_screen_reads_back_as_its_text() {
        let lines = ["lux9% echo kbd", "kbd", "lux9% ~{}|`_"];
        let rows = framebuffer_text(&draw(&lines, 20, 5)).unwrap();
        assert_eq!(rows.len(), 5);
        assert_eq!(rows[0].trim_end(), lines[0]);
        assert!(ends_with(&rows, &lines).is_ok());
        assert!(ends_with(&rows, &["kbd", "lux9% ~{}|`_"]).is_ok());
        assert!(ends_with(&rows, &["lux9% echo kbx", "kbd", "lux9% ~{}|`_"]).is_err());
        assert!(ends_with(&rows, &["kbd"]).is_err(), "not the last row");
    }

    #[test]
    fn a_damaged_cell_reads_as_unknown_or_changes_the_text() {
        let mut image = draw(&["lux9% "], 8, 2);
        let (cw, _) = screen_font::cell_size();
        let (width, _, _) = parse_ppm(&image).unwrap();
        let header = image.len() - width * parse_ppm(&image).unwrap().1 * 3;
        // Paint the whole of the 'l' cell white.
        for y in 0..screen_font::cell_size().1 {
            for x in 0..cw {
                let at = header + (y * width + x) * 3;
                image[at..at + 3].copy_from_slice(&[0xff, 0xff, 0xff]);
            }
        }
        let rows = framebuffer_text(&image).unwrap();
        assert!(rows[0].starts_with("\u{fffd}ux9% "), "{:?}", rows[0]);
        assert!(ends_with(&rows, &["lux9% "]).is_err());
    }

    #[test]
    fn vga_cells_decode_to_rows() {
        let mut cells = vec![0u8; VGA_COLUMNS * VGA_ROWS * 2];
        for (i, b) in b"lux9% \x01x".iter().enumerate() {
            cells[(VGA_COLUMNS + i) * 2] = *b;
            cells[(VGA_COLUMNS + i) * 2 + 1] = 0x07;
        }
        let rows = vga_text(&cells);
        assert_eq!(rows.len(), VGA_ROWS);
        assert_eq!(rows[1].trim_end(), "lux9% ?x");
        assert!(ends_with(&rows, &["lux9% ?x"]).is_ok());
        assert!(ends_with(&rows, &["", "lux9% ?x"]).is_ok());
        assert!(ends_with(&rows, &["lux9%"]).is_err());
    }

    #[test]
    fn bad_images_are_refused() {
        assert!(parse_ppm(b"P5\n2 2\n255\n....").is_err());
        assert!(parse_ppm(b"P6\n2 2\n255\n..").is_err());
        assert!(parse_ppm(b"P6\n2").is_err());
    }
}
