//! The Rerror texts sysserver adds to the framework's (docs/sysserver.md lists them all).

use alloc::format;
use alloc::string::String;

use lib9pclient::server::ServerError;

/// The largest offset sysserver accepts: 9P offsets are signed (`vlong`) in Plan 9.
pub const MAX_OFFSET: u64 = i64::MAX as u64;

/// An offset of 2^63 or more.
pub fn bad_offset() -> ServerError {
    ServerError::Other(String::from("bad offset: must be below 2^63"))
}

/// A knob write that is not a decimal number.
pub fn knob_not_a_number(name: &str) -> ServerError {
    ServerError::Other(format!("knob {name}: not a number"))
}

/// A knob value the backend refused.
pub fn knob_out_of_range(name: &str) -> ServerError {
    ServerError::Other(format!("knob {name}: value out of range"))
}

/// An aname that names no tree.
pub fn unknown_tree(aname: &str) -> ServerError {
    ServerError::Other(format!("no such tree: {aname}"))
}

/// Fails with [`bad_offset`] unless `offset` is below 2^63.
pub fn check_offset(offset: u64) -> Result<(), ServerError> {
    if offset > MAX_OFFSET {
        Err(bad_offset())
    } else {
        Ok(())
    }
}

/// A knob write at an offset other than 0: the value is the whole of one write.
pub fn knob_offset(name: &str) -> ServerError {
    ServerError::Other(format!("knob {name}: write the value at offset 0"))
}

/// A consctl write other than `rawon` or `rawoff` (the message is shown, shortened).
pub fn bad_console_control(command: &[u8]) -> ServerError {
    let shown = String::from_utf8_lossy(&command[..command.len().min(32)]);
    ServerError::Other(format!(
        "consctl: unknown control message '{shown}' (rawon or rawoff)"
    ))
}
