//! The `ext4-faults` scenario's disks: a GPT disk of damaged ext4 images (seeded mutations of a
//! small real image, `lux9_tests::ext4_damage`) with an undamaged one last, which the guest
//! mounts, walks and unmounts one by one; and the boot-module disk (`rd0`) that carries the
//! `disks` scenario's ext4 GPT disk.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use lux9_tests::ext4_damage::{self, Rng};

use crate::test::{mkfs_ext4, partitioned_disk, write_sums};

/// Damaged images on the disk: half of them of an image with metadata checksums, half of one
/// without, each half cycling through the four kinds of metadata.
pub const DAMAGED: usize = 32;

/// The mutations' seed: every run damages the same bytes.
pub const SEED: u64 = 0x00c0_1105_ed5e_ed01;

/// Each image's size: 1 KiB blocks, one block group, room for the fixture.
const IMAGE_SIZE: &str = "1M";

/// mkfs.ext4 options of the two bases: with metadata_csum, ext4-view checks each structure
/// mutated here; without, a flip can reach deeper code unchecked.
const BASES: [(&str, &str); 2] = [
    ("checksummed", "metadata_csum,^has_journal"),
    (
        "unchecksummed",
        "^metadata_csum,^metadata_csum_seed,^has_journal",
    ),
];

/// Writes `dir/lux9-corrupt-disk.img`: a GPT with [`DAMAGED`] damaged images as partitions 1 to
/// 32 and the undamaged checksummed image as partition 33; the fixture tree carries
/// `SHA256SUMS` and `LISTINGS` for the guest to check the undamaged one. What each partition's
/// mutation did is written beside it, in `lux9-corrupt-disk.txt`. Returns the disk's path.
pub fn write_corrupt_disk(dir: &Path) -> Result<PathBuf, String> {
    let tree = dir.join("corrupt-tree");
    let _ = std::fs::remove_dir_all(&tree);
    ext4_damage::write_tree(&tree)?;
    let mut files = vec!["hello".to_string(), "sub/pattern.bin".to_string()];
    files.extend((0..40).map(|i| format!("sub/inner/file number {i:02} with a longer name")));
    write_sums(&tree, &files, &[("sub/inner", 40)])?;

    let mut rng = Rng::new(SEED);
    let mut images: Vec<Vec<u8>> = Vec::new();
    let mut manifest = format!("seed {SEED:#x}\n");
    let mut undamaged = Vec::new();
    for (base_number, (name, features)) in BASES.iter().enumerate() {
        let image = dir.join(format!("corrupt-base-{name}.img"));
        let base = mkfs_ext4(&tree, &image, 1024, IMAGE_SIZE, &["-O", features])?;
        let regions = ext4_damage::regions(&image, 1024, &ext4_damage::TREE_DIRS)?;
        for case in 0..DAMAGED / BASES.len() {
            let mut bytes = base.clone();
            let (kind, flips) = ext4_damage::mutate(&mut bytes, &regions, case, &mut rng);
            let _ = writeln!(manifest, "p{} {name} {kind} {flips:?}", images.len() + 1);
            images.push(bytes);
        }
        if base_number == 0 {
            undamaged = base;
        }
    }
    let _ = writeln!(manifest, "p{} checksummed undamaged", images.len() + 1);
    images.push(undamaged);
    let manifest_path = dir.join("lux9-corrupt-disk.txt");
    std::fs::write(&manifest_path, manifest)
        .map_err(|e| format!("writing {}: {e}", manifest_path.display()))?;
    let disk = dir.join("lux9-corrupt-disk.img");
    let slices: Vec<&[u8]> = images.iter().map(Vec::as_slice).collect();
    partitioned_disk(&disk, "gpt", &slices)?;
    Ok(disk)
}
