//! Plan 9 dial strings: `tcp!host!port` and `unix!path`.

use alloc::string::{String, ToString};
use core::fmt;

/// The 9P port, used when a tcp dial string has none.
pub const DEFAULT_PORT: u16 = 564;

/// A parsed dial string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialAddress {
    /// `tcp!host!port` (also `net!host!port`, and `tcp!host` for port 564).
    Tcp {
        /// Host name or address.
        host: String,
        /// Port number.
        port: u16,
    },
    /// `unix!path`.
    Unix(String),
}

/// Why a dial string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialError(pub String);

impl fmt::Display for DialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl core::error::Error for DialError {}

impl DialAddress {
    /// Parses `tcp!host!port`, `net!host!port`, `tcp!host` or `unix!path`.
    pub fn parse(s: &str) -> Result<Self, DialError> {
        let bad = |why: &str| DialError(alloc::format!("bad address '{s}': {why}"));
        let (net, rest) = s
            .split_once('!')
            .ok_or_else(|| bad("expected tcp!host!port or unix!path"))?;
        match net {
            "tcp" | "net" => {
                let (host, port) = match rest.rsplit_once('!') {
                    Some((h, p)) => {
                        let port = match p {
                            "9fs" | "564" => DEFAULT_PORT,
                            _ => p
                                .parse::<u16>()
                                .ok()
                                .filter(|&p| p != 0)
                                .ok_or_else(|| bad("port must be 1-65535"))?,
                        };
                        (h, port)
                    }
                    None => (rest, DEFAULT_PORT),
                };
                if host.is_empty() || host.contains('!') {
                    return Err(bad("missing host"));
                }
                Ok(Self::Tcp {
                    host: host.to_string(),
                    port,
                })
            }
            "unix" => {
                if rest.is_empty() {
                    return Err(bad("missing socket path"));
                }
                Ok(Self::Unix(rest.to_string()))
            }
            _ => Err(bad("network must be tcp or unix")),
        }
    }
}

impl fmt::Display for DialAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp { host, port } => write!(f, "tcp!{host}!{port}"),
            Self::Unix(p) => write!(f, "unix!{p}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dial_strings() {
        assert_eq!(
            DialAddress::parse("tcp!127.0.0.1!5640"),
            Ok(DialAddress::Tcp {
                host: "127.0.0.1".into(),
                port: 5640
            })
        );
        assert_eq!(
            DialAddress::parse("tcp![::1]!9"),
            Ok(DialAddress::Tcp {
                host: "[::1]".into(),
                port: 9
            })
        );
        assert_eq!(
            DialAddress::parse("tcp!fs"),
            Ok(DialAddress::Tcp {
                host: "fs".into(),
                port: 564
            })
        );
        assert_eq!(
            DialAddress::parse("net!fs!9fs"),
            Ok(DialAddress::Tcp {
                host: "fs".into(),
                port: 564
            })
        );
        assert_eq!(
            DialAddress::parse("unix!/tmp/s"),
            Ok(DialAddress::Unix("/tmp/s".into()))
        );
        for bad in [
            "",
            "tcp",
            "tcp!",
            "tcp!h!0",
            "tcp!h!70000",
            "tcp!h!x",
            "udp!h!1",
            "unix!",
            "/tmp/s",
        ] {
            assert!(DialAddress::parse(bad).is_err(), "{bad} should be rejected");
        }
        assert_eq!(
            DialAddress::parse("tcp!h!7").unwrap().to_string(),
            "tcp!h!7"
        );
    }
}
