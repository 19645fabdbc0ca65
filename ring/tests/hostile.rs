//! A hostile peer: it writes garbage counters, lengths, entries, flags and header fields, first
//! one bad value at a time (deterministic), then at random while the honest side runs
//! (concurrent). The honest side must return `Ok` only with an in-bounds, well-formed message,
//! or an error; never panic, never touch memory outside its part of the region. The kernel's
//! view of the counters (`observed_counts`) must likewise return valid counts or an error.
//!
//! Every honest access goes through `Audit`, which fails the test on any access outside the
//! header fields or outside one slot of the ring the endpoint may read or write, and the region
//! has guard pages around it that must stay untouched.

mod common;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::{Rng, message, numbered, ring_region};
use lux9_ring::layout::{HEADER_SIZE, offset};
use lux9_ring::{
    Client, Direction, Geometry, HeapRegion, Memory, RingError, RingMemory, Server,
    initialise_with_counters, observed_counts,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Client,
    Server,
}

/// The honest side's view of the region: every access is checked against what its role may
/// touch, then performed on the real region.
#[derive(Clone, Copy)]
struct Audit<'a> {
    inner: RingMemory<'a>,
    geometry: Geometry,
    role: Role,
}

const HEADER_WORDS: [usize; 10] = [
    offset::MAGIC,
    offset::VERSION,
    offset::SLOT_COUNT,
    offset::SLOT_SIZE,
    offset::REQUEST_HEAD,
    offset::REQUEST_TAIL,
    offset::REPLY_HEAD,
    offset::REPLY_TAIL,
    offset::SERVER_WAITING,
    offset::CLIENT_WAITING,
];

impl Audit<'_> {
    fn word(&self, at: usize) {
        assert!(
            HEADER_WORDS.contains(&at),
            "{:?}: word access at {at:#x}",
            self.role
        );
    }

    fn bytes(&self, at: usize, len: usize, write: bool) {
        // A client writes requests and reads replies; a server the other way round.
        let ring = match (self.role, write) {
            (Role::Client, true) | (Role::Server, false) => Direction::Requests,
            _ => Direction::Replies,
        };
        let start = self.geometry.slots_offset(ring);
        let slot_size = self.geometry.slot_size() as usize;
        let end = start + self.geometry.slot_count() as usize * slot_size;
        let what = if write { "write" } else { "read" };
        assert!(
            at >= start && at + len <= end && len > 0,
            "{:?}: {what} of {len} bytes at {at:#x} outside the {ring:?} slots",
            self.role
        );
        assert_eq!(
            (at - start) / slot_size,
            (at + len - 1 - start) / slot_size,
            "{:?}: {what} of {len} bytes at {at:#x} crosses a slot boundary",
            self.role
        );
    }
}

impl Memory for Audit<'_> {
    fn len(&self) -> usize {
        self.inner.len()
    }
    fn load_u32(&self, at: usize, order: Ordering) -> Result<u32, RingError> {
        self.word(at);
        Ok(self.inner.load_u32(at, order).expect("in bounds"))
    }
    fn store_u32(&self, at: usize, value: u32, order: Ordering) -> Result<(), RingError> {
        self.word(at);
        self.inner.store_u32(at, value, order).expect("in bounds");
        Ok(())
    }
    fn swap_u32(&self, at: usize, value: u32, order: Ordering) -> Result<u32, RingError> {
        self.word(at);
        Ok(self.inner.swap_u32(at, value, order).expect("in bounds"))
    }
    fn fence_seq_cst(&self) {
        self.inner.fence_seq_cst();
    }
    fn read(&self, at: usize, destination: &mut [u8]) -> Result<(), RingError> {
        self.bytes(at, destination.len(), false);
        self.inner.read(at, destination).expect("in bounds");
        Ok(())
    }
    fn write(&self, at: usize, source: &[u8]) -> Result<(), RingError> {
        self.bytes(at, source.len(), true);
        self.inner.write(at, source).expect("in bounds");
        Ok(())
    }
}

fn audit(region: &HeapRegion, geometry: Geometry, role: Role) -> Audit<'_> {
    Audit {
        inner: region.memory(),
        geometry,
        role,
    }
}

