//! ext4srv: serves ext4 images over 9P2000 with ext4-view (arrives with the ext4srv issue).
#![no_std]
#![deny(unsafe_code)]
