//! The Lux9 kernel binary.
fn main() {}
