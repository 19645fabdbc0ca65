//! lux9-tests: the host harness that boots test kernels in QEMU and reads their result lines.
#![deny(unsafe_code)]
