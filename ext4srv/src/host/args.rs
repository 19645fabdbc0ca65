//! The `ext4srv` command line.

use lib9pclient::dial::DialAddress;
use std::path::PathBuf;
use std::string::{String, ToString};

/// The default listen address.
pub const DEFAULT_LISTEN: &str = "tcp!127.0.0.1!5640";
/// The default largest msize: 1 MiB of data per read, plus the 24-byte header.
pub const DEFAULT_MSIZE: u32 = (1 << 20) + 24;

/// Parsed options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// The image file (or block device).
    pub image: PathBuf,
    /// `--partition N`.
    pub partition: Option<u32>,
    /// `--listen ADDR`.
    pub listen: DialAddress,
    /// `--msize BYTES`.
    pub msize: u32,
    /// `--cache MIB`, in bytes.
    pub cache_bytes: usize,
    /// `--list-partitions`.
    pub list_partitions: bool,
    /// `--verbose`.
    pub verbose: bool,
}

/// The `--help` text.
pub fn usage() -> &'static str {
    "usage: ext4srv [options] IMAGE

Serves the ext4 (or ext2/ext3) filesystem in IMAGE, read-only, over 9P2000.

options:
  -l, --listen ADDR      where to listen: unix!PATH or tcp!HOST!PORT
                         (default tcp!127.0.0.1!5640)
  -p, --partition N      serve partition N of a partitioned disk image
                         (MBR: 1-4 primary, 5 and up logical; GPT: entry number)
  -m, --msize BYTES      largest message size to agree to (default 1048600:
                         1 MiB of data per read; at least 4096)
  -c, --cache MIB        block cache size in MiB (default 8; 0 turns it off)
      --list-partitions  print IMAGE's partition table and exit
  -v, --verbose          also log the end of each connection
  -h, --help             print this help

Clients see the image's files with qid.path = inode number and uid/gid as
numbers; symlinks are followed. create, write, remove and wstat fail with
\"read-only file system\". SIGINT or SIGTERM shuts the server down.

example:
  ext4srv --listen 'unix!/tmp/ext4.sock' disk.img &
  9p -a 'unix!/tmp/ext4.sock' ls -l /
"
}

fn number<T: std::str::FromStr>(option: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{option}: '{value}' is not a number"))
}

/// Parses the arguments after the program name. `Ok(None)` means `--help`.
pub fn parse_args<I: IntoIterator<Item = String>>(args: I) -> Result<Option<Args>, String> {
    let mut image = None;
    let mut partition = None;
    let mut listen = DEFAULT_LISTEN.to_string();
    let mut msize = DEFAULT_MSIZE;
    let mut cache_mib: usize = crate::DEFAULT_CACHE_BYTES >> 20;
    let mut list_partitions = false;
    let mut verbose = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |opt: &str| -> Result<String, String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => args.next().ok_or_else(|| format!("{opt} needs a value")),
            }
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(None),
            "-l" | "--listen" => listen = value("--listen")?,
            "-p" | "--partition" => {
                let n: u32 = number("--partition", &value("--partition")?)?;
                if n == 0 {
                    return Err("--partition: partitions are numbered from 1".into());
                }
                partition = Some(n);
            }
            "-m" | "--msize" => {
                msize = number("--msize", &value("--msize")?)?;
                if msize < 4096 {
                    return Err("--msize: at least 4096".into());
                }
            }
            "-c" | "--cache" => {
                cache_mib = number("--cache", &value("--cache")?)?;
                if cache_mib > 1 << 20 {
                    return Err("--cache: at most 1048576 MiB".into());
                }
            }
            "--list-partitions" => list_partitions = true,
            "-v" | "--verbose" => verbose = true,
            s if s.starts_with('-') && s.len() > 1 => return Err(format!("unknown option {s}")),
            _ => {
                if image.is_some() {
                    return Err("only one IMAGE can be served".into());
                }
                image = Some(PathBuf::from(arg));
            }
        }
    }
    let image = image.ok_or("missing IMAGE")?;
    let listen = DialAddress::parse(&listen).map_err(|e| format!("--listen: {e}"))?;
    Ok(Some(Args {
        image,
        partition,
        listen,
        msize,
        cache_bytes: cache_mib << 20,
        list_partitions,
        verbose,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Option<Args>, String> {
        parse_args(line.split_whitespace().map(String::from))
    }

    #[test]
    fn defaults_and_options() {
        let a = parse("disk.img").unwrap().unwrap();
        assert_eq!(a.msize, DEFAULT_MSIZE);
        assert_eq!(a.listen, DialAddress::parse(DEFAULT_LISTEN).unwrap());
        let a = parse("--listen unix!/tmp/s -p 2 --msize=8216 -c 0 -v d.img")
            .unwrap()
            .unwrap();
        assert_eq!(a.listen, DialAddress::Unix("/tmp/s".into()));
        assert_eq!(
            (a.partition, a.msize, a.cache_bytes, a.verbose),
            (Some(2), 8216, 0, true)
        );
        assert!(parse("--help").unwrap().is_none());
    }

    #[test]
    fn usage_errors() {
        for (line, want) in [
            ("", "missing IMAGE"),
            ("a b", "only one"),
            ("-p 0 a", "numbered from 1"),
            ("-p x a", "not a number"),
            ("--msize 100 a", "at least 4096"),
            ("--listen bogus a", "--listen"),
            ("--frob a", "unknown option"),
            ("a --listen", "needs a value"),
        ] {
            let e = parse(line).unwrap_err();
            assert!(e.contains(want), "{line}: {e}");
        }
    }
}
