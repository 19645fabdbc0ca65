//! Serves an in-memory tree over 9P2000 on a dial-string address, for trying
//! the `9p` tool and for interoperability tests with other 9P clients.
//!
//! cargo run -p lib9pclient --example memsrv -- tcp!127.0.0.1!5640

use lib9pclient::MemFs;
use lib9pclient::dial::DialAddress;
use lib9pclient::server::net::{Shared, serve_tcp};
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(address) = std::env::args().nth(1) else {
        eprintln!("usage: memsrv tcp!host!port | unix!path");
        return ExitCode::from(2);
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0);
    let mut fs = MemFs::new("lux9");
    fs.set_time(now);
    let seeded = fs
        .add_file(
            "/README",
            0o664,
            b"Served by lib9pclient's in-memory test server.\n",
        )
        .and_then(|_| fs.add_file("/tmp/.keep", 0o664, b""));
    if let Err(e) = seeded {
        eprintln!("memsrv: seeding the tree: {e}");
        return ExitCode::FAILURE;
    }
    let fs = Shared::new(fs);
    let r = match DialAddress::parse(&address) {
        Ok(DialAddress::Tcp { host, port }) => {
            let host = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            std::net::TcpListener::bind((host.as_str(), port))
                .and_then(|l| serve_tcp(l, fs, 64 * 1024))
        }
        #[cfg(unix)]
        Ok(DialAddress::Unix(path)) => std::os::unix::net::UnixListener::bind(path)
            .and_then(|l| lib9pclient::server::net::serve_unix(l, fs, 64 * 1024)),
        #[cfg(not(unix))]
        Ok(DialAddress::Unix(_)) => Err(std::io::ErrorKind::Unsupported.into()),
        Err(e) => {
            eprintln!("memsrv: {e}");
            return ExitCode::from(2);
        }
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("memsrv: {address}: {e}");
            ExitCode::FAILURE
        }
    }
}
