//! Tests of the line editor, against a model of the terminal it draws on.

use super::*;
use alloc::string::ToString;
use alloc::vec;

const UP: &[u8] = b"\x1b[A";
const DOWN: &[u8] = b"\x1b[B";
const RIGHT: &[u8] = b"\x1b[C";
const LEFT: &[u8] = b"\x1b[D";

/// Feeds `bytes`; returns the echo and the events.
fn feed(editor: &mut Editor, bytes: &[u8]) -> (String, Vec<Event>) {
    let mut out = String::new();
    let mut events = Vec::new();
    for &byte in bytes {
        events.extend(editor.feed(byte, &mut out));
    }
    (out, events)
}

fn echo(editor: &mut Editor, bytes: &[u8]) -> String {
    let (out, events) = feed(editor, bytes);
    assert_eq!(events, [], "no event expected for {bytes:?}");
    out
}

fn line(text: &str) -> Event {
    Event::Line(text.to_string())
}

/// The current line of a terminal after the prompt: BS moves left without erasing, a
/// character overwrites the cell under the cursor, a newline starts a fresh line.
#[derive(Default)]
struct Screen {
    cells: Vec<char>,
    at: usize,
    finished: Vec<String>,
}

impl Screen {
    fn draw(&mut self, text: &str) {
        for ch in text.chars() {
            match ch {
                '\x08' => {
                    assert!(self.at > 0, "the editor moved into the prompt");
                    self.at -= 1;
                }
                '\n' => {
                    self.finished.push(self.cells.iter().collect());
                    self.cells.clear();
                    self.at = 0;
                }
                ch => {
                    assert!(!ch.is_control(), "unexpected control {ch:?}");
                    if self.at == self.cells.len() {
                        self.cells.push(ch);
                    } else {
                        self.cells[self.at] = ch;
                    }
                    self.at += 1;
                }
            }
        }
    }

    /// Checks that the screen shows exactly the editor's line, cursor included.
    fn check(&self, editor: &Editor) {
        let line: Vec<char> = editor.line().chars().collect();
        assert!(self.cells.len() >= line.len(), "the line does not fit");
        assert_eq!(self.cells[..line.len()], line[..], "screen and line differ");
        assert!(
            self.cells[line.len()..].iter().all(|&c| c == ' '),
            "leftovers after the line: {:?}",
            self.cells
        );
        assert_eq!(self.at, editor.cursor(), "cursor on screen and in the line");
    }
}

#[test]
fn typing_and_enter() {
    let mut editor = Editor::default();
    assert_eq!(echo(&mut editor, b"ls -l"), "ls -l");
    assert_eq!(editor.line(), "ls -l");
    assert_eq!(feed(&mut editor, b"\r"), ("\n".into(), vec![line("ls -l")]));
    assert_eq!(editor.line(), "");
    // LF right after CR is ignored; LF alone and CR alone each end a line.
    assert_eq!(
        feed(&mut editor, b"\na\n\nb\r\r").1,
        [line("a"), line(""), line("b"), line("")]
    );
}

#[test]
fn backspace_and_kill() {
    let mut editor = Editor::default();
    echo(&mut editor, b"abc");
    assert_eq!(echo(&mut editor, b"\x7f"), "\x08 \x08");
    assert_eq!(echo(&mut editor, b"\x08"), "\x08 \x08");
    assert_eq!(editor.line(), "a");
    assert_eq!(echo(&mut editor, b"\x7f"), "\x08 \x08");
    assert_eq!(echo(&mut editor, b"\x7f"), "", "nothing left to erase");
    echo(&mut editor, b"xyz");
    assert_eq!(echo(&mut editor, b"\x15"), "\x08\x08\x08   \x08\x08\x08");
    assert_eq!((editor.line(), editor.cursor()), (String::new(), 0));
    echo(&mut editor, b"cat some file");
    echo(&mut editor, b"\x17");
    assert_eq!(editor.line(), "cat some ");
    echo(&mut editor, b"\x17\x17");
    assert_eq!(editor.line(), "");
}

#[test]
fn ctrl_c_and_ctrl_d() {
    let mut editor = Editor::default();
    echo(&mut editor, b"half");
    assert_eq!(
        feed(&mut editor, b"\x03"),
        ("^C\n".into(), vec![Event::Cancel])
    );
    assert_eq!(editor.line(), "");
    assert_eq!(
        editor.history().len(),
        0,
        "a cancelled line is not remembered"
    );
    echo(&mut editor, b"x");
    assert_eq!(
        echo(&mut editor, b"\x04"),
        "",
        "Ctrl-D on a partial line does nothing"
    );
    echo(&mut editor, b"\x7f");
    assert_eq!(feed(&mut editor, b"\x04"), ("\n".into(), vec![Event::Eof]));
}

