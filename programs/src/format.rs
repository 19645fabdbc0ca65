//! Text the programs print: Plan 9 mode strings, `ls -l` lines (with [`crate::human`]'s sizes
//! and dates), `stat` fields, aligned tables and `name value` lists, and how a killed process
//! is described.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use lib9pclient::codec::{
    DMAPPEND, DMAUTH, DMDIR, DMEXCL, DMTMP, Dir, QTAPPEND, QTAUTH, QTDIR, QTEXCL, QTMOUNT, QTTMP,
};

/// A mode as Plan 9's `ls -l` shows it: the kind (`d`irectory, `a`ppend-only, `A`uth or `-`),
/// `l` for exclusive use, then `rwx` for owner, group and others: `d-r-xr-xr-x`.
pub fn mode_string(mode: u32) -> String {
    let mut text = String::with_capacity(11);
    text.push(if mode & DMDIR != 0 {
        'd'
    } else if mode & DMAPPEND != 0 {
        'a'
    } else if mode & DMAUTH != 0 {
        'A'
    } else {
        '-'
    });
    text.push(if mode & DMEXCL != 0 { 'l' } else { '-' });
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 7;
        text.push(if bits & 4 != 0 { 'r' } else { '-' });
        text.push(if bits & 2 != 0 { 'w' } else { '-' });
        text.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    text
}

/// `ls -l` lines for `entries`, columns aligned across them: mode, owner, group, length
/// (right-aligned; with `human`, as [`crate::human::size`] shows it), modification time
/// (`YYYY-MM-DD HH:MM`, UTC) and name.
pub fn long_listing(entries: &[Dir], human: bool) -> Vec<String> {
    let lengths: Vec<String> = entries
        .iter()
        .map(|d| {
            if human {
                crate::human::size(d.length)
            } else {
                d.length.to_string()
            }
        })
        .collect();
    let owner = entries.iter().map(|d| d.uid.len()).max().unwrap_or(0);
    let group = entries.iter().map(|d| d.gid.len()).max().unwrap_or(0);
    let length = lengths.iter().map(String::len).max().unwrap_or(0);
    entries
        .iter()
        .zip(&lengths)
        .map(|(d, size)| {
            format!(
                "{} {:owner$} {:group$} {size:>length$} {} {}",
                mode_string(d.mode),
                d.uid,
                d.gid,
                crate::human::date_time(u64::from(d.mtime)),
                d.name
            )
        })
        .collect()
}

/// The names of the bits of a qid type.
pub fn qid_type_names(typ: u8) -> String {
    let names: Vec<&str> = [
        (QTDIR, "dir"),
        (QTAPPEND, "append"),
        (QTEXCL, "excl"),
        (QTMOUNT, "mount"),
        (QTAUTH, "auth"),
        (QTTMP, "tmp"),
    ]
    .iter()
    .filter(|(bit, _)| typ & bit != 0)
    .map(|(_, name)| *name)
    .collect();
    if names.is_empty() {
        "file".into()
    } else {
        names.join("+")
    }
}

/// Every field of a directory entry as `name value` pairs, for `stat`.
pub fn stat_fields(dir: &Dir) -> Vec<(&'static str, String)> {
    let mut flags = String::new();
    if dir.mode & DMTMP != 0 {
        flags += " tmp";
    }
    alloc::vec![
        ("name", dir.name.clone()),
        (
            "qid.path",
            format!("{:#x} ({})", dir.qid.path, dir.qid.path)
        ),
        ("qid.version", dir.qid.version.to_string()),
        (
            "qid.type",
            format!("{:#04x} ({})", dir.qid.typ, qid_type_names(dir.qid.typ))
        ),
        (
            "mode",
            format!("{:#o} {}{flags}", dir.mode, mode_string(dir.mode))
        ),
        ("length", dir.length.to_string()),
        ("owner", dir.uid.clone()),
        ("group", dir.gid.clone()),
        ("muid", dir.muid.clone()),
        ("atime", dir.atime.to_string()),
        ("mtime", dir.mtime.to_string()),
        ("type", dir.typ.to_string()),
        ("dev", dir.dev.to_string()),
    ]
}

/// `name value` lines with the values lined up after the longest name.
pub fn aligned_pairs<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    let width = pairs
        .iter()
        .map(|(k, _)| k.as_ref().len())
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    for (key, value) in pairs {
        text += &format!("{:width$}  {}\n", key.as_ref(), value.as_ref());
    }
    text
}

