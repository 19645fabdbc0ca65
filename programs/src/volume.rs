//! Which disk or partition a device path names (`/dev/sd0/p1`, `/dev/sd0/data`, `/dev/rd0/p2`),
//! as `mount ext4` and `ext4srv` take it, and the service name its ext4srv serves under.

use alloc::format;
use alloc::string::String;

use sysserver::DiskInfo;

/// A disk or one of its partitions, found in the kernel's disk list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Volume {
    /// The disk's name (`sd0`).
    pub disk: String,
    /// Its number in the kernel's list (`SysInfo::Disks`, the block calls' `disk`).
    pub disk_number: usize,
    /// The partition (as in the table), or 0 for the whole disk.
    pub part: u32,
    pub sector_size: u32,
    /// Sectors of the partition (or of the disk).
    pub sectors: u64,
}

impl Volume {
    /// The file server's name: `ext4.sd0` for a whole disk, `ext4.sd0p1` for a partition.
    pub fn service(&self) -> String {
        if self.part == 0 {
            format!("ext4.{}", self.disk)
        } else {
            format!("ext4.{}p{}", self.disk, self.part)
        }
    }
}

/// Splits `/dev/DISK/data` or `/dev/DISK/pN` into the disk's name and the partition (0 for
/// `data`).
pub fn parse(path: &str) -> Result<(&str, u32), String> {
    const EXPECTED: &str = "not a disk: expected /dev/DISK/data or /dev/DISK/pN";
    let rest = path.strip_prefix("/dev/").ok_or(EXPECTED)?;
    let (disk, file) = rest.split_once('/').ok_or(EXPECTED)?;
    if disk.is_empty() || !disk.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!("'{disk}' is not a disk name"));
    }
    let part = match file {
        "data" => 0,
        _ => file
            .strip_prefix('p')
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|&n| n > 0 && !file[1..].starts_with('0'))
            .ok_or_else(|| format!("'{file}' is not data or a partition pN"))?,
    };
    Ok((disk, part))
}

/// The volume `path` names among `disks` (the kernel's list, in its order).
pub fn find_in(disks: &[DiskInfo], path: &str) -> Result<Volume, String> {
    let (name, part) = parse(path)?;
    let (disk_number, disk) = disks
        .iter()
        .enumerate()
        .find(|(_, d)| d.name == name)
        .ok_or_else(|| format!("no such disk {name}"))?;
    let sectors = if part == 0 {
        disk.sectors
    } else {
        disk.partitions
            .iter()
            .find(|(n, _, _)| *n == part)
            .map(|&(_, _, count)| count)
            .ok_or_else(|| format!("{name} has no partition {part}"))?
    };
    Ok(Volume {
        disk: name.into(),
        disk_number,
        part,
        sector_size: disk.sector_size,
        sectors,
    })
}

/// The volume `path` names, from the kernel's disk list.
pub fn find(path: &str) -> Result<Volume, String> {
    let text = lux9_rt::sys::sysinfo_text(lux9_rt::abi::sysinfo::SysInfo::Disks, 0)
        .map_err(|e| format!("cannot list the disks: {e}"))?;
    find_in(&crate::disks::parse(&text), path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disks() -> alloc::vec::Vec<DiskInfo> {
        let disk = |name: &str, partitions| DiskInfo {
            name: name.into(),
            model: "m".into(),
            driver: "d".into(),
            sector_size: 512,
            sectors: 4096,
            read_only: false,
            partitions,
        };
        alloc::vec![
            disk("rd0", alloc::vec![]),
            disk("sd0", alloc::vec![(1, 2048, 1024), (5, 3072, 512)]),
        ]
    }

    #[test]
    fn paths_name_disks_and_partitions() {
        assert_eq!(parse("/dev/sd0/data"), Ok(("sd0", 0)));
        assert_eq!(parse("/dev/sd12/p3"), Ok(("sd12", 3)));
        for bad in [
            "sd0",
            "/dev/sd0",
            "/dev/sd0/",
            "/dev/sd0/p0",
            "/dev/sd0/p01",
            "/dev/sd0/px",
            "/dev/sd0/ctl",
            "/dev//data",
            "/dev/s d/data",
            "/mnt/sd0/data",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn volumes_are_found_with_their_size_and_service() {
        let v = find_in(&disks(), "/dev/sd0/p5").unwrap();
        assert_eq!((v.disk_number, v.part, v.sectors), (1, 5, 512));
        assert_eq!(v.service(), "ext4.sd0p5");
        let whole = find_in(&disks(), "/dev/rd0/data").unwrap();
        assert_eq!((whole.disk_number, whole.sectors), (0, 4096));
        assert_eq!(whole.service(), "ext4.rd0");
        assert_eq!(
            find_in(&disks(), "/dev/sd1/data").unwrap_err(),
            "no such disk sd1"
        );
        assert_eq!(
            find_in(&disks(), "/dev/sd0/p2").unwrap_err(),
            "sd0 has no partition 2"
        );
    }
}