#[test]
fn cursor_movement_redraws_the_tail() {
    let mut editor = Editor::default();
    echo(&mut editor, b"abc");
    assert_eq!(echo(&mut editor, LEFT), "\x08");
    assert_eq!(echo(&mut editor, LEFT), "\x08");
    assert_eq!(editor.cursor(), 1);
    assert_eq!(echo(&mut editor, b"X"), "Xbc\x08\x08");
    assert_eq!(editor.line(), "aXbc");
    assert_eq!(echo(&mut editor, b"\x7f"), "\x08bc \x08\x08\x08");
    assert_eq!(editor.line(), "abc");
    assert_eq!(echo(&mut editor, RIGHT), "b");
    assert_eq!(echo(&mut editor, RIGHT), "c");
    assert_eq!(echo(&mut editor, RIGHT), "", "already at the end");
    assert_eq!(echo(&mut editor, b"\x1b[H"), "\x08\x08\x08");
    assert_eq!(echo(&mut editor, LEFT), "", "already at the start");
    assert_eq!(echo(&mut editor, b"\x1b[3~"), "bc \x08\x08\x08");
    assert_eq!(echo(&mut editor, b"\x1b[F"), "bc");
    assert_eq!(editor.line(), "bc");
    // Enter with the cursor in the middle submits the whole line.
    echo(&mut editor, b"\x01");
    assert_eq!(feed(&mut editor, b"\n").1, [line("bc")]);
}

#[test]
fn history_walks_both_ways() {
    let mut editor = Editor::default();
    feed(&mut editor, b"one\rtwo\rtwo\r\rthree\r");
    assert_eq!(editor.history().len(), 3, "no duplicates, no blank lines");
    echo(&mut editor, b"dra");
    echo(&mut editor, UP);
    assert_eq!(editor.line(), "three");
    echo(&mut editor, b"\x1bOA"); // the SS3 form
    assert_eq!(editor.line(), "two");
    echo(&mut editor, UP);
    assert_eq!(editor.line(), "one");
    assert_eq!(echo(&mut editor, UP), "", "the oldest stays");
    echo(&mut editor, DOWN);
    assert_eq!(editor.line(), "two");
    echo(&mut editor, b"\x1bOB");
    echo(&mut editor, DOWN);
    assert_eq!(editor.line(), "dra", "past the newest: the draft again");
    assert_eq!(echo(&mut editor, DOWN), "");
    // A recalled line is edited and submitted like a typed one.
    echo(&mut editor, b"\x15");
    echo(&mut editor, UP);
    assert_eq!(editor.cursor(), 5);
    assert_eq!(feed(&mut editor, b"!\r").1, [line("three!")]);
    assert_eq!(editor.history().get(3), Some("three!"));
}

#[test]
fn history_redraw_blanks_a_longer_line() {
    let mut editor = Editor::default();
    feed(&mut editor, b"ls\r");
    echo(&mut editor, b"a long line");
    let out = echo(&mut editor, UP);
    assert_eq!(
        out,
        "\x08".repeat(11) + "ls" + &" ".repeat(9) + &"\x08".repeat(9)
    );
    assert_eq!(echo(&mut Editor::default(), UP), "", "no history yet");
}

#[test]
fn utf8_and_stray_bytes() {
    let mut editor = Editor::default();
    assert_eq!(echo(&mut editor, "é日".as_bytes()), "é日");
    assert_eq!(echo(&mut editor, &[0x80, 0xff, b'\t', 0x07]), "");
    echo(&mut editor, &[0xc3]); // cut short by the next character
    assert_eq!(echo(&mut editor, b"x"), "x");
    assert_eq!(editor.line(), "é日x");
    assert_eq!(echo(&mut editor, b"\x7f"), "\x08 \x08");
    assert_eq!(echo(&mut editor, b"\x1bq"), "q", "Alt-q is q");
    assert_eq!(
        echo(&mut editor, b"\x1b[1;5C\x1b[99~\x1b[Z"),
        "",
        "unknown keys"
    );
    assert_eq!(editor.line(), "é日q");
}

#[test]
fn feed_all_stops_at_the_event() {
    let mut editor = Editor::default();
    let mut out = String::new();
    let (used, event) = editor.feed_all(b"ls\rps\r", &mut out);
    assert_eq!((used, event), (3, Some(line("ls"))));
    let (used, event) = editor.feed_all(b"\nps", &mut out);
    assert_eq!((used, event), (3, None), "the LF after CR is eaten");
    assert_eq!(editor.line(), "ps");
}

#[test]
fn the_screen_always_matches_the_line() {
    const KEYS: &[&[u8]] = &[
        b"a",
        b"b",
        b" ",
        "é".as_bytes(),
        b"\x7f",
        b"\x08",
        b"\x15",
        b"\x17",
        b"\x01",
        b"\x05",
        UP,
        DOWN,
        LEFT,
        RIGHT,
        b"\x1b[H",
        b"\x1b[F",
        b"\x1b[3~",
        b"\x1b[1~",
        b"\x1b[4~",
        b"\r",
        b"\x03",
        b"\x04",
    ];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |bound: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % bound as u64) as usize
    };
    let mut editor = Editor::new(History::new(5));
    let mut screen = Screen::default();
    let mut submitted = 0;
    for _ in 0..20_000 {
        let key = KEYS[next(KEYS.len())];
        let (out, events) = feed(&mut editor, key);
        screen.draw(&out);
        if let Some(Event::Line(text)) = events.first() {
            let shown = screen
                .finished
                .last()
                .expect("a submitted line ends the screen line");
            assert_eq!(shown.trim_end(), text.trim_end());
            submitted += 1;
        }
        screen.check(&editor);
        assert!(editor.history().len() <= 5);
    }
    assert!(submitted > 100, "the walk submitted lines");
}
