//! The Debian tools the tests run on the host (e2fsprogs' `mkfs.ext4`, `e2fsck`, `debugfs`,
//! fdisk's `sfdisk`), found on `PATH` or in the sbin directories a user's `PATH` may lack.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where `name` is installed, if it is.
pub fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Writes the partition table that the sfdisk `script` describes onto the disk image `image`
/// (the file must exist at its full size). Nothing else on the image is touched: no signature
/// is wiped, and no kernel is told.
pub fn sfdisk(image: &Path, script: &str) -> Result<(), String> {
    let program = find("sfdisk")
        .ok_or("sfdisk is not installed (Debian package fdisk: apt-get install fdisk)")?;
    let mut child = Command::new(program)
        .args(["--quiet", "--no-reread", "--no-tell-kernel"])
        .args(["--wipe", "never", "--wipe-partitions", "never"])
        .arg(image)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("running sfdisk: {e}"))?;
    child
        .stdin
        .take()
        .ok_or("sfdisk's standard input")?
        .write_all(script.as_bytes())
        .map_err(|e| format!("writing to sfdisk: {e}"))?;
    let status = child.wait().map_err(|e| format!("sfdisk: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "sfdisk {} failed ({status}) on:\n{script}",
            image.display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sfdisk_writes_an_mbr_and_refuses_nonsense() {
        let dir = std::env::temp_dir().join(format!("lux9-host-tools-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let image = dir.join("disk");
        std::fs::File::create(&image)
            .unwrap()
            .set_len(2 << 20)
            .unwrap();
        sfdisk(&image, "label: dos\n2048,100,83\n").unwrap();
        let bytes = std::fs::read(&image).unwrap();
        assert_eq!(&bytes[510..512], &[0x55, 0xaa]);
        // Slot 1: type 0x83, first sector 2048, 100 sectors.
        assert_eq!(bytes[446 + 4], 0x83);
        assert_eq!(&bytes[446 + 8..446 + 12], &2048u32.to_le_bytes());
        assert_eq!(&bytes[446 + 12..446 + 16], &100u32.to_le_bytes());
        assert!(sfdisk(&image, "label: dos\nthis is not a partition\n").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
