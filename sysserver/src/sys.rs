//! `/sys`: the kernel's version and command line, the configuration, the isolation modes in
//! force, and the knobs, which are written as decimal numbers.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use lib9pclient::server::ServerError;

use crate::backend::{Backend, KnobError};
use crate::error::{knob_not_a_number, knob_offset, knob_out_of_range};
use crate::node::Kind;
use crate::text::line;

/// The entries of `/sys/knobs`, in the backend's order.
pub fn knob_entries<B: Backend>(backend: &mut B) -> Vec<Kind> {
    backend
        .knobs()
        .into_iter()
        .map(|(name, _)| Kind::Knob(name))
        .collect()
}

fn knob_value<B: Backend>(backend: &mut B, name: &str) -> Option<u64> {
    backend
        .knobs()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

/// The knob called `name`, if the backend has it.
pub fn walk_knob<B: Backend>(backend: &mut B, name: &str) -> Option<Kind> {
    knob_value(backend, name).map(|_| Kind::Knob(String::from(name)))
}

/// The contents of a `/sys` text file now.
pub fn text<B: Backend>(backend: &mut B, kind: &Kind) -> Result<String, ServerError> {
    Ok(match kind {
        Kind::Version => line(&backend.version()),
        Kind::KernelCmdline => line(&backend.kernel_cmdline()),
        Kind::Config => line(&backend.config()),
        Kind::Isolation => line(&backend.isolation()),
        Kind::Pci => line(&backend.pci()),
        Kind::Knob(name) => {
            let value = knob_value(backend, name).ok_or(ServerError::NotFound)?;
            let mut s = String::new();
            let _ = writeln!(s, "{value}");
            s
        }
        _ => return Err(ServerError::NotFound),
    })
}

/// The value a knob write carries: decimal digits, with any whitespace around them
/// (`echo 17 > knob` sends `17\n`).
pub fn parse_knob(data: &[u8]) -> Option<u64> {
    let digits = data.trim_ascii();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    core::str::from_utf8(digits).ok()?.parse().ok()
}

/// Sets knob `name` from a write's data. The whole write is one value, so it must be at
/// offset 0 (a second write on the same fid would land at the end of the first).
pub fn write_knob<B: Backend>(
    backend: &mut B,
    name: &str,
    offset: u64,
    data: &[u8],
) -> Result<usize, ServerError> {
    if offset != 0 {
        return Err(knob_offset(name));
    }
    let value = parse_knob(data).ok_or_else(|| knob_not_a_number(name))?;
    match backend.set_knob(name, value) {
        Ok(()) => Ok(data.len()),
        Err(KnobError::Unknown) => Err(ServerError::NotFound),
        Err(KnobError::BadValue) => Err(knob_out_of_range(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_knob;

    #[test]
    fn knob_values() {
        assert_eq!(parse_knob(b"0"), Some(0));
        assert_eq!(parse_knob(b"17\n"), Some(17));
        assert_eq!(parse_knob(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_knob(b"18446744073709551616"), None);
        assert_eq!(parse_knob(b""), None);
        assert_eq!(parse_knob(b"\n"), None);
        assert_eq!(parse_knob(b"17\n\n"), Some(17));
        assert_eq!(parse_knob(b" \t17 \r\n"), Some(17));
        assert_eq!(parse_knob(b"1 7"), None);
        assert_eq!(parse_knob(b"   "), None);
        assert_eq!(parse_knob(b"-1"), None);
        assert_eq!(parse_knob(b"0x10"), None);
    }
}
