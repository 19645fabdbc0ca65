//! lib9pclient: the 9P2000 codec and client (arrives with the 9P issue).
#![no_std]
#![deny(unsafe_code)]
