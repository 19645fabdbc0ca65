//! The IPC message ABI: how a message travels in registers, and the statistics layout.
//!
//! # Message operations (`send`, `receive`, `call`, `reply`, `reply_recv`)
//!
//! | register | on entry | on return (receive, call, reply_recv) |
//! |---|---|---|
//! | `rax` | system-call number | error code (0 = success) |
//! | `rdi` | peer pid (0 = any sender, for receives) | the sender's pid |
//! | `rsi` | [`MsgInfo`] of the message sent | [`MsgInfo`] of the message received |
//! | `rdx`, `r10`, `r8`, `r9`, `r12`, `r13`, `r14`, `r15` | message words 0-7 | message words 0-7 |
//!
//! A message of at most [`SHORT_MAX`] (64) bytes travels in the eight word registers. A longer
//! one (up to [`LONG_MAX`]) is taken from the sender's IPC buffer and delivered into the
//! receiver's (registered with `ipc_buffer`); its `MsgInfo` has the `long` flag set and its
//! registers are zero. `rcx` and `r11` are clobbered; every other register is preserved.

/// Largest message that travels in registers.
pub const SHORT_MAX: usize = 64;
/// Largest long message.
pub const LONG_MAX: usize = 64 * 1024;

/// Length, long flag and a user label, packed in one register.
///
/// Bits 0-16: length in bytes (at most [`LONG_MAX`]). Bit 17: long. Bits 32-63: label, a value
/// the kernel passes through untouched (e.g. a request type).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct MsgInfo {
    pub len: usize,
    pub long: bool,
    pub label: u32,
}

const LEN_MASK: u64 = (1 << 17) - 1;
/// The info word's long-message flag (the kernel's fastpath exit tests it in assembly).
pub const LONG_BIT: u64 = 1 << 17;
/// Bits 18-31 of an info word: must be zero.
const RESERVED: u64 = 0xfffc_0000;

impl MsgInfo {
    /// A short message of `len` bytes (at most 64).
    pub fn short(len: usize, label: u32) -> Self {
        Self {
            len: len.min(SHORT_MAX),
            long: false,
            label,
        }
    }

    /// Whether `word` decodes to a short message ([`MsgInfo::from_word`] gives one with
    /// `long` false): what the kernel's fastpath checks first, without decoding.
    pub const fn is_short_word(word: u64) -> bool {
        // Bits 17-31 (reserved and long) clear and bits 0-16 at most 64 is the same as the low
        // half at most 64: one comparison.
        word as u32 <= SHORT_MAX as u32
    }

    pub fn to_word(self) -> u64 {
        (self.len as u64 & LEN_MASK)
            | if self.long { LONG_BIT } else { 0 }
            | (u64::from(self.label) << 32)
    }

    /// Decodes a register. `None` when the length is out of range or bits 18-31 are set, or a
    /// short message claims more than 64 bytes.
    pub fn from_word(word: u64) -> Option<Self> {
        if word & RESERVED != 0 {
            return None;
        }
        let info = Self {
            len: (word & LEN_MASK) as usize,
            long: word & LONG_BIT != 0,
            label: (word >> 32) as u32,
        };
        let fits = if info.long {
            info.len <= LONG_MAX
        } else {
            info.len <= SHORT_MAX
        };
        fits.then_some(info)
    }
}

/// The fastpath's guards, in the order the kernel checks them: a `call` or `reply_recv` that
/// fails one takes the slowpath instead, and the kernel counts it under that guard
/// ([`crate::syscall::Info::FastpathFallbacks`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum FastpathGuard {
    /// The message is long, or its info word is malformed.
    NotShort = 0,
    /// The `Fastpath` knob is off.
    Disabled = 1,
    /// The destination is no other live process: 0 (`reply_recv` as a plain receive), the
    /// caller itself, or a pid with no live thread.
    NoPeer = 2,
    /// The peer is not blocked waiting for exactly this message: for `call`, not receiving
    /// from anyone or from the caller; for `reply_recv`, not awaiting the caller's reply.
    NotWaiting = 3,
    /// The peer is less urgent than the caller (a higher priority number): the caller keeps
    /// the CPU, so the peer goes to its ready queue instead.
    LessUrgent = 4,
    /// `reply_recv` only: a sender or a kernel notification already waits for the caller, so
    /// its receive must take that instead of blocking.
    Pending = 5,
}