/// Checks what the honest side received: `Ok` only with a well-formed message in bounds.
fn check_received(result: Result<Option<usize>, RingError>, buffer: &[u8], max: u32) {
    match result {
        Ok(Some(len)) => {
            assert!((7..=max as usize).contains(&len), "received {len} bytes");
            let size = u32::from_le_bytes(buffer[..4].try_into().unwrap());
            assert_eq!(size as usize, len);
        }
        Ok(None) => {}
        Err(error) => assert!(
            error.is_fatal() || error.consumed_entry(),
            "unexpected error {error:?}"
        ),
    }
}

const N: u32 = 4;
const SLOT: u32 = 32;
const START: u32 = u32::MAX - 1;

fn geometry() -> Geometry {
    Geometry::new(N, SLOT).unwrap()
}

/// Writes an entry the way a producer would, with any length prefix and message bytes.
fn put_entry(memory: &RingMemory<'_>, ring: Direction, counter: u32, prefix: u32, bytes: &[u8]) {
    let slot = geometry().slot_offset(ring, counter);
    memory.write(slot, &prefix.to_le_bytes()).unwrap();
    memory.write(slot + 4, bytes).unwrap();
}

#[test]
fn bad_request_entries_are_rejected_one_by_one() {
    let geometry = geometry();
    let max = geometry.max_message();
    let region = ring_region(geometry, START);
    let memory = region.memory();
    let mut server = Server::attach(audit(&region, geometry, Role::Server)).unwrap();
    let good = message(1, 9, b"fine");
    let mut buffer = vec![0; max as usize];
    let mut tail = START;
    let mut publish = |prefix: u32, bytes: &[u8]| {
        put_entry(&memory, Direction::Requests, tail, prefix, bytes);
        tail = tail.wrapping_add(1);
        memory
            .store_u32(offset::REQUEST_TAIL, tail, Relaxed)
            .unwrap();
    };
    // Lengths below the 9P minimum, above the slot, and absurd.
    for len in [0, 1, 4, 6, max + 1, SLOT - 3, SLOT, 1 << 31, u32::MAX] {
        publish(len, &good);
        assert_eq!(
            server.next_request(&mut buffer),
            Err(RingError::BadLength {
                ring: Direction::Requests,
                len
            })
        );
        // Consumed: a good entry after it is read.
        publish(good.len() as u32, &good);
        assert_eq!(server.next_request(&mut buffer), Ok(Some(good.len())));
        assert_eq!(&buffer[..good.len()], good.as_slice());
    }
    // A prefix that disagrees with the message's own size field, either way.
    for size in [0, 7, 10, 12, max, u32::MAX] {
        let mut bytes = good.clone();
        bytes.resize(11, 0);
        bytes[..4].copy_from_slice(&size.to_le_bytes());
        publish(11, &bytes);
        assert_eq!(
            server.next_request(&mut buffer),
            Err(RingError::SizeMismatch {
                ring: Direction::Requests,
                prefix: 11,
                size
            })
        );
    }
    // Garbage bytes in a well-sized entry are just a message; the 9P decoder judges them.
    let mut garbage = vec![0xff; 20];
    garbage[..4].copy_from_slice(&20u32.to_le_bytes());
    publish(20, &garbage);
    assert_eq!(server.next_request(&mut buffer), Ok(Some(20)));
    assert!(!server.is_broken());
    assert!(region.guards_intact());
}

