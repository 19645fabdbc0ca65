//! hello: prints its pid and arguments.
#![cfg_attr(target_os = "none", no_std, no_main)]

use lux9_rt::{println, sys};

lux9_rt::entry!(run);

fn run(args: &str) -> i32 {
    println!("hello: pid {}, args {args:?}", sys::getpid());
    0
}