impl FastpathGuard {
    pub const COUNT: usize = 6;
    pub const ALL: [Self; Self::COUNT] = [
        Self::NotShort,
        Self::Disabled,
        Self::NoPeer,
        Self::NotWaiting,
        Self::LessUrgent,
        Self::Pending,
    ];

    pub fn from_number(number: usize) -> Option<Self> {
        Self::ALL.get(number).copied()
    }
}

/// The eight message words of a short message.
pub type Words = [u64; 8];

/// Packs up to 64 bytes into message words (little-endian, zero-padded).
pub fn bytes_to_words(bytes: &[u8]) -> Words {
    let mut words = [0u64; 8];
    for (index, chunk) in bytes.chunks(8).take(8).enumerate() {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        words[index] = u64::from_le_bytes(word);
    }
    words
}

/// Unpacks the first `len` (at most 64) bytes of message words.
pub fn words_to_bytes(words: &Words, len: usize, out: &mut [u8]) -> usize {
    let len = len.min(SHORT_MAX).min(out.len());
    for (index, byte) in out[..len].iter_mut().enumerate() {
        *byte = (words[index / 8] >> ((index % 8) * 8)) as u8;
    }
    len
}

/// The IPC statistics of the source design, as `ipc_stats` copies them out (`#[repr(C)]`, eight
/// u64 fields).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct IpcStats {
    /// Context switches (system-wide), or switches into the process's threads.
    pub total_switches: u64,
    /// Messages that took the fastpath (direct switch, registers only).
    pub fastpath_hits: u64,
    /// Messages that took the slowpath.
    pub slowpath_messages: u64,
    /// Ring entries the kernel saw pass without copying them (counted from ring indices).
    pub zero_copy_transfers: u64,
    /// Ring entries published in notified batches.
    pub batched_operations: u64,
    /// Notified batches.
    pub batches: u64,
    /// Average batch size times 100 (`batched_operations * 100 / batches`).
    pub avg_batch_size_x100: u64,
    /// Average TSC cycles (ticks under icount) spent switching, from the scheduler's timing.
    pub cycles_per_switch: u64,
    /// Sleeps avoided by the futex-style check: a ring side about to sleep found the work
    /// already there (counted in the ring header, read by the kernel at `notify` and teardown),
    /// or a `futex_wait` found its word already changed. Each one is a switch not taken.
    pub futex_skips: u64,
    /// `futex_wait`s that did sleep.
    pub futex_sleeps: u64,
}

impl IpcStats {
    pub const WORDS: usize = 10;

    pub fn to_words(self) -> [u64; Self::WORDS] {
        [
            self.total_switches,
            self.fastpath_hits,
            self.slowpath_messages,
            self.zero_copy_transfers,
            self.batched_operations,
            self.batches,
            self.avg_batch_size_x100,
            self.cycles_per_switch,
            self.futex_skips,
            self.futex_sleeps,
        ]
    }

    pub fn from_words(w: [u64; Self::WORDS]) -> Self {
        Self {
            total_switches: w[0],
            fastpath_hits: w[1],
            slowpath_messages: w[2],
            zero_copy_transfers: w[3],
            batched_operations: w[4],
            batches: w[5],
            avg_batch_size_x100: w[6],
            cycles_per_switch: w[7],
            futex_skips: w[8],
            futex_sleeps: w[9],
        }
    }
}

/// Knobs `ipc_config` reads and sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Knob {
    /// 1: short messages to a waiting receiver take the fastpath (default); 0: always the
    /// slowpath (for the equivalence test and measurements).
    Fastpath = 0,
    /// How many times a ring server polls before sleeping (hybrid polling); read by servers.
    PollSpins = 1,
}

impl Knob {
    pub const ALL: [Knob; 2] = [Knob::Fastpath, Knob::PollSpins];

    pub fn from_number(number: usize) -> Option<Self> {
        Self::ALL.get(number).copied()
    }

    /// The knob's file name under `/sys/knobs`.
    pub fn name(self) -> &'static str {
        match self {
            Knob::Fastpath => "fastpath",
            Knob::PollSpins => "poll_spins",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|knob| knob.name() == name)
    }
}

