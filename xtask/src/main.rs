//! cargo xtask: the one build entry point.
fn main() {}