#[test]
fn impossible_request_tails_break_the_server() {
    let geometry = geometry();
    let good = message(1, 9, b"fine");
    // Tails relative to the server's head (START): too far ahead, behind, far off.
    for offset_from_head in [N + 1, N + 2, u32::MAX, u32::MAX - N, 1 << 31, (1 << 31) + 1] {
        let region = ring_region(geometry, START);
        let memory = region.memory();
        let mut server = Server::attach(audit(&region, geometry, Role::Server)).unwrap();
        let tail = START.wrapping_add(offset_from_head);
        memory
            .store_u32(offset::REQUEST_TAIL, tail, Relaxed)
            .unwrap();
        let mut buffer = vec![0; 64];
        assert_eq!(
            server.next_request(&mut buffer),
            Err(RingError::CorruptIndex {
                ring: Direction::Requests,
                head: START,
                tail
            }),
            "tail {offset_from_head} past the head"
        );
        assert_eq!(server.next_request(&mut buffer), Err(RingError::Broken));
        assert!(region.guards_intact());
    }
    // A tail that goes backwards after the server has seen it further on.
    let region = ring_region(geometry, START);
    let memory = region.memory();
    let mut server = Server::attach(audit(&region, geometry, Role::Server)).unwrap();
    for counter in 0..3 {
        put_entry(
            &memory,
            Direction::Requests,
            START.wrapping_add(counter),
            good.len() as u32,
            &good,
        );
    }
    memory
        .store_u32(offset::REQUEST_TAIL, START.wrapping_add(3), Relaxed)
        .unwrap();
    let mut buffer = vec![0; 64];
    for _ in 0..3 {
        assert_eq!(server.next_request(&mut buffer), Ok(Some(good.len())));
    }
    memory
        .store_u32(offset::REQUEST_TAIL, START.wrapping_add(2), Relaxed)
        .unwrap();
    assert!(matches!(
        server.next_request(&mut buffer),
        Err(RingError::CorruptIndex { .. })
    ));
    // Exactly N ahead is full, not corrupt.
    let region = ring_region(geometry, START);
    let memory = region.memory();
    let mut server = Server::attach(audit(&region, geometry, Role::Server)).unwrap();
    for counter in 0..N {
        put_entry(
            &memory,
            Direction::Requests,
            START.wrapping_add(counter),
            good.len() as u32,
            &good,
        );
    }
    memory
        .store_u32(offset::REQUEST_TAIL, START.wrapping_add(N), Relaxed)
        .unwrap();
    for _ in 0..N {
        assert_eq!(server.next_request(&mut buffer), Ok(Some(good.len())));
    }
    assert_eq!(server.next_request(&mut buffer), Ok(None));
}

#[test]
fn bad_reply_heads_and_entries_are_rejected() {
    let geometry = geometry();
    let request = message(1, 1, b"req");
    let mut buffer = vec![0; geometry.max_message() as usize];
    // The request ring's head, the server's to write, as the client checks it: past the
    // client's tail, or behind the head it saw last.
    for head_from_tail in [1, 2, N + 1, 1 << 31, u32::MAX - N] {
        let region = ring_region(geometry, START);
        let memory = region.memory();
        let mut client = Client::attach(audit(&region, geometry, Role::Client)).unwrap();
        assert_eq!(client.submit([request.as_slice()]), Ok(1));
        let tail = START.wrapping_add(1);
        let head = tail.wrapping_add(head_from_tail);
        memory
            .store_u32(offset::REQUEST_HEAD, head, Relaxed)
            .unwrap();
        assert_eq!(
            client.submit([request.as_slice()]),
            Err(RingError::CorruptIndex {
                ring: Direction::Requests,
                head,
                tail
            })
        );
        assert_eq!(client.poll_reply(&mut buffer), Err(RingError::Broken));
        assert!(client.is_broken());
    }

    // Reply entries: bad lengths, size mismatches, and more replies than requests.
    let region = ring_region(geometry, START);
    let memory = region.memory();
    let mut client = Client::attach(audit(&region, geometry, Role::Client)).unwrap();
    assert_eq!(client.submit([request.as_slice(); 3]), Ok(3));
    let reply = message(2, 1, b"rep");
    let entries: [(u32, &[u8]); 4] = [
        (0, &reply),
        (u32::MAX, &reply),
        (reply.len() as u32 + 1, &reply),
        (reply.len() as u32, &reply),
    ];
    for (counter, (prefix, bytes)) in entries.iter().enumerate() {
        put_entry(
            &memory,
            Direction::Replies,
            START.wrapping_add(counter as u32),
            *prefix,
            bytes,
        );
    }
    memory
        .store_u32(offset::REPLY_TAIL, START.wrapping_add(4), Relaxed)
        .unwrap();
    let results: Vec<_> = (0..5).map(|_| client.poll_reply(&mut buffer)).collect();
    assert_eq!(
        results,
        [
            Err(RingError::BadLength {
                ring: Direction::Replies,
                len: 0
            }),
            Err(RingError::BadLength {
                ring: Direction::Replies,
                len: u32::MAX
            }),
            Err(RingError::SizeMismatch {
                ring: Direction::Replies,
                prefix: reply.len() as u32 + 1,
                size: reply.len() as u32
            }),
            // Three requests, three replies consumed: the fourth is one too many.
            Err(RingError::UnsolicitedReply),
            Ok(None),
        ]
    );
    assert!(!client.is_broken());
    assert!(region.guards_intact());
}

