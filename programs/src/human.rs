//! Numbers as people read them: sizes with binary units (`1.5K`, `12M`), KiB rounded up, and
//! 9P times (seconds since 1970, UTC) as dates.

use alloc::format;
use alloc::string::{String, ToString};

/// The units of [`size`], each 1024 times the one before.
const UNITS: [char; 6] = ['K', 'M', 'G', 'T', 'P', 'E'];

/// `bytes` as `ls -h` and `du -h` show it: bytes below 1024 as they are, otherwise in the
/// largest unit that keeps the number below 1024, with one decimal below 10 (`1.5K`, `9.9M`,
/// `10K`, `512M`). Rounded up, as coreutils does, so a size is never shown smaller than it is.
pub fn size(bytes: u64) -> String {
    if bytes < 1024 {
        return bytes.to_string();
    }
    let bytes = u128::from(bytes);
    let mut scale = 1024u128;
    let mut index = 0;
    loop {
        let unit = UNITS[index];
        let tenths = (bytes * 10).div_ceil(scale);
        if tenths < 100 {
            return format!("{}.{}{unit}", tenths / 10, tenths % 10);
        }
        let whole = bytes.div_ceil(scale);
        // u64::MAX is 16E, so the last unit always answers.
        if whole < 1024 || index + 1 == UNITS.len() {
            return format!("{whole}{unit}");
        }
        scale *= 1024;
        index += 1;
    }
}

/// `bytes` in KiB, rounded up (so a 1-byte file counts 1).
pub fn kib(bytes: u64) -> u64 {
    bytes.div_ceil(1024)
}

/// A 9P time (seconds since 1970-01-01 00:00 UTC) as `YYYY-MM-DD HH:MM`, UTC.
pub fn date_time(seconds: u64) -> String {
    let days = seconds / 86_400;
    let minutes = (seconds % 86_400) / 60;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        minutes / 60,
        minutes % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`,
/// for days on or after the epoch): eras of 400 years, years starting on 1 March so that the
/// leap day comes last.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_binary_units_rounded_up() {
        let cases: [(u64, &str); 17] = [
            (0, "0"),
            (1, "1"),
            (1023, "1023"),
            (1024, "1.0K"),
            (1025, "1.1K"),
            (1536, "1.5K"),
            (10 * 1024 - 1, "10K"),
            (10 * 1024, "10K"),
            (10 * 1024 + 1, "11K"),
            (1024 * 1024 - 1, "1.0M"),
            (1024 * 1024, "1.0M"),
            (12 * 1024 * 1024, "12M"),
            (1023 * 1024 * 1024, "1023M"),
            (1023 * 1024 * 1024 + 1, "1.0G"),
            (5 << 40, "5.0T"),
            (3 << 50, "3.0P"),
            (u64::MAX, "16E"),
        ];
        for (bytes, text) in cases {
            assert_eq!(size(bytes), text, "{bytes} bytes");
        }
    }

    #[test]
    fn kib_rounds_up() {
        assert_eq!(kib(0), 0);
        assert_eq!(kib(1), 1);
        assert_eq!(kib(1024), 1);
        assert_eq!(kib(1025), 2);
        assert_eq!(kib(u64::MAX), 1 << 54);
    }

    #[test]
    fn dates_in_utc() {
        assert_eq!(date_time(0), "1970-01-01 00:00");
        assert_eq!(date_time(59), "1970-01-01 00:00");
        assert_eq!(date_time(86_399), "1970-01-01 23:59");
        assert_eq!(date_time(951_782_400), "2000-02-29 00:00");
        assert_eq!(date_time(951_868_800), "2000-03-01 00:00");
        assert_eq!(date_time(1_700_000_000), "2023-11-14 22:13");
        assert_eq!(date_time(1_709_164_800), "2024-02-29 00:00");
        assert_eq!(date_time(4_102_444_800), "2100-01-01 00:00");
        assert_eq!(date_time(u64::from(u32::MAX)), "2106-02-07 06:28");
    }

    #[test]
    fn dates_agree_with_a_day_by_day_count() {
        // Walk the calendar one day at a time for 500 years and compare.
        let month_days = |year: u64, month: u64| match month {
            2 if (year.is_multiple_of(4) && !year.is_multiple_of(100))
                || year.is_multiple_of(400) =>
            {
                29
            }
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        let (mut year, mut month, mut day) = (1970, 1, 1);
        for days in 0..500 * 366 {
            assert_eq!(civil_from_days(days), (year, month, day), "day {days}");
            day += 1;
            if day > month_days(year, month) {
                day = 1;
                month += 1;
                if month > 12 {
                    month = 1;
                    year += 1;
                }
            }
        }
    }
}
