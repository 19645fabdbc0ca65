//! Damaged ext4 images, shared by ext4srv's host fuzz test (`ext4srv/tests/corrupt.rs`) and the
//! corrupt disk xtask gives the in-QEMU `ext4-faults` scenario: a small fixture tree, where its
//! metadata lies in an image (found with e2fsprogs' `dumpe2fs` and `debugfs`), and seeded random
//! byte flips inside it.
//!
//! A mutation picks one of four kinds of metadata in turn (the superblock, the group
//! descriptors, the first 64 inodes of the inode table, the blocks of the listed directories)
//! and XORs 1-4 random bytes of that kind with a random nonzero mask.

use std::path::Path;
use std::process::Command;

use crate::host_tools;

/// Inodes of the table that mutations reach: the fixture uses fewer.
pub const INODES_MUTATED: usize = 64;

/// The directories of [`write_tree`] whose blocks are mutated.
pub const TREE_DIRS: [&str; 4] = ["/", "/sub", "/sub/inner", "/lost+found"];

/// A xorshift generator: the same seed gives the same mutations on every host.
pub struct Rng(pub u64);

impl Rng {
    /// A generator from `seed` (made odd: xorshift never leaves 0).
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// One kind of metadata and the byte ranges (start, end) it occupies in the image.
pub type Region = (&'static str, Vec<(usize, usize)>);

/// The fixture: a 3-byte file, a 70,000-byte pattern, two directory blocks of 40 files with
/// long names (at 1 KiB blocks), and relative, absolute, dangling and looping symlinks. Fewer
/// than [`INODES_MUTATED`] inodes.
pub fn write_tree(root: &Path) -> Result<(), String> {
    let write = |rel: &str, data: &[u8]| -> Result<(), String> {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("creating {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, data).map_err(|e| format!("writing {}: {e}", path.display()))
    };
    let symlink = |rel: &str, target: &str| -> Result<(), String> {
        std::os::unix::fs::symlink(target, root.join(rel))
            .map_err(|e| format!("making the symlink {rel}: {e}"))
    };
    write("hello", b"hi\n")?;
    let pattern: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    write("sub/pattern.bin", &pattern)?;
    for i in 0..40 {
        write(
            &format!("sub/inner/file number {i:02} with a longer name"),
            format!("{i}\n").as_bytes(),
        )?;
    }
    symlink("sub/rel", "../hello")?;
    symlink("abs", "/sub/inner")?;
    symlink("dangling", "nope")?;
    symlink("loop", "loop")
}

fn tool_output(name: &str, args: &[&str], image: &Path) -> Result<String, String> {
    let program = host_tools::find(name).ok_or(format!(
        "{name} is not installed (Debian package e2fsprogs: apt-get install e2fsprogs)"
    ))?;
    let out = Command::new(program)
        .args(args)
        .arg(image)
        .output()
        .map_err(|e| format!("running {name}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{name} {args:?} {} failed", image.display()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Where the four kinds of metadata lie in the image file `image` (`block` bytes per block, one
/// block group): the superblock, the group descriptors, the first [`INODES_MUTATED`] 256-byte
/// inodes and the blocks of the directories `dirs`.
pub fn regions(image: &Path, block: usize, dirs: &[&str]) -> Result<Vec<Region>, String> {
    let dump = tool_output("dumpe2fs", &[], image)?;
    let range = |key: &str| -> Result<(usize, usize), String> {
        let rest = dump
            .split(key)
            .nth(1)
            .ok_or(format!("dumpe2fs does not say {key:?}"))?;
        let spec = rest.split([',', '\n', ' ']).next().unwrap_or_default();
        let (a, b) = spec.split_once('-').unwrap_or((spec, spec));
        let number = |s: &str| {
            s.parse::<usize>()
                .map_err(|_| format!("dumpe2fs: {key:?} {spec:?}"))
        };
        Ok((number(a)? * block, (number(b)? + 1) * block))
    };
    let (gdt_start, gdt_end) = range("Group descriptors at ")?;
    let (itable, _) = range("Inode table at ")?;
    let mut dir_blocks = Vec::new();
    for dir in dirs {
        let out = tool_output("debugfs", &["-R", &format!("blocks \"{dir}\"")], image)?;
        for b in out.split_whitespace() {
            let b: usize = b
                .parse()
                .map_err(|_| format!("debugfs blocks {dir}: {b:?}"))?;
            dir_blocks.push((b * block, (b + 1) * block));
        }
    }
    if dir_blocks.is_empty() {
        return Err(format!("debugfs found no blocks for {dirs:?}"));
    }
    Ok(vec![
        ("superblock", vec![(1024, 2048)]),
        ("group descriptors", vec![(gdt_start, gdt_end)]),
        ("inodes", vec![(itable, itable + INODES_MUTATED * 256)]),
        ("directory blocks", dir_blocks),
    ])
}

/// Mutation number `case` of `image`: 1-4 bytes of region `case % regions.len()` XORed with
/// random nonzero masks. Returns the region's name and the flips (offset, mask) it made.
pub fn mutate(
    image: &mut [u8],
    regions: &[Region],
    case: usize,
    rng: &mut Rng,
) -> (&'static str, Vec<(usize, u8)>) {
    let (kind, ranges) = &regions[case % regions.len()];
    let mut flips = Vec::new();
    for _ in 0..1 + rng.below(4) {
        let (lo, hi) = ranges[rng.below(ranges.len())];
        let at = lo + rng.below(hi - lo);
        let mask = 1 + rng.below(255) as u8;
        image[at] ^= mask;
        flips.push((at, mask));
    }
    (kind, flips)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_stay_in_their_region_and_repeat_with_the_seed() {
        let regions: Vec<Region> = vec![("a", vec![(10, 20)]), ("b", vec![(100, 110), (200, 201)])];
        let run = |seed| {
            let mut rng = Rng::new(seed);
            (0..50)
                .map(|case| {
                    let mut image = vec![0u8; 256];
                    let (kind, flips) = mutate(&mut image, &regions, case, &mut rng);
                    // The image is the zero image with the flips applied (two may hit one byte).
                    let mut expected = vec![0u8; 256];
                    for &(at, mask) in &flips {
                        assert_ne!(mask, 0);
                        expected[at] ^= mask;
                    }
                    assert_eq!(image, expected);
                    (kind, flips)
                })
                .collect::<Vec<_>>()
        };
        let first = run(7);
        assert_eq!(first, run(7), "the same seed gives the same mutations");
        assert_ne!(first, run(8));
        for (case, (kind, flips)) in first.iter().enumerate() {
            assert_eq!(*kind, if case % 2 == 0 { "a" } else { "b" });
            assert!((1..=4).contains(&flips.len()));
            for (at, _) in flips {
                let inside = match *kind {
                    "a" => (10..20).contains(at),
                    _ => (100..110).contains(at) || *at == 200,
                };
                assert!(inside, "case {case}: {at} outside {kind}");
            }
        }
    }
}
