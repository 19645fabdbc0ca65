//! Tests of the `/proc` text parsers, on the texts sysserver produces and variations of them.

use super::*;
use crate::format::Table;

#[test]
fn pairs_split_at_the_first_space() {
    assert_eq!(
        pairs("name sh\n\n  memory 120 KiB  \nlonely\n"),
        [("name", "sh"), ("memory", "120 KiB"), ("lonely", "")]
    );
}

#[test]
fn status_with_memory_or_pages() {
    let status = ProcStatus::parse(
        "pid 2\nname sh\nstate blocked\nparent 1\nswitches 20\npages 6\npriority 2\n",
    );
    assert_eq!(
        status,
        ProcStatus {
            name: "sh".into(),
            state: "blocked".into(),
            parent: "1".into(),
            switches: "20".into(),
            memory: "24 KiB".into(),
            priority: "2".into(),
        }
    );
    let status = ProcStatus::parse("name ls\nmemory 120 KiB\npages 6\nextra field\n");
    assert_eq!(status.memory, "120 KiB", "memory wins over pages");
    assert_eq!((status.state.as_str(), status.parent.as_str()), ("?", "?"));
    assert_eq!(ProcStatus::parse("").name, "?");
}

#[test]
fn cmdline_without_environment_and_name() {
    assert_eq!(cmdline_args("sh -i\n", "sh"), "-i");
    assert_eq!(cmdline_args("ls -l /proc\n", "ls"), "-l /proc");
    assert_eq!(cmdline_args("init\n", "init"), "");
    assert_eq!(cmdline_args("-l /proc", "ls"), "-l /proc", "arguments only");
    assert_eq!(cmdline_args("lsx a", "ls"), "lsx a");
    assert_eq!(cmdline_args("\x01PWD=/\x02STDIN=/f\x03cat -\n", "cat"), "-");
    assert_eq!(cmdline_args("", "x"), "");
}

#[test]
fn ps_rows_make_a_table() {
    let mut table = Table::new(&PS_HEADER, &PS_RIGHT);
    let init = ProcStatus::parse(
        "pid 1\nname init\nstate running\nparent 0\nswitches 10\npages 3\npriority 2\n",
    );
    let sh = ProcStatus::parse(
        "pid 12\nname sh\nstate blocked\nparent 1\nswitches 1234\nmemory 96 KiB\n",
    );
    table.row(ps_row(1, &init, "init\n"));
    table.row(ps_row(12, &sh, "sh -c 'ls -l'\n"));
    assert_eq!(
        table.render(),
        "PID  PPID  STATE    SWITCHES  MEMORY  NAME  ARGS\n\
         \x20 1     0  running        10  12 KiB  init\n\
         \x2012     1  blocked      1234  96 KiB  sh    -c 'ls -l'\n"
    );
}

#[test]
fn pids_are_the_numeric_names_in_order() {
    assert_eq!(
        pids(&["12", "ipcstats", "2", "meminfo", "", "1x", "1"]),
        [1, 2, 12]
    );
}

#[test]
fn ipcstats_as_sysserver_writes_it() {
    let text = "total_switches 101\nfastpath_hits 102\navg_batch_size_x100 107\n\
                colocated_calls 77\n";
    let stats = counters(text);
    let keys: Vec<&str> = stats.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "total_switches",
            "fastpath_hits",
            "avg_batch_size_x100",
            "colocated_calls"
        ]
    );
    assert_eq!(stats[0].1, "101");
    // A process's file has the same lines, without colocated_calls.
    assert_eq!(
        counters("total_switches 11\nfastpath_hits 12\n"),
        [
            ("total_switches".to_string(), "11".to_string()),
            ("fastpath_hits".to_string(), "12".to_string())
        ]
    );
}

#[test]
fn ipcstats_headings_and_noise() {
    let text = "system\ntotal_switches: 9\n\n  fastpath_hits 4\nx 1 2\n";
    assert_eq!(
        counters(text),
        [
            ("total_switches".to_string(), "9".to_string()),
            ("fastpath_hits".to_string(), "4".to_string()),
            ("x".to_string(), "1 2".to_string())
        ]
    );
    assert_eq!(counters(""), Counters::new());
}

#[test]
fn scaled_counters_read_as_decimals() {
    assert_eq!(
        readable_counter("avg_batch_size_x100", "107"),
        ("avg_batch_size".to_string(), "1.07".to_string())
    );
    assert_eq!(
        readable_counter("avg_batch_size_x100", "5"),
        ("avg_batch_size".to_string(), "0.05".to_string())
    );
    assert_eq!(
        readable_counter("avg_x100", "n/a"),
        ("avg_x100".to_string(), "n/a".to_string())
    );
    assert_eq!(
        readable_counter("batches", "3"),
        ("batches".to_string(), "3".to_string())
    );
}

#[test]
fn uptime_parses_and_formats() {
    assert_eq!(parse_uptime("12.345\n"), Some(12_345));
    assert_eq!(parse_uptime("0.005"), Some(5));
    assert_eq!(parse_uptime("62.3"), Some(62_300));
    assert_eq!(parse_uptime("7"), Some(7_000));
    assert_eq!(parse_uptime("1.23456"), Some(1_234));
    assert_eq!(parse_uptime(""), None);
    assert_eq!(parse_uptime(".5"), None);
    assert_eq!(parse_uptime("1.2x"), None);
    assert_eq!(parse_uptime("-1.0"), None);
    assert_eq!(parse_uptime("99999999999999999999.0"), None);
    assert_eq!(format_uptime(62_345), "up 0:01:02.345 (62.345 s)");
    assert_eq!(format_uptime(5), "up 0:00:00.005 (0.005 s)");
    assert_eq!(format_uptime(90_061_001), "up 25:01:01.001 (90061.001 s)");
}

#[test]
fn mounts_table() {
    let rows = mount_rows("/dev sysserver dev colocated\n/ext ext4srv\n\nbroken\n");
    assert_eq!(
        rows,
        [
            ["/dev", "sysserver", "dev", "colocated"],
            ["/ext", "ext4srv", "-", "-"]
        ]
    );
}