#[test]
fn header_rewritten_after_attach_changes_nothing() {
    let geometry = geometry();
    let region = ring_region(geometry, START);
    let memory = region.memory();
    let mut client = Client::attach(audit(&region, geometry, Role::Client)).unwrap();
    let mut server = Server::attach(audit(&region, geometry, Role::Server)).unwrap();
    for (at, value) in [
        (offset::MAGIC, 0),
        (offset::VERSION, 99),
        (offset::SLOT_COUNT, 1 << 16),
        (offset::SLOT_SIZE, u32::MAX),
        (offset::SERVER_WAITING, 0xdead_beef),
        (offset::CLIENT_WAITING, u32::MAX),
    ] {
        memory.store_u32(at, value, Relaxed).unwrap();
    }
    let request = message(1, 1, b"req");
    assert_eq!(client.submit([request.as_slice()]), Ok(1));
    // A garbage flag only costs a spurious notify.
    assert_eq!(client.peer_waiting(), Ok(true));
    let mut buffer = vec![0; 64];
    assert_eq!(server.next_request(&mut buffer), Ok(Some(request.len())));
    assert_eq!(server.reply([&buffer[..request.len()]]), Ok(1));
    assert_eq!(server.peer_waiting(), Ok(true));
    assert_eq!(client.poll_reply(&mut buffer), Ok(Some(request.len())));
    assert!(region.guards_intact());
}

#[test]
fn observed_counts_reject_impossible_pairs() {
    let geometry = geometry();
    let region = ring_region(geometry, START);
    let memory = region.memory();
    let header = HeapRegion::new(HEADER_SIZE);
    // The kernel may look at the header page alone.
    for (head, tail, valid) in [
        (5, 5, true),
        (5, 5 + N, true),
        (u32::MAX, N - 1, true),
        (5, 5 + N + 1, false),
        (5, 4, false),
        (0, u32::MAX, false),
        (1 << 31, 0, false),
    ] {
        for (head_at, tail_at) in [
            (offset::REQUEST_HEAD, offset::REQUEST_TAIL),
            (offset::REPLY_HEAD, offset::REPLY_TAIL),
        ] {
            for memory in [memory, header.memory()] {
                initialise_with_counters(&memory, geometry, 0).unwrap();
                memory.store_u32(head_at, head, Relaxed).unwrap();
                memory.store_u32(tail_at, tail, Relaxed).unwrap();
                let counts = observed_counts(&memory, geometry);
                assert_eq!(counts.is_ok(), valid, "{head} {tail}: {counts:?}");
            }
        }
    }
}

/// What the hostile peer does, chosen at random: garbage words, near-miss counters, bad
/// length prefixes, random slot bytes, and now and then a well-formed entry so that the
/// honest side also has real work.
fn hostile_step(memory: &RingMemory<'_>, geometry: Geometry, role: Role, rng: &mut Rng) {
    let (own_ring, own_tail, other_head) = match role {
        Role::Client => (
            Direction::Requests,
            offset::REQUEST_TAIL,
            offset::REPLY_HEAD,
        ),
        Role::Server => (Direction::Replies, offset::REPLY_TAIL, offset::REQUEST_HEAD),
    };
    let max = geometry.max_message();
    let slot_size = geometry.slot_size() as usize;
    let slots = geometry.slots_offset(Direction::Requests);
    let all_slots = 2 * geometry.slot_count() as usize * slot_size;
    match rng.below(100) {
        // Any header word, any value.
        0..=4 => {
            let at = HEADER_WORDS[rng.below(HEADER_WORDS.len() as u64) as usize];
            memory.store_u32(at, rng.next_u32(), Relaxed).unwrap();
        }
        // A counter nudged by a little: the edge cases of the window checks.
        5..=29 => {
            let at = [
                offset::REQUEST_HEAD,
                offset::REQUEST_TAIL,
                offset::REPLY_HEAD,
                offset::REPLY_TAIL,
            ][rng.below(4) as usize];
            let old = memory.load_u32(at, Relaxed).unwrap();
            let delta = rng.below(2 * u64::from(N) + 5) as u32;
            let new = old.wrapping_add(delta).wrapping_sub(N + 2);
            memory.store_u32(at, new, Relaxed).unwrap();
        }
        // A bad length prefix in any slot.
        30..=44 => {
            let slot = rng.below(2 * u64::from(geometry.slot_count())) as usize;
            let len = [
                0,
                6,
                max + 1,
                u32::MAX,
                rng.next_u32(),
                rng.below(64) as u32,
            ][rng.below(6) as usize];
            memory
                .write(slots + slot * slot_size, &len.to_le_bytes())
                .unwrap();
        }
        // Random bytes anywhere in the slots.
        45..=59 => {
            let at = rng.below(all_slots as u64) as usize;
            let len = (rng.below(24) as usize).min(all_slots - at);
            let bytes: Vec<u8> = (0..len).map(|_| rng.next_u32() as u8).collect();
            memory.write(slots + at, &bytes).unwrap();
        }
        // Flags.
        60..=64 => {
            let at = [offset::SERVER_WAITING, offset::CLIENT_WAITING][rng.below(2) as usize];
            memory.store_u32(at, rng.next_u32() % 3, Relaxed).unwrap();
        }
        // Behave: publish a well-formed entry on our ring (with a random size-field lie now
        // and then), or consume everything on the other ring.
        65..=84 => {
            let tail = memory.load_u32(own_tail, Relaxed).unwrap();
            let sequence = rng.next_u32();
            let mut bytes = numbered(3, sequence, max as usize - 7);
            if rng.below(10) == 0 {
                bytes[0] ^= 1;
            }
            let slot = geometry.slot_offset(own_ring, tail);
            memory
                .write(slot, &(bytes.len() as u32).to_le_bytes())
                .unwrap();
            memory.write(slot + 4, &bytes).unwrap();
            memory
                .store_u32(own_tail, tail.wrapping_add(1), Ordering::Release)
                .unwrap();
        }
        _ => {
            let other_tail = match role {
                Role::Client => offset::REPLY_TAIL,
                Role::Server => offset::REQUEST_TAIL,
            };
            let tail = memory.load_u32(other_tail, Ordering::Acquire).unwrap();
            memory
                .store_u32(other_head, tail, Ordering::Release)
                .unwrap();
        }
    }
}

