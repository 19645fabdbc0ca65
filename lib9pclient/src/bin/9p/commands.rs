//! The `9p` commands: ls, read, write, create, rm, stat.

use crate::format::{long_line, stat_line};
use crate::{Failure, Tree};
use lib9pclient::codec::{DMDIR, OREAD, OTRUNC, OWRITE};
use std::io::{Read, Write};

pub enum Command {
    Ls {
        long: bool,
        directory: bool,
        paths: Vec<String>,
    },
    Read(String),
    Write(String),
    Create {
        directory: bool,
        paths: Vec<String>,
    },
    Rm(Vec<String>),
    Stat(Vec<String>),
}

/// Splits leading single-letter flags from operands.
fn flags(args: Vec<String>, allowed: &str, cmd: &str) -> Result<(String, Vec<String>), Failure> {
    let mut set = String::new();
    let mut rest = Vec::new();
    let mut operands = false;
    for a in args {
        if !operands && a == "--" {
            operands = true;
        } else if !operands && a.len() > 1 && a.starts_with('-') {
            for c in a[1..].chars() {
                if !allowed.contains(c) {
                    return Err(Failure::usage(format!("9p: {cmd}: unknown flag -{c}")));
                }
                set.push(c);
            }
        } else {
            operands = true;
            rest.push(a);
        }
    }
    Ok((set, rest))
}

fn one(cmd: &str, mut paths: Vec<String>) -> Result<String, Failure> {
    match paths.len() {
        1 => Ok(paths.remove(0)),
        0 => Err(Failure::usage(format!("9p: {cmd}: missing path"))),
        _ => Err(Failure::usage(format!("9p: {cmd}: takes exactly one path"))),
    }
}

fn some(cmd: &str, paths: Vec<String>) -> Result<Vec<String>, Failure> {
    if paths.is_empty() {
        Err(Failure::usage(format!("9p: {cmd}: missing path")))
    } else {
        Ok(paths)
    }
}

fn out_err(e: std::io::Error) -> Failure {
    Failure::op(format!("9p: standard output: {e}"))
}

impl Command {
    pub fn parse(cmd: &str, args: Vec<String>) -> Result<Self, Failure> {
        Ok(match cmd {
            "ls" => {
                let (f, paths) = flags(args, "ld", cmd)?;
                Command::Ls {
                    long: f.contains('l'),
                    directory: f.contains('d'),
                    paths: some(cmd, paths)?,
                }
            }
            "read" => Command::Read(one(cmd, flags(args, "", cmd)?.1)?),
            "write" => Command::Write(one(cmd, flags(args, "", cmd)?.1)?),
            "create" => {
                let (f, paths) = flags(args, "d", cmd)?;
                Command::Create {
                    directory: f.contains('d'),
                    paths: some(cmd, paths)?,
                }
            }
            "rm" => Command::Rm(some(cmd, flags(args, "", cmd)?.1)?),
            "stat" => Command::Stat(some(cmd, flags(args, "", cmd)?.1)?),
            other => return Err(Failure::usage(format!("9p: unknown command '{other}'"))),
        })
    }

    pub fn run(self, fs: &Tree) -> Result<(), Failure> {
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        // Keep going after a failing path, as ls(1) and rm(1) do; report all.
        let mut failed: Vec<String> = Vec::new();
        match self {
            Command::Ls {
                long,
                directory,
                paths,
            } => {
                for p in &paths {
                    match list(fs, p, directory) {
                        Ok(entries) => {
                            for d in entries {
                                let line = if long { long_line(&d) } else { d.name.clone() };
                                writeln!(out, "{line}").map_err(out_err)?;
                            }
                        }
                        Err(e) => failed.push(format!("9p: ls {p}: {e}")),
                    }
                }
            }
            Command::Read(p) => read(fs, &p, &mut out)?,
            Command::Write(p) => write(fs, &p)?,
            Command::Create { directory, paths } => {
                let (perm, mode) = if directory {
                    (DMDIR | 0o777, OREAD)
                } else {
                    (0o666, OWRITE)
                };
                for p in &paths {
                    if let Err(e) = fs.create(p, perm, mode).and_then(|f| f.close()) {
                        failed.push(format!("9p: create {p}: {e}"));
                    }
                }
            }
            Command::Rm(paths) => {
                for p in &paths {
                    if let Err(e) = fs.remove(p) {
                        failed.push(format!("9p: rm {p}: {e}"));
                    }
                }
            }
            Command::Stat(paths) => {
                for p in &paths {
                    match fs.stat(p) {
                        Ok(d) => writeln!(out, "{}", stat_line(&d)).map_err(out_err)?,
                        Err(e) => failed.push(format!("9p: stat {p}: {e}")),
                    }
                }
            }
        }
        out.flush().map_err(out_err)?;
        if failed.is_empty() {
            Ok(())
        } else {
            Err(Failure::op(failed.join("\n")))
        }
    }
}

fn list(
    fs: &Tree,
    path: &str,
    directory: bool,
) -> Result<Vec<lib9pclient::Dir>, lib9pclient::Error> {
    let d = fs.stat(path)?;
    if !d.is_dir() || directory {
        return Ok(vec![d]);
    }
    let mut entries = fs.read_dir(path)?;
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

fn read(fs: &Tree, path: &str, out: &mut impl Write) -> Result<(), Failure> {
    let fail = |e: lib9pclient::Error| Failure::op(format!("9p: read {path}: {e}"));
    let mut f = fs.open(path, OREAD).map_err(fail)?;
    if f.qid().is_dir() {
        return Err(Failure::op(format!(
            "9p: read {path}: is a directory (use ls)"
        )));
    }
    let mut io_error = None;
    f.read_each(|data| match out.write_all(data) {
        Ok(()) => true,
        Err(e) => {
            io_error = Some(e);
            false
        }
    })
    .map_err(fail)?;
    match io_error {
        Some(e) => Err(out_err(e)),
        None => Ok(()),
    }
}

fn write(fs: &Tree, path: &str) -> Result<(), Failure> {
    let fail = |e: lib9pclient::Error| Failure::op(format!("9p: write {path}: {e}"));
    let mut f = fs.open(path, OWRITE | OTRUNC).map_err(fail)?;
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Failure::op(format!("9p: standard input: {e}"))),
        };
        f.write_all(&buf[..n]).map_err(fail)?;
    }
    f.close().map_err(fail)
}
