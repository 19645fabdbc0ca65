//! lux9-iso: stages the ISO tree and runs grub-mkrescue to make one hybrid BIOS + UEFI image.
//!
//! The tree is `boot/lux9-kernel`, `boot/grub/grub.cfg` (rendered from `grub/grub.cfg`) and any
//! modules under `boot/`. grub-mkrescue adds GRUB for every platform installed on the host; the
//! caller checks that both i386-pc and x86_64-efi are there, so the image boots on both.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Path of the kernel inside the ISO; `grub/grub.cfg` refers to it.
pub const KERNEL_PATH: &str = "/boot/lux9-kernel";

/// A file GRUB loads next to the kernel (`module2` line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Module {
    /// Where the file is on the host.
    pub source: PathBuf,
    /// File name under `/boot/` in the ISO.
    pub name: String,
    /// The module's command line, which the kernel sees (usually its name).
    pub cmdline: String,
}

/// Everything that goes into one ISO.
#[derive(Clone, Debug)]
pub struct IsoSpec {
    pub kernel: PathBuf,
    pub grub_cfg: PathBuf,
    /// Words appended to every `multiboot2` line.
    pub extra_cmdline: Vec<String>,
    pub modules: Vec<Module>,
    /// Scratch directory for the ISO tree (wiped first).
    pub staging: PathBuf,
    pub output: PathBuf,
}

#[derive(Debug)]
pub enum IsoError {
    Io {
        what: String,
        source: io::Error,
    },
    /// A command-line word would break grub.cfg (quotes, braces, semicolons, newlines).
    BadWord(String),
    /// grub.cfg has no `multiboot2` line to add words or modules to.
    NoKernelLine,
    /// grub-mkrescue failed; its output is attached.
    Mkrescue {
        status: String,
        output: String,
    },
}

impl fmt::Display for IsoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IsoError::Io { what, source } => write!(f, "{what}: {source}"),
            IsoError::BadWord(word) => write!(
                f,
                "kernel command-line word {word:?} contains a character GRUB would misread \
                 (quotes, braces, ';', '$', '#', backslash or whitespace)"
            ),
            IsoError::NoKernelLine => write!(f, "grub.cfg has no `multiboot2` line"),
            IsoError::Mkrescue { status, output } => {
                write!(f, "grub-mkrescue failed ({status}):\n{output}")
            }
        }
    }
}

impl std::error::Error for IsoError {}

fn io_error(what: impl Into<String>) -> impl FnOnce(io::Error) -> IsoError {
    let what = what.into();
    move |source| IsoError::Io { what, source }
}

/// Checks that `word` can be pasted into a GRUB command line as is.
pub fn check_word(word: &str) -> Result<(), IsoError> {
    let bad = |c: char| c.is_whitespace() || "\"'{};$#\\|&<>`".contains(c);
    if word.is_empty() || word.chars().any(bad) {
        return Err(IsoError::BadWord(word.to_string()));
    }
    Ok(())
}

