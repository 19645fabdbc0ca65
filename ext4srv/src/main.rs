//! The `ext4srv` host program: serve an ext4 image over 9P2000.

use ext4srv::device::{ImageFile, partition};
use ext4srv::host::{parse_args, serve, usage};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!("{}", usage());
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("ext4srv: {e}");
            eprintln!(
                "usage: ext4srv [--listen ADDR] [--partition N] [--msize BYTES] [--cache MIB] IMAGE (--help for more)"
            );
            return ExitCode::from(2);
        }
    };
    if args.list_partitions {
        return list_partitions(&args.image);
    }
    match serve(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ext4srv: {e}");
            ExitCode::FAILURE
        }
    }
}

fn list_partitions(image: &std::path::Path) -> ExitCode {
    let mut file = match ImageFile::open(image) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("ext4srv: {}: {e}", image.display());
            return ExitCode::FAILURE;
        }
    };
    match partition::read_table(&mut file) {
        Ok(None) => println!("{}: no partition table", image.display()),
        Ok(Some(table)) => {
            println!("{}: {} partition table", image.display(), table.name());
            for p in table.partitions() {
                println!("  {p}");
            }
        }
        Err(e) => {
            eprintln!("ext4srv: {}: {e}", image.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
