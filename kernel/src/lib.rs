//! Pure kernel logic, tested on the host: command line, memory map, allocator bookkeeping.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]
