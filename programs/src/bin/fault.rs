//! fault: provokes one CPU fault, named by its argument, so tests can check that the kernel
//! kills only this process. Exits 200 if the fault did not happen (3 or 4 if the page for
//! `unmapped-read`/`unmapped-write` could not be mapped or unmapped).
#![cfg_attr(target_os = "none", no_std, no_main)]

use lux9_rt::deliberate;
use lux9_rt::println;

lux9_rt::entry!(run);

/// A mapped kernel address: the direct map of physical memory at 1 MiB (the kernel image).
const KERNEL_ADDRESS: usize = 0xffff_8000_0010_0000;

/// A page this process mapped, wrote and unmapped: its address, or the exit status to return.
fn unmapped_page() -> Result<usize, i32> {
    let mut page = lux9_rt::anon::Mapping::new(4096).map_err(|_| 3)?;
    page.bytes_mut()[0] = 1;
    let addr = page.addr();
    page.unmap().map_err(|_| 4)?;
    Ok(addr)
}

#[allow(
    unsafe_code,
    reason = "deliberate writes and jumps to memory that must refuse them"
)]
fn run(args: &str) -> i32 {
    match args.trim() {
        "unmapped-read" => match unmapped_page() {
            Ok(addr) => deliberate::read(addr),
            Err(code) => code,
        },
        "unmapped-write" => match unmapped_page() {
            // SAFETY: the page was unmapped just above: the write faults.
            Ok(addr) => unsafe { deliberate::write(addr) },
            Err(code) => code,
        },
        "kernel-read" => deliberate::read(KERNEL_ADDRESS),
        // SAFETY: the kernel half is never writable from ring 3: the write faults.
        "kernel-write" => unsafe { deliberate::write(KERNEL_ADDRESS) },
        "null" => deliberate::read(0),
        // SAFETY: the program's code is mapped read-only and executable: the write faults.
        "write-code" => unsafe { deliberate::write(run as *const () as usize) },
        "execute-stack" => {
            let on_stack = [0xc3u8; 16]; // `ret`, never executed: the page is not executable
            // SAFETY: the stack is mapped no-execute: the jump faults on the fetch.
            unsafe { deliberate::execute(core::hint::black_box(&on_stack).as_ptr() as usize) }
        }
        "privileged" => deliberate::privileged_instruction(),
        "invalid-opcode" => deliberate::invalid_opcode(),
        "divide" => deliberate::divide_by_zero(),
        other => {
            println!(
                "fault: unknown fault {other:?}; use kernel-read, kernel-write, null, unmapped-read, unmapped-write, write-code, execute-stack, privileged, invalid-opcode or divide"
            );
            2
        }
    }
}
