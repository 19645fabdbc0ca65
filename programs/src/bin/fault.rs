//! fault: provokes one CPU fault, named by its argument, so tests can check that the kernel
//! kills only this process. Exits 200 if the fault did not happen.
#![cfg_attr(target_os = "none", no_std, no_main)]

use lux9_rt::deliberate;
use lux9_rt::println;

lux9_rt::entry!(run);

/// A mapped kernel address: the direct map of physical memory at 1 MiB (the kernel image).
const KERNEL_ADDRESS: usize = 0xffff_8000_0010_0000;

fn run(args: &str) -> i32 {
    match args.trim() {
        "kernel-read" => deliberate::read(KERNEL_ADDRESS),
        "kernel-write" => deliberate::write(KERNEL_ADDRESS),
        "null" => deliberate::read(0),
        "write-code" => deliberate::write(run as *const () as usize),
        "execute-stack" => {
            let on_stack = [0xc3u8; 16]; // `ret`, never executed: the page is not executable
            deliberate::execute(core::hint::black_box(&on_stack).as_ptr() as usize)
        }
        "privileged" => deliberate::privileged_instruction(),
        "invalid-opcode" => deliberate::invalid_opcode(),
        "divide" => deliberate::divide_by_zero(),
        other => {
            println!(
                "fault: unknown fault {other:?}; use kernel-read, kernel-write, null, write-code, execute-stack, privileged, invalid-opcode or divide"
            );
            2
        }
    }
}
