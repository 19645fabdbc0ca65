//! Where the next character goes on a text screen, shared by the VGA and framebuffer consoles.
//!
//! Feeding characters produces drawing steps; the console turns them into memory writes. Lines
//! wrap at the right edge, and a newline on the last row scrolls instead of moving down.

/// One thing a console must do on its screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Draw `ch` in the cell.
    Draw { column: usize, row: usize, ch: char },
    /// Move every row up by one and blank the last row.
    Scroll,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TextCursor {
    pub column: usize,
    pub row: usize,
    width: usize,
    height: usize,
}

impl TextCursor {
    /// A cursor at the top left of a `width` x `height` screen (both at least 1).
    pub fn new(width: usize, height: usize) -> Self {
        Self {
            column: 0,
            row: 0,
            width: width.max(1),
            height: height.max(1),
        }
    }

    fn newline(&mut self, out: &mut impl FnMut(Step)) {
        self.column = 0;
        if self.row + 1 == self.height {
            out(Step::Scroll);
        } else {
            self.row += 1;
        }
    }

    /// Advances over `ch`, reporting what to draw.
    pub fn feed(&mut self, ch: char, out: &mut impl FnMut(Step)) {
        match ch {
            '\n' => self.newline(out),
            '\r' => self.column = 0,
            '\t' => {
                let next = (self.column / 8 + 1) * 8;
                while self.column < next.min(self.width) {
                    self.feed(' ', out);
                }
            }
            // Backspace moves left, as on a terminal: erasing is "\b \b", and line editors move
            // the cursor over text with it.
            '\u{8}' => self.column = self.column.saturating_sub(1),
            ch if ch.is_control() => {}
            ch => {
                if self.column == self.width {
                    self.newline(out);
                }
                out(Step::Draw {
                    column: self.column,
                    row: self.row,
                    ch,
                });
                self.column += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(cursor: &mut TextCursor, text: &str) -> Vec<Step> {
        let mut steps = Vec::new();
        for ch in text.chars() {
            cursor.feed(ch, &mut |step| steps.push(step));
        }
        steps
    }

    #[test]
    fn draws_and_wraps() {
        let mut cursor = TextCursor::new(3, 2);
        let steps = run(&mut cursor, "abcd");
        assert_eq!(
            steps,
            vec![
                Step::Draw {
                    column: 0,
                    row: 0,
                    ch: 'a'
                },
                Step::Draw {
                    column: 1,
                    row: 0,
                    ch: 'b'
                },
                Step::Draw {
                    column: 2,
                    row: 0,
                    ch: 'c'
                },
                Step::Draw {
                    column: 0,
                    row: 1,
                    ch: 'd'
                },
            ]
        );
    }

    #[test]
    fn newline_on_last_row_scrolls() {
        let mut cursor = TextCursor::new(10, 2);
        let steps = run(&mut cursor, "a\nb\nc");
        assert_eq!(steps[2], Step::Scroll);
        assert_eq!(
            steps[3],
            Step::Draw {
                column: 0,
                row: 1,
                ch: 'c'
            }
        );
        assert_eq!((cursor.column, cursor.row), (1, 1));
    }

    #[test]
    fn full_last_line_scrolls_before_the_next_character() {
        let mut cursor = TextCursor::new(2, 1);
        let steps = run(&mut cursor, "abc");
        assert_eq!(steps[2], Step::Scroll);
        assert_eq!(
            steps[3],
            Step::Draw {
                column: 0,
                row: 0,
                ch: 'c'
            }
        );
    }

    #[test]
    fn tabs_backspace_and_control_characters() {
        let mut cursor = TextCursor::new(20, 2);
        run(&mut cursor, "ab\tx");
        assert_eq!(cursor.column, 9);
        let steps = run(&mut cursor, "\u{8}");
        assert!(steps.is_empty(), "backspace only moves the cursor");
        assert_eq!(cursor.column, 8);
        let steps = run(&mut cursor, " \u{8}");
        assert_eq!(
            steps,
            vec![Step::Draw {
                column: 8,
                row: 0,
                ch: ' '
            }]
        );
        assert_eq!(cursor.column, 8, "\\b \\b erases and comes back");
        let steps = run(&mut cursor, "\r\u{7}");
        assert!(steps.is_empty());
        assert_eq!(cursor.column, 0);
        assert!(
            run(&mut cursor, "\u{8}").is_empty(),
            "backspace at column 0 does nothing"
        );
    }
}
