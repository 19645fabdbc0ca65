//! lux9-iso: stages the ISO tree and runs grub-mkrescue (hybrid BIOS + UEFI).
#![deny(unsafe_code)]
