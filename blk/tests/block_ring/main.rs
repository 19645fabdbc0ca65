//! The block ring (`lux9_blk::ring`) on the host: its endpoints against each other, a hostile
//! server against the kernel's endpoint, and both endpoints on two threads.

mod endpoints;
mod faults;
mod hostile;
mod support;
mod threads;