/// Renders grub.cfg: appends `extra` to every `multiboot2` line and adds a `module2` line for
/// each module right after it.
pub fn render_grub_cfg(
    template: &str,
    extra: &[String],
    modules: &[Module],
) -> Result<String, IsoError> {
    for word in extra {
        check_word(word)?;
    }
    for module in modules {
        check_word(&module.name)?;
        for word in module.cmdline.split_whitespace() {
            check_word(word)?;
        }
    }
    let mut out = String::with_capacity(template.len() + 256);
    let mut found = false;
    for line in template.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("multiboot2 ") || trimmed == "multiboot2" {
            found = true;
            let indent = &line[..line.len() - trimmed.len()];
            out.push_str(line.trim_end());
            for word in extra {
                out.push(' ');
                out.push_str(word);
            }
            out.push('\n');
            for module in modules {
                out.push_str(&format!(
                    "{indent}module2 /boot/{} {}\n",
                    module.name, module.cmdline
                ));
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    if !found {
        return Err(IsoError::NoKernelLine);
    }
    Ok(out)
}

/// Builds the ISO described by `spec`.
pub fn build(spec: &IsoSpec) -> Result<(), IsoError> {
    let template = fs::read_to_string(&spec.grub_cfg)
        .map_err(io_error(format!("reading {}", spec.grub_cfg.display())))?;
    let grub_cfg = render_grub_cfg(&template, &spec.extra_cmdline, &spec.modules)?;

    if spec.staging.exists() {
        fs::remove_dir_all(&spec.staging)
            .map_err(io_error(format!("clearing {}", spec.staging.display())))?;
    }
    let boot = spec.staging.join("boot");
    let grub_dir = boot.join("grub");
    fs::create_dir_all(&grub_dir).map_err(io_error(format!("creating {}", grub_dir.display())))?;
    copy(
        &spec.kernel,
        &spec.staging.join(KERNEL_PATH.trim_start_matches('/')),
    )?;
    for module in &spec.modules {
        copy(&module.source, &boot.join(&module.name))?;
    }
    fs::write(grub_dir.join("grub.cfg"), grub_cfg)
        .map_err(io_error("writing grub.cfg into the ISO tree"))?;
    if let Some(parent) = spec.output.parent() {
        fs::create_dir_all(parent).map_err(io_error(format!("creating {}", parent.display())))?;
    }

    let output = Command::new("grub-mkrescue")
        .arg("-o")
        .arg(&spec.output)
        .arg(&spec.staging)
        .output()
        .map_err(io_error("running grub-mkrescue"))?;
    if !output.status.success() {
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        return Err(IsoError::Mkrescue {
            status: output.status.to_string(),
            output: text,
        });
    }
    Ok(())
}

fn copy(from: &Path, to: &Path) -> Result<(), IsoError> {
    fs::copy(from, to).map(|_| ()).map_err(io_error(format!(
        "copying {} to {}",
        from.display(),
        to.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = "set timeout=0\nmenuentry \"Lux9\" {\n    multiboot2 /boot/lux9-kernel log=info\n    boot\n}\nmenuentry \"Debug\" {\n    multiboot2 /boot/lux9-kernel log=debug\n}\n";

    #[test]
    fn appends_words_to_every_kernel_line() {
        let out =
            render_grub_cfg(TEMPLATE, &["test=kernel".into(), "log=warn".into()], &[]).unwrap();
        assert!(out.contains("    multiboot2 /boot/lux9-kernel log=info test=kernel log=warn\n"));
        assert!(out.contains("    multiboot2 /boot/lux9-kernel log=debug test=kernel log=warn\n"));
        assert!(out.contains("set timeout=0\n"));
    }

    #[test]
    fn adds_module_lines_after_kernel_lines() {
        let module = Module {
            source: "blob".into(),
            name: "blob.bin".into(),
            cmdline: "lux9-test-blob".into(),
        };
        let out = render_grub_cfg(TEMPLATE, &[], &[module]).unwrap();
        assert!(out.contains("log=info\n    module2 /boot/blob.bin lux9-test-blob\n    boot\n"));
        assert_eq!(out.matches("module2").count(), 2);
    }

    #[test]
    fn rejects_words_that_break_grub_syntax() {
        for bad in ["a b", "x;reboot", "\"q\"", "{", "$var", "", "a\nb", "c#d"] {
            assert!(
                render_grub_cfg(TEMPLATE, &[bad.into()], &[]).is_err(),
                "{bad:?} accepted"
            );
        }
        assert!(
            render_grub_cfg(TEMPLATE, &["log=debug".into(), "a.b/c-d_e,f:g".into()], &[]).is_ok()
        );
    }

    #[test]
    fn template_without_kernel_line_is_an_error() {
        assert!(matches!(
            render_grub_cfg("set timeout=0\n", &[], &[]),
            Err(IsoError::NoKernelLine)
        ));
    }

    #[test]
    fn the_real_grub_cfg_has_kernel_lines() {
        let template =
            fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../grub/grub.cfg")).unwrap();
        let out = render_grub_cfg(&template, &["test=kernel".into()], &[]).unwrap();
        assert!(
            out.lines()
                .filter(|l| l.trim_start().starts_with("multiboot2 "))
                .all(|l| l.ends_with(" test=kernel"))
        );
        assert!(out.contains(KERNEL_PATH));
    }
}
