//! A hostile peer: it writes garbage counters, lengths, entries, flags and header fields, first
//! one bad value at a time (deterministic), then at random while the honest side runs
//! (concurrent). The honest side must return `Ok` only with an in-bounds, well-formed message,
//! or an error; never panic, never touch memory outside its part of the region. The kernel's
//! view of the counters (`observed_counts`) must likewise return valid counts or an error.
//!
//! Every honest access goes through `Audit`, which fails the test on any access outside the
//! header fields or outside one slot of the ring the endpoint may read or write, and the region
//! has guard pages around it that must stay untouched.

mod audit;
#[path = "../common/mod.rs"]
mod common;
mod concurrent;

use std::sync::atomic::Ordering::Relaxed;

use audit::{N, Role, SLOT, START, audit, geometry, put_entry};
use common::{message, ring_region};
use lux9_ring::layout::{HEADER_SIZE, offset};
use lux9_ring::{
    Client, Direction, HeapRegion, Memory, RingError, Server, initialise_with_counters,
    observed_counts,
};

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
