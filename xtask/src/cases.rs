//! The cases each in-QEMU scenario must report, kept on the host: a case that stops running, or
//! one nobody listed, fails `cargo xtask test` instead of quietly changing the count.
//!
//! Adding a case is one line here next to its line in the guest's `cases` array (host tests below
//! check that the two lists and docs/testing.md agree).

/// `test=kernel`: the `cases` array of `kernel/src/ktest.rs`, in its order.
pub const KERNEL: &[&str] = &[
    "frames_never_overlap_reserved",
    "frames_reject_double_free",
    "paging_map_unmap",
    "kernel_sections_least_privilege",
    "heap_many_sizes",
    "heap_grows_beyond_first_region",
    "heap_counts_bytes_in_use",
    "timer_ticks_arrive",
    "ioapic_routes_pit_irq0",
    "pci_buses_are_enumerated",
    "boot_module_disk_reads_back",
    "breakpoint_returns_registers_intact",
    "boot_info_survives",
    "kernel_thread_runs_in_its_own_address_space",
    "processes_10000_created_and_destroyed_without_leaks",
    "bad_programs_are_refused",
];

/// `test=user`: the `cases` array of `programs/src/bin/utest.rs`, in its order.
pub const USER: &[&str] = &[
    "user_cannot_touch_kernel_memory",
    "faults_kill_only_the_faulting_process",
    "bad_pointers_return_errors",
    "memory_maps_and_unmaps",
    "sleep_sleeps",
    "switches_are_counted",
    "spinning_process_does_not_starve_another",
    "higher_priority_is_not_preempted_by_lower",
    "fpu_state_survives_switches",
    "random_syscalls_100000_leave_the_kernel_running",
    "ipc_fastpath_and_slowpath_agree",
    "every_fastpath_guard_falls_back_to_the_slowpath",
    "ipc_long_messages_are_copied",
    "ipc_sends_queue_in_order",
    "ipc_dead_peers_wake_callers_with_errors",
    "futex_works_across_address_spaces",
    "rings_are_reclaimed_without_leaks",
    "rings_carry_requests_and_count_them",
    "a_hostile_ring_peer_crashes_nobody",
    "ring_notifications_reach_a_receiving_server",
    "sysserver_serves_concurrent_clients",
    "a_disk_reads_through_dev",
    "a_block_ring_reads_and_refuses_bad_requests",
    "a_hostile_block_ring_peer_crashes_nobody",
    "a_block_ring_completes_asynchronously",
    "kill_ends_a_process_in_every_kind_of_wait",
    "a_reply_to_a_killed_caller_is_peer_dead",
    "a_killed_server_fails_its_blocked_caller_at_once",
    "orphans_are_freed_when_they_end",
    "pipes_carry_bytes_with_backpressure",
    "a_pipe_without_readers_is_broken",
    "the_tools_answer_help",
    "a_killed_isolated_sysserver_comes_back",
];

/// `test=disks`: `CASES` in `kernel/src/ktest/disks.rs`, run once per disk bus.
pub const DISKS: &[&str] = &[
    "pattern_disk_reads_back_through_its_driver",
    "scratch_disk_gpt_partitions_are_found",
    "many_requests_in_flight_at_once",
    "scratch_disk_writes_read_back",
    "bad_requests_are_refused",
    "a_user_server_reads_and_writes_through_a_block_ring",
    "an_ext4_partition_mounts_and_every_file_reads_back",
    "a_killed_ext4srv_fails_its_clients_and_comes_back",
    "an_ext4_read_the_disk_fails_gets_an_error",
    "a_device_that_does_not_answer_times_out",
];

/// `test=ext4-faults`: `CASES` in `kernel/src/ktest/ext4_faults.rs`.
pub const EXT4_FAULTS: &[&str] = &[
    "an_ext4_volume_on_the_boot_module_disk_reads_back",
    "damaged_ext4_volumes_give_errors_not_crashes",
];

/// The scenarios that report cases, with their lists.
pub const SCENARIOS: [(&str, &[&str]); 4] = [
    ("kernel", KERNEL),
    ("user", USER),
    ("disks", DISKS),
    ("ext4-faults", EXT4_FAULTS),
];

/// The cases `scenario` must report.
pub fn expected(scenario: &str) -> &'static [&'static str] {
    SCENARIOS
        .iter()
        .find(|(name, _)| *name == scenario)
        .map_or(&[], |(_, cases)| cases)
}

