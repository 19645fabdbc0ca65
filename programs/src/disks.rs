//! The kernel's list of block devices (`sysinfo(Disks)`), as the isolated sysserver reads it:
//! one line per disk, `name`, sectors, sector size, `ro`/`rw`, driver, partitions
//! (`number:first:count` by commas) and model, by tabs.

use alloc::string::ToString;
use alloc::vec::Vec;

use sysserver::DiskInfo;

/// Parses the kernel's text; a malformed line is left out.
pub fn parse(text: &str) -> Vec<DiskInfo> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.splitn(7, '\t');
            let name = fields.next()?.to_string();
            let sectors = fields.next()?.parse().ok()?;
            let sector_size = fields.next()?.parse().ok()?;
            let read_only = match fields.next()? {
                "ro" => true,
                "rw" => false,
                _ => return None,
            };
            let driver = fields.next()?.to_string();
            let partitions = fields
                .next()?
                .split(',')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let mut numbers = p.split(':').map(|n| n.parse::<u64>().ok());
                    let number = u32::try_from(numbers.next()??).ok()?;
                    Some((number, numbers.next()??, numbers.next()??))
                })
                .collect::<Option<Vec<_>>>()?;
            let model = fields.next()?.to_string();
            (!name.is_empty()).then_some(DiskInfo {
                name,
                model,
                driver,
                sector_size,
                sectors,
                read_only,
                partitions,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_disks_and_bad_lines_are_left_out() {
        let disks = parse(
            "rd0\t4096\t512\tro\tbootmodule\t1:2048:1024,2:3072:1024\tboot-module disk\n\
             sd0\t8\t4096\trw\tvirtio-blk\t\tQEMU HARDDISK\n\
             bad\tx\t512\tro\td\t\tm\n\
             bad2\t1\t512\tmaybe\td\t\tm\n\
             bad3\t1\t512\tro\td\t1:2\tm\n\
             short\t1\t512\n",
        );
        assert_eq!(
            disks,
            [
                DiskInfo {
                    name: "rd0".into(),
                    model: "boot-module disk".into(),
                    driver: "bootmodule".into(),
                    sector_size: 512,
                    sectors: 4096,
                    read_only: true,
                    partitions: vec![(1, 2048, 1024), (2, 3072, 1024)],
                },
                DiskInfo {
                    name: "sd0".into(),
                    model: "QEMU HARDDISK".into(),
                    driver: "virtio-blk".into(),
                    sector_size: 4096,
                    sectors: 8,
                    read_only: false,
                    partitions: Vec::new(),
                },
            ]
        );
        assert_eq!(disks[1].size(), 32768);
        assert!(parse("").is_empty());
    }
}
