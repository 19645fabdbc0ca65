//! Pure kernel logic, no hardware, tested on the host with `cargo test -p lux9-kernel-core`:
//! command line, memory map, allocator bookkeeping, device layouts, consoles' text.
//!
//! Nothing here touches hardware. The kernel binary (`main.rs`) feeds these types with what
//! the boot loader, ACPI and the devices report. No `unsafe` either, outside one test fake.
#![cfg_attr(not(test), no_std)]
#![cfg_attr(not(test), forbid(unsafe_code))]

extern crate alloc;

pub mod acpi_s5;
pub mod ahci;
pub mod ata;
pub mod cmdline;
pub mod config;
pub mod frame_bitmap;
pub mod irq_routing;
pub mod line_discipline;
pub mod log_ring;
pub mod memory_plan;
pub mod pci;
pub mod phys_range;
pub mod pipe_buffer;
pub mod prd;
pub mod screen_font;
pub mod test_pattern;
pub mod text_cursor;
pub mod units;
pub mod user_range;
