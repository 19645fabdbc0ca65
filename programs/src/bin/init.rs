//! init: the first process. Greets, starts `hello`, and reports how it ended.
#![cfg_attr(target_os = "none", no_std, no_main)]

use lux9_rt::{println, sys};

lux9_rt::entry!(run);

fn run(_args: &str) -> i32 {
    println!("init: hello from pid {}", sys::getpid());
    match sys::spawn("hello", "from init") {
        Ok(pid) => match sys::wait(pid) {
            Ok(status) => println!("init: hello (pid {pid}) ended: {status:?}"),
            Err(error) => println!("init: waiting for hello failed: {error}"),
        },
        Err(error) => println!("init: cannot start hello: {error}"),
    }
    0
}
