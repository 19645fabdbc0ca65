//! ext4srv, isolated: serves one ext4 volume (a disk or a partition) read-only over 9P from a
//! ring-3 process. `mount ext4 PATH DEVICE` starts one per volume; it reads its disk through a
//! block ring (the device moves the sectors into the ring's data region by DMA) and serves the
//! volume under the service name `ext4.<disk><part>` (`ext4.sd0p1`) with the same loop as the
//! isolated sysserver (`lux9_programs::serve`). See docs/ext4srv.md.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;

use ext4srv::Ext4Fs;
use lux9_programs::args::Usage;
use lux9_programs::ringdev::{self, RingDevice};
use lux9_programs::{cli, serve, volume};
use lux9_rt::{eprintln, println};

lux9_rt::entry!(run);

const USAGE: Usage = Usage {
    name: "ext4srv",
    synopsis: "DEVICE",
    about: "Serves the ext4 filesystem on DEVICE (/dev/sdN/data, /dev/sdN/pM or the same for \
            rd0), read-only, as the file server ext4.<disk><partition>; `mount ext4 PATH \
            DEVICE` starts it and mounts it. Prints why and exits 1 if DEVICE holds no ext4 \
            filesystem it can serve.",
    flags: &[],
    values: &[],
};

/// The block cache: 3.75 MiB of the volume's blocks (segmented LRU), in the block ring's data
/// region, where the disk writes them by DMA (see `lux9_programs::ringdev`).
const CACHE_BYTES: usize = ringdev::CACHE_PAGES * 4096;

fn run(args: &str) -> i32 {
    let options = match cli::options(args, &USAGE) {
        Ok(options) => options,
        Err(code) => return code,
    };
    let [device] = options.operands.as_slice() else {
        return cli::usage_error(&USAGE, "one DEVICE is needed");
    };
    match open(device) {
        Ok((service, fs)) => {
            println!(
                "ext4srv: {device}: {} blocks of {} bytes, served as {service}",
                fs.geometry().blocks_count,
                fs.geometry().block_size
            );
            serve::run("ext4srv", &service, serve::MAX_MSIZE, || fs.clone())
        }
        Err(why) => {
            eprintln!("ext4srv: {device}: {why}");
            1
        }
    }
}

fn open(device: &str) -> Result<(String, Ext4Fs), String> {
    let volume = volume::find(device)?;
    let ring = RingDevice::open(
        volume.disk_number,
        volume.part,
        volume.sector_size,
        volume.sectors,
    )?;
    let fs = Ext4Fs::open(Box::new(ring), CACHE_BYTES).map_err(|e| format!("{e}"))?;
    Ok((volume.service(), fs))
}