/// Label of a kernel notification: a short message from pid 0 whose label has this bit set and
/// whose word 0 holds the notification bits. It is delivered to a thread waiting in `receive`
/// from anyone, or kept until the thread next receives.
pub const NOTIFICATION_LABEL: u32 = 0x8000_0000;
/// Notification bit: console input arrived (after a `console_read` with `NOTIFY`).
pub const NOTIFY_CONSOLE: u64 = 1 << 0;
/// Notification bit: the other side of a ring this thread asked about (`ring_info` with
/// [`RING_NOTIFY_IPC`]) called `notify`.
pub const NOTIFY_RING: u64 = 1 << 1;
/// `ring_info` flag: from now on, the other side's `notify` on this ring also sends the caller
/// a [`NOTIFY_RING`] notification, for servers that sleep in `receive` instead of on the ring.
pub const RING_NOTIFY_IPC: usize = 1 << 0;
/// Label bits of a message that hands an isolated file server a ring for connection
/// `LABEL_RING | connection` (word 0: the ring id). The server answers with an empty message
/// once it serves the ring; batches of 9P requests then travel on it.
pub const LABEL_RING: u32 = 0x0a00_0000;

/// Label bits of a 9P message to an isolated file server: `LABEL_9P | connection` (the
/// connection number is the client's choice, below 2^24). The message holds whole 9P frames;
/// the reply holds their reply frames, in order.
pub const LABEL_9P: u32 = 0x0900_0000;
/// The bits of a 9P label that carry the connection number.
pub const LABEL_9P_CONNECTION: u32 = 0x00ff_ffff;

/// `ipc_config` value meaning "only read".
pub const KNOB_READ: usize = usize::MAX;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_short_word_agrees_with_from_word() {
        let mut words = vec![0, 1, 64, 65, LEN_MASK, LONG_BIT, LONG_BIT | 64, u64::MAX];
        for bit in 0..64 {
            words.push(1 << bit);
            words.push((1 << bit) | 64);
            words.push((1 << bit) | 7 | (0xabcd << 32));
        }
        for len in 0..=70u64 {
            words.push(len | (u64::from(u32::MAX) << 32));
        }
        for word in words {
            assert_eq!(
                MsgInfo::is_short_word(word),
                MsgInfo::from_word(word).is_some_and(|info| !info.long),
                "{word:#x}"
            );
        }
    }

    #[test]
    fn msginfo_round_trips_and_rejects_bad_words() {
        for info in [
            MsgInfo::short(0, 0),
            MsgInfo::short(64, u32::MAX),
            MsgInfo {
                len: LONG_MAX,
                long: true,
                label: 7,
            },
            MsgInfo {
                len: 65,
                long: true,
                label: 0,
            },
        ] {
            assert_eq!(MsgInfo::from_word(info.to_word()), Some(info));
        }
        assert_eq!(
            MsgInfo::from_word(65),
            None,
            "short messages hold at most 64 bytes"
        );
        assert_eq!(MsgInfo::from_word(LONG_BIT | (LONG_MAX as u64 + 1)), None);
        assert_eq!(MsgInfo::from_word(1 << 20), None, "reserved bits");
    }

    #[test]
    fn words_and_bytes() {
        let bytes: Vec<u8> = (0..64).collect();
        let words = bytes_to_words(&bytes);
        assert_eq!(words[0], u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]));
        let mut out = [0u8; 64];
        assert_eq!(words_to_bytes(&words, 64, &mut out), 64);
        assert_eq!(&out[..], &bytes[..]);
        let words = bytes_to_words(b"abc");
        assert_eq!(words[0], 0x636261);
        assert_eq!(words[1..], [0; 7]);
    }

    #[test]
    fn stats_words_round_trip() {
        let stats = IpcStats {
            total_switches: 1,
            fastpath_hits: 2,
            slowpath_messages: 3,
            zero_copy_transfers: 4,
            batched_operations: 5,
            batches: 6,
            avg_batch_size_x100: 7,
            cycles_per_switch: 8,
            futex_skips: 9,
            futex_sleeps: 10,
        };
        assert_eq!(IpcStats::from_words(stats.to_words()), stats);
    }
}
