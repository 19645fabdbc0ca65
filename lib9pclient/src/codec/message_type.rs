//! The type byte of each 9P2000 message.

/// Message type numbers from intro(5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
#[allow(missing_docs, reason = "the names are the protocol's")]
pub enum MessageType {
    Tversion = 100,
    Rversion = 101,
    Tauth = 102,
    Rauth = 103,
    Tattach = 104,
    Rattach = 105,
    Rerror = 107,
    Tflush = 108,
    Rflush = 109,
    Twalk = 110,
    Rwalk = 111,
    Topen = 112,
    Ropen = 113,
    Tcreate = 114,
    Rcreate = 115,
    Tread = 116,
    Rread = 117,
    Twrite = 118,
    Rwrite = 119,
    Tclunk = 120,
    Rclunk = 121,
    Tremove = 122,
    Rremove = 123,
    Tstat = 124,
    Rstat = 125,
    Twstat = 126,
    Rwstat = 127,
}

impl MessageType {
    /// The type for a type byte; `None` for unknown bytes and for Terror (106).
    pub fn from_u8(b: u8) -> Option<Self> {
        use MessageType::*;
        Some(match b {
            100 => Tversion,
            101 => Rversion,
            102 => Tauth,
            103 => Rauth,
            104 => Tattach,
            105 => Rattach,
            107 => Rerror,
            108 => Tflush,
            109 => Rflush,
            110 => Twalk,
            111 => Rwalk,
            112 => Topen,
            113 => Ropen,
            114 => Tcreate,
            115 => Rcreate,
            116 => Tread,
            117 => Rread,
            118 => Twrite,
            119 => Rwrite,
            120 => Tclunk,
            121 => Rclunk,
            122 => Tremove,
            123 => Rremove,
            124 => Tstat,
            125 => Rstat,
            126 => Twstat,
            127 => Rwstat,
            _ => return None,
        })
    }

    /// Whether this is a reply (R-message).
    pub fn is_reply(self) -> bool {
        self as u8 & 1 == 1
    }
}
