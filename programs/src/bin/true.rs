//! true: exits with status 0 at once (the process-lifecycle tests spawn it thousands of times).
#![cfg_attr(target_os = "none", no_std, no_main)]

lux9_rt::entry!(run);

fn run(_args: &str) -> i32 {
    0
}
