//! `test=ext4-faults`: ext4 volumes that are not ordinary PCI disks. GRUB loads the `disks`
//! scenario's ext4 GPT disk as the boot-module disk `rd0`, and QEMU attaches `sd0`, a GPT disk
//! of damaged ext4 images with an undamaged one last (xtask/src/faults.rs). Both cases run in
//! ring 3 through `mount ext4`, so the same boot checks the isolated ext4srv (`hybrid`) or the
//! kernel's colocated one (`off`), where a panic on a damaged image would be a kernel panic.

use alloc::format;

use super::{Case, CaseResult, utest};
use crate::boot_info::BootInfo;

pub const CASES: [Case; 2] = [
    (
        "an_ext4_volume_on_the_boot_module_disk_reads_back",
        boot_module_volume_reads_back,
    ),
    (
        "damaged_ext4_volumes_give_errors_not_crashes",
        damaged_volumes_give_errors,
    ),
];

/// `utest ext4-volume /dev/rd0/pN MOUNT` for both partitions of the boot-module disk (4 KiB and
/// 1 KiB blocks): each mounts, every file of its `SHA256SUMS` reads back with the host's hash,
/// its `LISTINGS` directories have their counts, and it unmounts (programs/src/bin/utest/ext4.rs).
fn boot_module_volume_reads_back(_: &'static BootInfo) -> CaseResult {
    ensure!(
        crate::block::find("rd0").is_some(),
        "no boot-module disk rd0 (the ISO should carry the ext4 GPT disk)"
    );
    utest("ext4-volume /dev/rd0/p1 /rd0")?;
    utest("ext4-volume /dev/rd0/p2 /rd0-1k")
}

/// `utest ext4-damaged sd0`: every damaged partition mounted or refused, walked within bounds
/// and unmounted, each step within a time limit; then the undamaged one reads back, no server is
/// left and no frame leaked (programs/src/bin/utest/ext4_damaged.rs).
fn damaged_volumes_give_errors(_: &'static BootInfo) -> CaseResult {
    utest("ext4-damaged sd0")
}