/// Tallies of what the honest side saw.
#[derive(Debug, Default)]
struct Outcomes {
    received: u64,
    rejected: u64,
    fatal: u64,
    reattached: u64,
}

/// Creates the ring afresh (the kernel's part after a teardown) and attaches `attach`,
/// retrying while the hostile peer garbles the header in between.
fn recreate<E>(
    memory: &RingMemory<'_>,
    geometry: Geometry,
    rng: &mut Rng,
    attach: impl Fn() -> Result<E, RingError>,
) -> E {
    for _ in 0..10_000 {
        initialise_with_counters(memory, geometry, rng.next_u32()).unwrap();
        match attach() {
            Ok(endpoint) => return endpoint,
            Err(error) => assert!(error.is_fatal(), "attach: {error:?}"),
        }
    }
    panic!("could not attach in 10,000 tries");
}

impl Outcomes {
    /// Whether the honest side has run long enough: `HONEST_STEPS` steps and a fair number of
    /// each outcome, or `TIME_LIMIT` (on two cores the threads may get little time together).
    fn enough(&self, steps: u32, started: Instant) -> bool {
        let each = self.received >= 200 && self.rejected >= 200 && self.fatal >= 20;
        (steps >= HONEST_STEPS && each) || started.elapsed() > TIME_LIMIT
    }
}

const HONEST_STEPS: u32 = 50_000;
const TIME_LIMIT: Duration = Duration::from_secs(5);

