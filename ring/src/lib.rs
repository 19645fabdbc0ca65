//! lux9-ring: the shared-memory ring protocol between a client and a server (in progress).
#![cfg_attr(not(test), no_std)]
