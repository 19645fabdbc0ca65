//! The Lux9 user runtime: what every ring-3 program links.
//!
//! - [`entry!`] defines the program's entry point (`_start`), which receives the argument
//!   string the parent passed to `spawn`, runs the program's function and exits with its code;
//! - a panic handler that prints the message and exits with status 101;
//! - a heap (talc) that grows with `map` system calls;
//! - typed wrappers for every system call ([`sys`]) and `print!`/`println!`;
//! - anonymous pages as an owned byte slice ([`anon`]);
//! - the environment (arguments, working directory, redirections) and spawning ([`env`]);
//! - the name space: files of `/dev`, `/proc`, `/sys` and other servers through lib9pclient
//!   ([`ns`]), and standard input and output on top of it ([`io`]).
//!
//! On the host (any target but `x86_64-unknown-none`) the crate compiles so that `cargo check`
//! sees the programs, but `entry!` produces a `main` that only explains where they run.
#![no_std]

extern crate alloc;

#[allow(unsafe_code, reason = "owned anonymous pages as byte slices")]
pub mod anon;
#[allow(
    unsafe_code,
    reason = "the runtime's unsafe fence: syscall instructions and the heap"
)]
mod arch;
#[allow(
    unsafe_code,
    reason = "deliberate faults and register access for kernel tests"
)]
pub mod deliberate;
pub mod env;
pub mod io;
pub mod ipc;
#[allow(unsafe_code, reason = "the single-threaded process-local cell")]
pub mod local;
pub mod ns;
pub mod pipe;
#[allow(unsafe_code, reason = "shared memory: the IPC buffer and rings")]
pub mod shared;
pub mod sys;

pub use lux9_abi as abi;

/// Exit status of a program that panicked.
pub const PANIC_EXIT_CODE: i32 = 101;

/// Runs the program's `run(args) -> i32` and exits with its result. `raw` is the spawn
/// string: the environment block (see [`env`]) is taken off before `run` sees the arguments.
pub fn start(main: fn(&str) -> i32, raw: &'static str) -> ! {
    let args = env::init(raw);
    let code = main(args);
    exit(code)
}

/// Ends the process with `code`, first closing a redirected standard output and the name
/// space's connections so their servers see the clunks.
pub fn exit(code: i32) -> ! {
    io::close_stdout();
    ns::detach();
    sys::exit(code)
}

/// Defines the entry point of a Lux9 program: `lux9_rt::entry!(run);` with
/// `fn run(args: &str) -> i32`. (Not `main`: on the host the macro defines `main` itself.)
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        /// The program's entry point.
        ///
        /// # Safety
        /// Only the kernel calls it, once, with the argument string it placed on the stack.
        #[cfg(target_os = "none")]
        #[allow(
            unsafe_code,
            reason = "the entry symbol the kernel jumps to, and its arguments"
        )]
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn _start(args: *const u8, len: usize) -> ! {
            // SAFETY: `args` and `len` are the entry registers the kernel set.
            let args = unsafe { $crate::args_from_entry(args, len) };
            $crate::start($main, args)
        }

        #[cfg(not(target_os = "none"))]
        fn main() {
            let _ = $main;
            ::std::eprintln!(
                "this is a Lux9 program; it runs inside Lux9 (cargo xtask run), not on the host"
            );
            ::std::process::exit(2);
        }
    };
}

/// The argument string the kernel placed on the new stack (entry registers `rdi`, `rsi`).
///
/// # Safety
/// `ptr` and `len` must be the entry registers the kernel set (or null and 0): any other
/// pointer would be read as a string that lives forever.
#[allow(unsafe_code, reason = "the entry registers read as a string")]
pub unsafe fn args_from_entry(ptr: *const u8, len: usize) -> &'static str {
    // SAFETY: passed on from the caller.
    unsafe { arch::entry_args(ptr, len) }
}