#[test]
fn concurrent_hostile_server() {
    let geometry = geometry();
    let region = ring_region(geometry, START);
    let memory = region.memory();
    let shared = &region;
    let stop = AtomicBool::new(false);
    let outcomes = thread::scope(|scope| {
        let stop = &stop;
        scope.spawn(move || {
            let mut rng = Rng::new(0x5eed);
            while !stop.load(Relaxed) {
                hostile_step(&memory, geometry, Role::Server, &mut rng);
            }
        });
        let kernel = scope.spawn(move || watch_counts(&memory, geometry, stop));
        let honest = scope.spawn(move || {
            let mut rng = Rng::new(0xc11e);
            let mut outcomes = Outcomes::default();
            let attach = || Client::attach(audit(shared, geometry, Role::Client));
            let mut client = recreate(&memory, geometry, &mut rng, attach);
            let mut buffer = vec![0; geometry.max_message() as usize];
            let started = Instant::now();
            let mut step = 0;
            while !outcomes.enough(step, started) {
                step += 1;
                let result = match rng.below(4) {
                    0 => {
                        let batch: Vec<Vec<u8>> = (0..rng.below(u64::from(N) + 2))
                            .map(|i| numbered(1, step + i as u32, 20))
                            .collect();
                        client.submit(batch.iter().map(Vec::as_slice)).map(|sent| {
                            assert!(sent <= batch.len());
                        })
                    }
                    1 => client.set_waiting().map(drop),
                    2 => client.peer_waiting().map(drop),
                    _ => {
                        let result = client.poll_reply(&mut buffer);
                        check_received(result, &buffer, geometry.max_message());
                        if let Ok(Some(_)) = result {
                            outcomes.received += 1;
                        }
                        result.map(drop)
                    }
                };
                match result {
                    Ok(()) => {}
                    Err(error) if error.is_fatal() => {
                        outcomes.fatal += 1;
                        client = recreate(&memory, geometry, &mut rng, attach);
                        outcomes.reattached += 1;
                    }
                    Err(error) => {
                        assert!(error.consumed_entry(), "{error:?}");
                        outcomes.rejected += 1;
                    }
                }
            }
            outcomes
        });
        let outcomes = honest.join().unwrap();
        stop.store(true, Relaxed);
        kernel.join().unwrap();
        outcomes
    });
    eprintln!("honest client against a hostile server: {outcomes:?}");
    assert!(outcomes.received > 0 && outcomes.rejected > 0 && outcomes.fatal > 0);
    assert!(region.guards_intact());
}

#[test]
fn concurrent_hostile_client() {
    let geometry = geometry();
    let region = ring_region(geometry, START);
    let memory = region.memory();
    let shared = &region;
    let stop = AtomicBool::new(false);
    let outcomes = thread::scope(|scope| {
        let stop = &stop;
        scope.spawn(move || {
            let mut rng = Rng::new(0xbad);
            while !stop.load(Relaxed) {
                hostile_step(&memory, geometry, Role::Client, &mut rng);
            }
        });
        let kernel = scope.spawn(move || watch_counts(&memory, geometry, stop));
        let honest = scope.spawn(move || {
            let mut rng = Rng::new(0x5e7e);
            let mut outcomes = Outcomes::default();
            let attach = || Server::attach(audit(shared, geometry, Role::Server));
            let mut server = recreate(&memory, geometry, &mut rng, attach);
            let mut buffer = vec![0; geometry.max_message() as usize];
            let started = Instant::now();
            let mut step = 0;
            while !outcomes.enough(step, started) {
                step += 1;
                let result = match rng.below(4) {
                    0 => {
                        let reply = message(2, rng.next_u32() as u16, b"ok");
                        server.reply([reply.as_slice()]).map(drop)
                    }
                    1 => server.set_waiting().map(drop),
                    2 => server.peer_waiting().map(drop),
                    _ => {
                        let result = server.next_request(&mut buffer);
                        check_received(result, &buffer, geometry.max_message());
                        if let Ok(Some(_)) = result {
                            outcomes.received += 1;
                        }
                        result.map(drop)
                    }
                };
                match result {
                    Ok(()) => {}
                    Err(error) if error.is_fatal() => {
                        outcomes.fatal += 1;
                        server = recreate(&memory, geometry, &mut rng, attach);
                        outcomes.reattached += 1;
                    }
                    Err(error) => {
                        assert!(error.consumed_entry(), "{error:?}");
                        outcomes.rejected += 1;
                    }
                }
            }
            outcomes
        });
        let outcomes = honest.join().unwrap();
        stop.store(true, Relaxed);
        kernel.join().unwrap();
        outcomes
    });
    eprintln!("honest server against a hostile client: {outcomes:?}");
    assert!(outcomes.received > 0 && outcomes.rejected > 0 && outcomes.fatal > 0);
    assert!(region.guards_intact());
}

/// The kernel's part: read the counters over and over; valid counts or an error, nothing else.
fn watch_counts(memory: &RingMemory<'_>, geometry: Geometry, stop: &AtomicBool) {
    let mut valid = 0u64;
    while !stop.load(Relaxed) {
        match observed_counts(memory, geometry) {
            Ok(counts) => {
                assert!(counts.requests.is_valid(geometry.slot_count()));
                assert!(counts.replies.is_valid(geometry.slot_count()));
                valid += 1;
            }
            Err(RingError::CorruptIndex { .. }) => {}
            Err(error) => panic!("observed_counts: {error:?}"),
        }
    }
    let _ = valid;
}