/// How the reported case names differ from the expected ones: (missing, unexpected, reported
/// more than once), each in the order met.
pub fn differences<'a>(
    expected: &[&'a str],
    reported: &[&'a str],
) -> (Vec<&'a str>, Vec<&'a str>, Vec<&'a str>) {
    let missing = expected
        .iter()
        .filter(|name| !reported.contains(name))
        .copied()
        .collect();
    let unexpected = reported
        .iter()
        .filter(|name| !expected.contains(name))
        .copied()
        .collect();
    let mut repeated = Vec::new();
    for (at, name) in reported.iter().enumerate() {
        if reported[..at].contains(name) && !repeated.contains(name) {
            repeated.push(*name);
        }
    }
    (missing, unexpected, repeated)
}

/// The case names in the `let cases: [Case; N] = [ ... ];` (or `const CASES: [Case; N]`)
/// array of a guest source file, and its declared length `N`.
#[cfg(test)]
fn names_in_source(source: &str) -> Result<(Vec<String>, usize), String> {
    let (start, opening) = ["let cases: [Case; ", "CASES: [Case; "]
        .iter()
        .find_map(|opening| source.find(opening).map(|at| (at, opening.len())))
        .ok_or("no `let cases: [Case; N]` array")?;
    let rest = &source[start + opening..];
    let (length, rest) = rest.split_once(']').ok_or("unterminated array type")?;
    let length: usize = length
        .trim()
        .parse()
        .map_err(|_| format!("array length {length:?}"))?;
    let body = &rest[..rest.find("];").ok_or("unterminated cases array")?];
    // The names are the array's only string literals (the functions are paths).
    let names = body
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    Ok((names, length))
}

/// The case names a Markdown file lists for `scenario`: the bullets that start with a
/// backquoted name between `<!-- cases: SCENARIO -->` and the next `<!-- end cases -->`.
#[cfg(test)]
fn names_in_doc(doc: &str, scenario: &str) -> Result<Vec<String>, String> {
    let open = format!("<!-- cases: {scenario} -->");
    let start = doc.find(&open).ok_or(format!("no {open:?} marker"))? + open.len();
    let end = doc[start..]
        .find("<!-- end cases -->")
        .ok_or(format!("no end marker after {open:?}"))?;
    Ok(doc[start..start + end]
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("- `"))
        .filter_map(|rest| rest.split_once('`'))
        .map(|(name, _)| name.to_string())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(path: &str) -> String {
        let path = crate::root().join(path);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn the_guests_run_exactly_the_listed_cases() {
        for (scenario, source) in [
            ("kernel", "kernel/src/ktest.rs"),
            ("user", "programs/src/bin/utest.rs"),
            ("disks", "kernel/src/ktest/disks.rs"),
            ("ext4-faults", "kernel/src/ktest/ext4_faults.rs"),
        ] {
            let (names, length) = names_in_source(&read(source)).unwrap();
            assert_eq!(names.len(), length, "{source}: names vs declared length");
            assert_eq!(
                names,
                expected(scenario),
                "{source}'s cases differ from xtask/src/cases.rs ({scenario})"
            );
        }
    }

    #[test]
    fn docs_list_exactly_the_expected_cases() {
        let doc = read("docs/testing.md");
        for (scenario, cases) in SCENARIOS {
            let listed = names_in_doc(&doc, scenario).unwrap();
            let listed: Vec<&str> = listed.iter().map(String::as_str).collect();
            let (missing, unexpected, repeated) = differences(cases, &listed);
            assert!(
                missing.is_empty() && unexpected.is_empty() && repeated.is_empty(),
                "docs/testing.md, {scenario} cases: missing {missing:?}, not run {unexpected:?}, \
                 listed twice {repeated:?}"
            );
        }
    }

    #[test]
    fn lists_have_no_repeats() {
        for (scenario, cases) in SCENARIOS {
            let (_, _, repeated) = differences(cases, cases);
            assert!(repeated.is_empty(), "{scenario}: {repeated:?}");
        }
    }

    #[test]
    fn differences_name_missing_unexpected_and_repeated_cases() {
        let (missing, unexpected, repeated) =
            differences(&["a", "b", "c"], &["a", "c", "d", "a", "a"]);
        assert_eq!(missing, ["b"]);
        assert_eq!(unexpected, ["d"]);
        assert_eq!(repeated, ["a"]);
        assert_eq!(differences(&["a"], &["a"]), (vec![], vec![], vec![]));
    }

    #[test]
    fn parsers_read_arrays_and_marked_bullets() {
        let source = "fn f() {\n    let cases: [Case; 2] = [\n        (\"one\", one),\n        (\n            \"two\",\n            two_long,\n        ),\n    ];\n    let x = \"after\";\n}";
        assert_eq!(
            names_in_source(source).unwrap(),
            (vec!["one".to_string(), "two".to_string()], 2)
        );
        assert!(names_in_source("no array").is_err());
        let doc = "- `outside`\n<!-- cases: user -->\n- `one` (x)\n  - `two`: y, `not_a_case`\ntext `three`\n<!-- end cases -->\n- `after`";
        assert_eq!(names_in_doc(doc, "user").unwrap(), ["one", "two"]);
        assert!(names_in_doc(doc, "kernel").is_err());
    }
}
