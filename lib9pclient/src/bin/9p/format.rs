//! Output formats: `ls -l` lines and Plan 9's %D stat format.

use lib9pclient::Dir;
use lib9pclient::codec::{
    DMAPPEND, DMAUTH, DMDIR, DMEXCL, DMTMP, QTAPPEND, QTAUTH, QTDIR, QTEXCL, QTTMP,
};

/// Plan 9 ls(1) mode string: d/a/l/A/t or -, then -, then rwxrwxrwx.
pub fn mode_string(mode: u32) -> String {
    let kind = if mode & DMDIR != 0 {
        'd'
    } else if mode & DMAPPEND != 0 {
        'a'
    } else if mode & DMAUTH != 0 {
        'A'
    } else if mode & DMTMP != 0 {
        't'
    } else {
        '-'
    };
    let excl = if mode & DMEXCL != 0 { 'l' } else { '-' };
    let mut s = String::with_capacity(11);
    s.push(kind);
    s.push(excl);
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    s
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A UTC timestamp as `YYYY-MM-DD HH:MM`.
pub fn time_string(t: u32) -> String {
    let t = i64::from(t);
    let (y, m, d) = civil(t.div_euclid(86_400));
    let secs = t.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        secs / 3600,
        secs / 60 % 60
    )
}

/// One `ls -l` line: mode, owner, group, length, mtime (UTC), name.
pub fn long_line(d: &Dir) -> String {
    format!(
        "{} {} {} {:>8} {} {}",
        mode_string(d.mode),
        d.uid,
        d.gid,
        d.length,
        time_string(d.mtime),
        d.name
    )
}

fn qid_type(t: u8) -> String {
    [
        (QTDIR, 'd'),
        (QTAPPEND, 'a'),
        (QTEXCL, 'l'),
        (QTAUTH, 'A'),
        (QTTMP, 't'),
    ]
    .iter()
    .filter(|(bit, _)| t & bit != 0)
    .map(|(_, c)| *c)
    .collect()
}

/// Plan 9's %D format, as plan9port's `9p stat` prints it.
pub fn stat_line(d: &Dir) -> String {
    format!(
        "'{}' '{}' '{}' '{}' q ({:016x} {} {}) m 0{:o} at {} mt {} l {} t {} d {}",
        d.name,
        d.uid,
        d.gid,
        d.muid,
        d.qid.path,
        d.qid.version,
        qid_type(d.qid.typ),
        d.mode,
        d.atime,
        d.mtime,
        d.length,
        d.typ,
        d.dev
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!(mode_string(DMDIR | 0o755), "d-rwxr-xr-x");
        assert_eq!(mode_string(DMAPPEND | DMEXCL | 0o600), "alrw-------");
        assert_eq!(mode_string(0o644), "--rw-r--r--");
    }

    #[test]
    fn times() {
        assert_eq!(time_string(0), "1970-01-01 00:00");
        assert_eq!(time_string(951_782_400), "2000-02-29 00:00");
        assert_eq!(time_string(1_700_000_000), "2023-11-14 22:13");
        assert_eq!(time_string(u32::MAX), "2106-02-07 06:28");
    }
}
