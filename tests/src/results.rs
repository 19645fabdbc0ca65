//! Reading test results: the kernel's `ktest:` lines and `cargo test` summaries, and the tally.

use std::fmt;

/// One case as the kernel reported it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelCase {
    pub name: String,
    pub passed: bool,
    /// Why it failed (empty when it passed).
    pub detail: String,
}

/// Parses `ktest: case <name> ... ok` and `ktest: case <name> ... FAILED: <why>` lines.
pub fn kernel_cases(output: &str) -> Vec<KernelCase> {
    output
        .lines()
        .filter_map(|line| line.trim().strip_prefix("ktest: case "))
        .filter_map(|rest| {
            let (name, outcome) = rest.split_once(" ... ")?;
            let (passed, detail) = match outcome.trim() {
                "ok" => (true, String::new()),
                other => (
                    false,
                    other.strip_prefix("FAILED: ").unwrap_or(other).to_string(),
                ),
            };
            Some(KernelCase {
                name: name.trim().to_string(),
                passed,
                detail,
            })
        })
        .collect()
}

/// Parses the kernel's `ktest: result N passed, M failed` line.
pub fn kernel_summary(output: &str) -> Option<(usize, usize)> {
    output.lines().rev().find_map(|line| {
        let rest = line.trim().strip_prefix("ktest: result ")?;
        let (passed, failed) = rest.split_once(" passed, ")?;
        Some((
            passed.parse().ok()?,
            failed.strip_suffix(" failed")?.parse().ok()?,
        ))
    })
}

/// Sums every `test result: ... N passed; M failed; ...` line of `cargo test` output.
pub fn cargo_test_totals(output: &str) -> Option<(usize, usize)> {
    let mut totals: Option<(usize, usize)> = None;
    for line in output.lines() {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            continue;
        };
        let number = |label: &str| -> Option<usize> {
            rest.split(';').find_map(|part| {
                part.trim()
                    .strip_suffix(label)?
                    .trim()
                    .rsplit(' ')
                    .next()?
                    .parse()
                    .ok()
            })
        };
        let (passed, failed) = (number(" passed")?, number(" failed")?);
        let (p, f) = totals.unwrap_or((0, 0));
        totals = Some((p + passed, f + failed));
    }
    totals
}

/// One line of the final report.
#[derive(Clone, Debug)]
pub struct Entry {
    pub group: String,
    pub name: String,
    pub passed: bool,
    pub detail: String,
    /// How many tests the entry stands for (a `cargo test` run counts all of its tests).
    pub count: usize,
    pub failed_count: usize,
}

/// Everything `cargo xtask test` ran.
#[derive(Default, Debug)]
pub struct Tally {
    pub entries: Vec<Entry>,
}

impl Tally {
    /// Records one test.
    pub fn record(&mut self, group: &str, name: &str, passed: bool, detail: impl Into<String>) {
        self.entries.push(Entry {
            group: group.into(),
            name: name.into(),
            passed,
            detail: detail.into(),
            count: 1,
            failed_count: usize::from(!passed),
        });
    }

    /// Records a batch (e.g. one `cargo test` run) of `passed + failed` tests.
    pub fn record_batch(
        &mut self,
        group: &str,
        name: &str,
        passed: usize,
        failed: usize,
        detail: impl Into<String>,
    ) {
        self.entries.push(Entry {
            group: group.into(),
            name: name.into(),
            passed: failed == 0,
            detail: detail.into(),
            count: passed + failed,
            failed_count: failed,
        });
    }

    pub fn passed(&self) -> usize {
        self.entries.iter().map(|e| e.count - e.failed_count).sum()
    }

    pub fn failed(&self) -> usize {
        self.entries.iter().map(|e| e.failed_count).sum()
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for entry in &self.entries {
            let mark = if entry.passed { "ok    " } else { "FAILED" };
            write!(f, "{mark} {:<8} {}", entry.group, entry.name)?;
            if !entry.detail.is_empty() {
                write!(f, "  ({})", entry.detail)?;
            }
            writeln!(f)?;
        }
        write!(f, "{} passed, {} failed", self.passed(), self.failed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KERNEL: &str = "lux9: ready\nktest: case frames ... ok\nktest: case heap ... FAILED: a 16-byte block was overwritten\nnoise ktest: case x\nktest: result 1 passed, 1 failed\n";

    #[test]
    fn reads_kernel_cases() {
        let cases = kernel_cases(KERNEL);
        assert_eq!(cases.len(), 2);
        assert_eq!(
            cases[0],
            KernelCase {
                name: "frames".into(),
                passed: true,
                detail: String::new()
            }
        );
        assert!(!cases[1].passed);
        assert_eq!(cases[1].detail, "a 16-byte block was overwritten");
        assert_eq!(kernel_summary(KERNEL), Some((1, 1)));
        assert_eq!(
            kernel_summary("ktest: case a ... ok\n"),
            None,
            "no summary: the kernel died"
        );
    }

    #[test]
    fn sums_cargo_test_results() {
        let output = "test result: ok. 22 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.12s\n\
                      test result: FAILED. 3 passed; 2 failed; 1 ignored; 0 measured; 0 filtered out\n";
        assert_eq!(cargo_test_totals(output), Some((25, 2)));
        assert_eq!(cargo_test_totals("error: could not compile"), None);
    }

    #[test]
    fn tally_counts_batches_and_single_tests() {
        let mut tally = Tally::default();
        tally.record_batch("host", "cargo test", 30, 1, "");
        tally.record("boot", "q35-bios", true, "ready after 1.2 s");
        tally.record("qemu", "pagefault", false, "timed out");
        assert_eq!((tally.passed(), tally.failed()), (31, 2));
        let text = tally.to_string();
        assert!(text.ends_with("31 passed, 2 failed"));
        assert!(text.contains("FAILED qemu     pagefault  (timed out)"));
    }
}
