//! `9p`: talk to a 9P2000 server from the shell, in the style of plan9port's 9p(1).

mod commands;
mod format;

use lib9pclient::client::DEFAULT_MSIZE;
use lib9pclient::stream::{Connection, StreamTransport, dial};
use lib9pclient::{Client, Fs};
use std::process::ExitCode;

const USAGE: &str = "\
usage: 9p [-a address] [-A aname] [-u uname] [-m msize] command path...

Talks to a 9P2000 file server. Ordinary file I/O goes through standard
input and output.

options:
  -a address   server dial string: tcp!host!port (default port 564) or unix!path;
               defaults to $NINEP_ADDRESS
  -A aname     tree to attach to (default: empty)
  -u uname     user name to attach as (default: $USER, or none)
  -m msize     largest message to negotiate (default 8216)
  -h, --help   print this help

commands:
  ls [-l] [-d] path...   list directories (-l: long form, -d: the directory itself)
  read path              copy the file to standard output
  write path             copy standard input to the file, truncating it first
  create [-d] path...    create empty files (-d: directories)
  rm path...             remove files or empty directories
  stat path...           print the stat of each path

exit status: 0 on success, 1 if an operation failed, 2 on a usage error.
";

/// A failure: the message to print and the exit status.
pub struct Failure {
    pub message: String,
    pub status: u8,
}

impl Failure {
    pub fn usage(what: impl Into<String>) -> Self {
        Self {
            message: format!("{}\n{USAGE}", what.into()),
            status: 2,
        }
    }

    pub fn op(what: impl Into<String>) -> Self {
        Self {
            message: what.into(),
            status: 1,
        }
    }
}

struct Options {
    address: Option<String>,
    aname: String,
    uname: String,
    msize: u32,
}

pub type Tree = Fs<StreamTransport<Connection>>;

fn parse_options(
    args: &mut std::iter::Peekable<std::vec::IntoIter<String>>,
) -> Result<Options, Failure> {
    let mut o = Options {
        address: std::env::var("NINEP_ADDRESS")
            .ok()
            .filter(|a| !a.is_empty()),
        aname: String::new(),
        uname: std::env::var("USER")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "none".into()),
        msize: DEFAULT_MSIZE,
    };
    while let Some(a) = args.peek() {
        if !a.starts_with('-') || a == "-" {
            break;
        }
        let flag = args.next().unwrap_or_default();
        if flag == "--" {
            break;
        }
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| Failure::usage(format!("9p: option {name} needs a value")))
        };
        match flag.as_str() {
            "-h" | "--help" => {
                return Err(Failure {
                    message: USAGE.into(),
                    status: 0,
                });
            }
            "-a" => o.address = Some(value("-a")?),
            "-A" => o.aname = value("-A")?,
            "-u" => o.uname = value("-u")?,
            "-m" => {
                let v = value("-m")?;
                o.msize = v.parse::<u32>().ok().filter(|&m| m >= 256).ok_or_else(|| {
                    Failure::usage(format!(
                        "9p: bad msize '{v}': need a number of at least 256"
                    ))
                })?;
            }
            f => return Err(Failure::usage(format!("9p: unknown option {f}"))),
        }
    }
    Ok(o)
}

fn connect(o: &Options) -> Result<Tree, Failure> {
    let address = o.address.as_deref().ok_or_else(|| {
        Failure::usage(
            "9p: no server address: give -a tcp!host!port or -a unix!path (or set NINEP_ADDRESS)",
        )
    })?;
    let transport = dial(address).map_err(|e| Failure::op(format!("9p: {address}: {e}")))?;
    let client = Client::connect(transport, o.msize)
        .map_err(|e| Failure::op(format!("9p: {address}: version: {e}")))?;
    client.attach(&o.uname, &o.aname).map_err(|e| {
        Failure::op(format!(
            "9p: {address}: attach '{}' as '{}': {e}",
            o.aname, o.uname
        ))
    })
}

fn run(argv: Vec<String>) -> Result<(), Failure> {
    let mut args = argv.into_iter().peekable();
    let options = match parse_options(&mut args) {
        Err(f) if f.status == 0 => {
            print!("{}", f.message);
            return Ok(());
        }
        r => r?,
    };
    let command = args
        .next()
        .ok_or_else(|| Failure::usage("9p: no command"))?;
    let rest: Vec<String> = args.collect();
    // Check the command line before touching the network.
    let cmd = commands::Command::parse(&command, rest)?;
    let fs = connect(&options)?;
    cmd.run(&fs)
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    match run(argv) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprint!("{}", f.message);
            if !f.message.ends_with('\n') {
                eprintln!();
            }
            ExitCode::from(f.status)
        }
    }
}