/// A table with a header row; columns are separated by two spaces, numeric columns are
/// right-aligned, and the last column is not padded.
#[derive(Clone, Debug)]
pub struct Table {
    header: Vec<&'static str>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// Columns named `header`; `right[i]` right-aligns column `i`.
    pub fn new(header: &[&'static str], right: &[bool]) -> Self {
        Self {
            header: header.to_vec(),
            right: right.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (missing cells are blank, extra ones dropped).
    pub fn row(&mut self, mut cells: Vec<String>) {
        cells.resize(self.header.len(), String::new());
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let header: Vec<String> = self.header.iter().map(|h| h.to_string()).collect();
        let mut text = String::new();
        for row in core::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (index, cell) in row.iter().enumerate() {
                let pad = widths[index].saturating_sub(cell.chars().count());
                let last = index + 1 == row.len();
                if index > 0 {
                    line += "  ";
                }
                if self.right.get(index).copied().unwrap_or(false) {
                    line.extend(core::iter::repeat_n(' ', pad));
                    line += cell;
                } else {
                    line += cell;
                    if !last {
                        line.extend(core::iter::repeat_n(' ', pad));
                    }
                }
            }
            text += line.trim_end();
            text.push('\n');
        }
        text
    }
}

/// The name of CPU exception `vector`.
pub fn fault_name(vector: u8) -> &'static str {
    match vector {
        0 => "divide error",
        1 => "debug exception",
        3 => "breakpoint",
        4 => "overflow",
        5 => "bound range exceeded",
        6 => "invalid opcode",
        7 => "device not available",
        8 => "double fault",
        10 => "invalid TSS",
        11 => "segment not present",
        12 => "stack fault",
        13 => "general protection fault",
        14 => "page fault",
        16 => "x87 floating-point error",
        17 => "alignment check",
        18 => "machine check",
        19 => "SIMD floating-point error",
        21 => "control protection fault",
        _ => "exception",
    }
}

/// Words laid out in lines of at most `width` columns (a longer word gets a line to itself),
/// each line starting with `indent`.
pub fn wrap_words<S: AsRef<str>>(words: &[S], width: usize, indent: &str) -> String {
    let mut text = String::new();
    let mut line = String::from(indent);
    for word in words {
        let word = word.as_ref();
        if line.len() > indent.len() && line.len() + 1 + word.len() > width {
            text += &line;
            text.push('\n');
            line = String::from(indent);
        }
        if line.len() > indent.len() {
            line.push(' ');
        }
        line += word;
    }
    if line.len() > indent.len() {
        text += &line;
        text.push('\n');
    }
    text
}

/// A run of digits without its leading zeros (but at least one digit).
fn without_leading_zeros(digits: &[u8]) -> &[u8] {
    let zeros = digits.iter().take_while(|&&c| c == b'0').count();
    &digits[zeros.min(digits.len().saturating_sub(1))..]
}

/// Orders names as a person expects: runs of digits compare by value (so `/proc` lists
/// `2` before `11`), everything else byte by byte.
pub fn natural_cmp(a: &str, b: &str) -> core::cmp::Ordering {
    use core::cmp::Ordering;
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    loop {
        match (x.first(), y.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(p), Some(q)) if p.is_ascii_digit() && q.is_ascii_digit() => {
                let digits = |s: &[u8]| s.iter().take_while(|c| c.is_ascii_digit()).count();
                let (m, n) = (digits(x), digits(y));
                let (u, v) = (
                    without_leading_zeros(&x[..m]),
                    without_leading_zeros(&y[..n]),
                );
                let order = u.len().cmp(&v.len()).then_with(|| u.cmp(v));
                if order != Ordering::Equal {
                    return order;
                }
                // Same value: fewer leading zeros first, then go on.
                if m != n {
                    return m.cmp(&n);
                }
                x = &x[m..];
                y = &y[n..];
            }
            (Some(p), Some(q)) => {
                if p != q {
                    return p.cmp(q);
                }
                x = &x[1..];
                y = &y[1..];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use lib9pclient::codec::Qid;

    fn dir(name: &str, mode: u32, length: u64, uid: &str) -> Dir {
        Dir {
            name: name.into(),
            mode,
            length,
            uid: uid.into(),
            gid: "sys".into(),
            muid: "sys".into(),
            ..Default::default()
        }
    }

    #[test]
    fn mode_strings_are_plan9_style() {
        assert_eq!(mode_string(DMDIR | 0o555), "d-r-xr-xr-x");
        assert_eq!(mode_string(0o666), "--rw-rw-rw-");
        assert_eq!(mode_string(0o444), "--r--r--r--");
        assert_eq!(mode_string(DMAPPEND | DMEXCL | 0o620), "alrw--w----");
        assert_eq!(mode_string(DMAUTH | 0o700), "A-rwx------");
        assert_eq!(mode_string(0o751), "--rwxr-x--x");
    }

    #[test]
    fn long_listing_aligns_columns() {
        let mut proc = dir("proc", DMDIR | 0o555, 12345, "glenda");
        proc.mtime = 1_700_000_000;
        let entries = [dir("cons", 0o666, 0, "sys"), proc];
        assert_eq!(
            long_listing(&entries, false),
            [
                "--rw-rw-rw- sys    sys     0 1970-01-01 00:00 cons",
                "d-r-xr-xr-x glenda sys 12345 2023-11-14 22:13 proc",
            ]
        );
        assert!(long_listing(&[], false).is_empty());
    }

    #[test]
    fn long_listing_with_human_sizes_right_aligned() {
        let entries = [
            dir("big", 0o444, 12 * 1024 * 1024, "sys"),
            dir("small", 0o444, 999, "sys"),
            dir("mid", 0o444, 1536, "sys"),
        ];
        assert_eq!(
            long_listing(&entries, true),
            [
                "--r--r--r-- sys sys  12M 1970-01-01 00:00 big",
                "--r--r--r-- sys sys  999 1970-01-01 00:00 small",
                "--r--r--r-- sys sys 1.5K 1970-01-01 00:00 mid",
            ]
        );
    }

    #[test]
    fn stat_shows_every_field() {
        let mut d = dir("uptime", 0o444, 7, "sys");
        d.qid = Qid {
            typ: 0,
            version: 3,
            path: 0x42,
        };
        d.atime = 5;
        d.mtime = 6;
        let fields = stat_fields(&d);
        let names: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "name",
                "qid.path",
                "qid.version",
                "qid.type",
                "mode",
                "length",
                "owner",
                "group",
                "muid",
                "atime",
                "mtime",
                "type",
                "dev"
            ]
        );
        let text = aligned_pairs(&fields);
        assert!(text.starts_with("name         uptime\n"), "{text}");
        assert!(text.contains("qid.path     0x42 (66)\n"));
        assert!(text.contains("qid.type     0x00 (file)\n"));
        assert!(text.contains("mode         0o444 --r--r--r--\n"));
        assert!(text.contains("qid.version  3\n"));
        assert!(text.contains("atime        5\nmtime        6\n"));
        let mut dir_entry = dir("dev", DMDIR | DMTMP | 0o555, 0, "sys");
        dir_entry.qid.typ = QTDIR | QTTMP;
        let text = aligned_pairs(&stat_fields(&dir_entry));
        assert!(text.contains("0x84 (dir+tmp)"), "{text}");
        assert!(
            text.contains("mode         0o20400000555 d-r-xr-xr-x tmp\n"),
            "{text}"
        );
    }

    #[test]
    fn tables_align_and_trim() {
        let mut table = Table::new(&["PID", "NAME", "ARGS"], &[true, false, false]);
        table.row(vec!["1".into(), "init".into(), "".into()]);
        table.row(vec!["12".into(), "sh".into(), "-c 'ls -l'".into()]);
        table.row(vec!["3".into()]);
        assert_eq!(
            table.render(),
            "PID  NAME  ARGS\n  1  init\n 12  sh    -c 'ls -l'\n  3\n"
        );
    }

    #[test]
    fn pairs_align() {
        assert_eq!(
            aligned_pairs(&[("a", "1"), ("long_name", "22")]),
            "a          1\nlong_name  22\n"
        );
        assert_eq!(aligned_pairs::<&str, &str>(&[]), "");
    }

    #[test]
    fn faults_and_wrapping() {
        assert_eq!(fault_name(14), "page fault");
        assert_eq!(fault_name(13), "general protection fault");
        assert_eq!(fault_name(200), "exception");
        assert_eq!(
            wrap_words(&["cat", "echo", "ls", "mount", "ps"], 14, "  "),
            "  cat echo ls\n  mount ps\n"
        );
        assert_eq!(
            wrap_words(&["averyverylongword", "x"], 5, ""),
            "averyverylongword\nx\n"
        );
        assert_eq!(wrap_words::<&str>(&[], 10, "  "), "");
    }

    #[test]
    fn natural_order_puts_numbers_by_value() {
        use core::cmp::Ordering::*;
        let mut names = [
            "11", "2", "ipcstats", "1", "10", "meminfo", "a10", "a9", "007", "7",
        ];
        names.sort_by(|a, b| super::natural_cmp(a, b));
        assert_eq!(
            names,
            [
                "1", "2", "7", "007", "10", "11", "a9", "a10", "ipcstats", "meminfo"
            ]
        );
        assert_eq!(super::natural_cmp("x", "x"), Equal);
        assert_eq!(super::natural_cmp("", "a"), Less);
        assert_eq!(super::natural_cmp("b", "a"), Greater);
    }
}
