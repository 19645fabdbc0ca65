//! sysserver: one 9P2000 server for /dev, /proc and /sys (arrives with the sysserver issue).
#![no_std]
#![deny(unsafe_code)]
