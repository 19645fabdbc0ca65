//! The `9p` binary against the in-memory test server, over TCP and over a
//! Unix socket.

use lib9pclient::MemFs;
use lib9pclient::server::net::{Shared, serve_tcp, serve_unix};
use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

fn tree() -> Shared<MemFs> {
    let mut fs = MemFs::new("glenda");
    fs.set_time(1_700_000_000);
    fs.add_file("/etc/motd", 0o664, b"hello from 9P\n").unwrap();
    fs.add_file("/etc/passwd", 0o444, b"glenda\n").unwrap();
    fs.add_file("/usr/glenda/lib/profile", 0o664, b"").unwrap();
    Shared::new(fs)
}

fn tcp_server() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || serve_tcp(l, tree(), 8192 + 24));
    format!("tcp!127.0.0.1!{}", addr.port())
}

fn unix_server() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "lib9pclient-test-{}-{}.sock",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_file(&path);
    let l = std::os::unix::net::UnixListener::bind(&path).unwrap();
    std::thread::spawn(move || serve_unix(l, tree(), 8192 + 24));
    format!("unix!{}", path.display())
}

fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_9p"))
        .args(args)
        .env_remove("NINEP_ADDRESS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn 9p");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn ok(args: &[&str]) -> String {
    let o = run(args, b"");
    assert!(
        o.status.success(),
        "9p {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.stderr.is_empty(), "9p {args:?} wrote to stderr");
    String::from_utf8(o.stdout).unwrap()
}

/// Runs a failing command; returns its stderr after checking the status.
fn fails(args: &[&str], status: i32) -> String {
    let o = run(args, b"");
    assert_eq!(
        o.status.code(),
        Some(status),
        "9p {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let e = String::from_utf8(o.stderr).unwrap();
    assert!(e.starts_with("9p: "), "message names the tool: {e}");
    e
}

fn exercise(a: &str) {
    assert_eq!(ok(&["-a", a, "ls", "/"]), "etc\nusr\n");
    assert_eq!(ok(&["-a", a, "ls", "/etc/motd"]), "motd\n");
    assert_eq!(ok(&["-a", a, "ls", "-d", "/etc"]), "etc\n");
    let long = ok(&["-a", a, "ls", "-l", "/etc"]);
    assert_eq!(
        long,
        "--rw-rw-r-- glenda glenda       14 2023-11-14 22:13 motd\n\
         --r--r--r-- glenda glenda        7 2023-11-14 22:13 passwd\n"
    );
    assert_eq!(ok(&["-a", a, "read", "/etc/motd"]), "hello from 9P\n");

    // create, write from stdin, read back, stat, rm.
    ok(&["-a", a, "create", "/tmp-file"]);
    let big: Vec<u8> = (0..50_000u32).map(|i| (i % 253) as u8).collect();
    let o = run(&["-a", a, "write", "/tmp-file"], &big);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run(&["-a", a, "read", "/tmp-file"], b"");
    assert!(o.status.success());
    assert_eq!(o.stdout, big);
    let st = ok(&["-a", a, "stat", "/tmp-file"]);
    assert!(
        st.starts_with("'tmp-file' 'glenda' 'glenda' 'glenda' q ("),
        "{st}"
    );
    assert!(st.contains(" m 0664 ") && st.contains(" l 50000 "), "{st}");
    ok(&["-a", a, "create", "-d", "/newdir"]);
    assert!(ok(&["-a", a, "stat", "/newdir"]).contains(" d) m 020000000775 "));
    ok(&["-a", a, "rm", "/tmp-file", "/newdir"]);
    assert_eq!(ok(&["-a", a, "ls", "/"]), "etc\nusr\n");

    // Failures: clear message, non-zero status.
    let e = fails(&["-a", a, "read", "/nope"], 1);
    assert_eq!(e, "9p: read /nope: file does not exist\n");
    let e = fails(&["-a", a, "rm", "/etc/nope", "/usr/nope/x"], 1);
    assert_eq!(
        e,
        "9p: rm /etc/nope: 'nope' file does not exist\n9p: rm /usr/nope/x: 'nope' file does not exist\n"
    );
    let e = fails(&["-a", a, "write", "/etc/passwd"], 1);
    assert_eq!(e, "9p: write /etc/passwd: permission denied\n");
    let e = fails(&["-a", a, "read", "/etc"], 1);
    assert!(e.contains("is a directory"), "{e}");
    let e = fails(&["-a", a, "create", "/etc/motd"], 1);
    assert!(e.contains("file already exists"), "{e}");
    let e = fails(&["-a", a, "-A", "other", "ls", "/"], 1);
    assert!(
        e.contains("attach 'other'") && e.contains("no such tree"),
        "{e}"
    );
}

#[test]
fn over_tcp() {
    exercise(&tcp_server());
}

#[test]
fn over_unix_socket() {
    exercise(&unix_server());
}

#[test]
fn help_and_usage_errors() {
    let o = run(&["-a", "tcp!h!1", "-h"], b"");
    assert!(o.status.success());
    assert_eq!(o.stdout, run(&["--help"], b"").stdout);
    let help = String::from_utf8(o.stdout).unwrap();
    assert!(help.starts_with("usage: 9p [-a address]"));
    for cmd in [
        "ls [-l]",
        "read path",
        "write path",
        "create",
        "rm path",
        "stat path",
    ] {
        assert!(help.contains(cmd), "help mentions {cmd}");
    }
    assert!(fails(&[], 2).contains("no command"));
    assert!(fails(&["-a", "tcp!h!1", "frob", "/x"], 2).contains("unknown command 'frob'"));
    assert!(fails(&["-a", "tcp!h!1", "read"], 2).contains("read: missing path"));
    assert!(fails(&["-a", "tcp!h!1", "read", "a", "b"], 2).contains("exactly one path"));
    assert!(fails(&["-a", "tcp!h!1", "ls", "-x", "/"], 2).contains("unknown flag -x"));
    assert!(fails(&["-a"], 2).contains("-a needs a value"));
    assert!(fails(&["-m", "12", "ls", "/"], 2).contains("bad msize"));
    assert!(fails(&["ls", "/"], 2).contains("no server address"));
}

#[test]
fn connection_failures() {
    assert!(fails(&["-a", "tcp127.0.0.1", "ls", "/"], 1).contains("bad address"));
    assert!(fails(&["-a", "tcp!127.0.0.1!99999", "ls", "/"], 1).contains("port must be"));
    // A port nobody listens on: bind, note it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = fails(&["-a", &format!("tcp!127.0.0.1!{port}"), "ls", "/"], 1);
    assert!(e.contains("cannot connect"), "{e}");
    let e = fails(&["-a", "unix!/nonexistent/sock", "ls", "/"], 1);
    assert!(e.contains("cannot connect"), "{e}");
    // A peer that is not a 9P server: it closes straight away.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in l.incoming().take(1) {
            drop(c);
        }
    });
    let e = fails(&["-a", &format!("tcp!127.0.0.1!{port}"), "ls", "/"], 1);
    assert!(e.contains("version") && e.contains("closed"), "{e}");
}
