//! The endpoints on one thread: round trips, full and empty rings, batches, counter
//! wrap-around, credit, the waiting flags, and header validation.

mod common;

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{message, numbered, ring_region};
use lux9_ring::layout::{HEADER_SIZE, offset};
use lux9_ring::{
    Client, Direction, Geometry, HeapRegion, Memory, ObservedCounts, RingError, RingIndices,
    RingMemory, Server, initialise, observed_counts, read_geometry,
};

fn pair(region: &HeapRegion) -> (Client<RingMemory<'_>>, Server<RingMemory<'_>>) {
    (
        Client::attach(region.memory()).unwrap(),
        Server::attach(region.memory()).unwrap(),
    )
}

#[test]
fn one_request_and_reply_round_trip() {
    let geometry = Geometry::for_message_size(4, 100).unwrap();
    let region = ring_region(geometry, 0);
    let (mut client, mut server) = pair(&region);
    let request = message(100, 0xffff, b"\x00\x20\x00\x00\x06\x009P2000");
    assert_eq!(client.submit([request.as_slice()]), Ok(1));
    assert_eq!(client.outstanding(), 1);

    let mut buffer = [0; 104];
    let len = server.next_request(&mut buffer).unwrap().unwrap();
    assert_eq!(&buffer[..len], request.as_slice());
    assert_eq!(server.next_request(&mut buffer), Ok(None));

    let reply = message(101, 0xffff, b"\x00\x20\x00\x00\x06\x009P2000");
    assert_eq!(server.reply([reply.as_slice()]), Ok(1));
    let len = client.poll_reply(&mut buffer).unwrap().unwrap();
    assert_eq!(&buffer[..len], reply.as_slice());
    assert_eq!(client.poll_reply(&mut buffer), Ok(None));
    assert_eq!(client.outstanding(), 0);
    assert!(region.guards_intact());
}

#[test]
fn largest_and_smallest_messages_fit() {
    let geometry = Geometry::new(2, 64).unwrap();
    let region = ring_region(geometry, 0);
    let (mut client, mut server) = pair(&region);
    let largest = message(1, 1, &[0xee; 60 - 7]);
    let smallest = message(1, 2, &[]);
    assert_eq!(
        client.submit([largest.as_slice(), smallest.as_slice()]),
        Ok(2)
    );
    let mut buffer = [0; 60];
    assert_eq!(server.next_request(&mut buffer), Ok(Some(60)));
    assert_eq!(&buffer[..], largest.as_slice());
    assert_eq!(server.next_request(&mut buffer), Ok(Some(7)));
    assert_eq!(&buffer[..7], smallest.as_slice());
    // One byte more than a slot holds is refused.
    let too_big = message(1, 3, &[0; 61 - 7]);
    assert!(matches!(
        server.reply([too_big.as_slice()]),
        Err(RingError::InvalidMessage { len: 61, max: 60 })
    ));
}

#[test]
fn full_ring_takes_no_more_and_leaves_the_rest_of_the_batch() {
    let geometry = Geometry::new(4, 32).unwrap();
    let region = ring_region(geometry, 0);
    let (mut client, mut server) = pair(&region);
    let messages: Vec<Vec<u8>> = (0..7).map(|i| numbered(1, i, 20)).collect();
    let taken = Cell::new(0);
    let counted = messages.iter().map(|m| {
        taken.set(taken.get() + 1);
        m.as_slice()
    });
    assert_eq!(client.submit(counted), Ok(4));
    assert_eq!(taken.get(), 4, "only the messages that fit are taken");
    assert_eq!(client.submit([messages[4].as_slice()]), Ok(0));

    // The server drains one request: a request slot is free, but the client has no credit
    // until a reply is consumed.
    let mut buffer = [0; 28];
    let len = server.next_request(&mut buffer).unwrap().unwrap();
    assert_eq!(&buffer[..len], messages[0].as_slice());
    assert_eq!(client.submit([messages[4].as_slice()]), Ok(0));
    assert_eq!(server.reply([messages[0].as_slice()]), Ok(1));
    assert_eq!(client.poll_reply(&mut buffer), Ok(Some(len)));
    assert_eq!(client.submit([messages[4].as_slice()]), Ok(1));

    // Empty: nothing from either side.
    let mut server_seen = vec![];
    while let Some(len) = server.next_request(&mut buffer).unwrap() {
        server_seen.push(buffer[..len].to_vec());
    }
    assert_eq!(server_seen, messages[1..5]);
    assert_eq!(server.next_request(&mut buffer), Ok(None));
}

#[test]
fn counters_wrap_around_u32_max() {
    let geometry = Geometry::new(4, 64).unwrap();
    for start in [u32::MAX - 5, u32::MAX, u32::MAX - 1, 1 << 31, 0] {
        let region = ring_region(geometry, start);
        let (mut client, mut server) = pair(&region);
        let mut sent = 0u32;
        let mut received = 0u32;
        let mut buffer = [0; 60];
        // Batches of 1, 2, 3 and 4 until the counters have gone round past u32::MAX.
        for round in 0..40u32 {
            let batch: Vec<Vec<u8>> = (0..round % 4 + 1)
                .map(|i| numbered(1, sent + i, 50))
                .collect();
            let published = client.submit(batch.iter().map(Vec::as_slice)).unwrap();
            assert_eq!(published, batch.len(), "start {start} round {round}");
            sent += published as u32;
            while let Some(len) = server.next_request(&mut buffer).unwrap() {
                assert_eq!(server.reply([&buffer[..len]]), Ok(1));
            }
            while let Some(len) = client.poll_reply(&mut buffer).unwrap() {
                assert_eq!(&buffer[..len], numbered(1, received, 50).as_slice());
                received += 1;
            }
            let counts = observed_counts(&region.memory(), geometry).unwrap();
            let expected = RingIndices {
                head: start.wrapping_add(sent),
                tail: start.wrapping_add(sent),
            };
            assert_eq!(
                counts,
                ObservedCounts {
                    requests: expected,
                    replies: expected,
                    skips: (0, 0),
                }
            );
        }
        assert_eq!(received, sent);
        assert_eq!(sent, 100);
    }
}

/// A memory that counts the stores and loads of each ring's tail.
struct Counting<'a> {
    inner: RingMemory<'a>,
    tail_stores: AtomicUsize,
    tail_loads: AtomicUsize,
}

impl Memory for Counting<'_> {
    fn len(&self) -> usize {
        self.inner.len()
    }
    fn load_u32(&self, at: usize, order: Ordering) -> Result<u32, RingError> {
        if at == offset::REQUEST_TAIL || at == offset::REPLY_TAIL {
            self.tail_loads.fetch_add(1, Ordering::Relaxed);
        }
        self.inner.load_u32(at, order)
    }
    fn store_u32(&self, at: usize, value: u32, order: Ordering) -> Result<(), RingError> {
        if at == offset::REQUEST_TAIL || at == offset::REPLY_TAIL {
            self.tail_stores.fetch_add(1, Ordering::Relaxed);
        }
        self.inner.store_u32(at, value, order)
    }
    fn swap_u32(&self, at: usize, value: u32, order: Ordering) -> Result<u32, RingError> {
        self.inner.swap_u32(at, value, order)
    }
    fn fence_seq_cst(&self) {
        self.inner.fence_seq_cst()
    }
    fn read(&self, at: usize, destination: &mut [u8]) -> Result<(), RingError> {
        self.inner.read(at, destination)
    }
    fn write(&self, at: usize, source: &[u8]) -> Result<(), RingError> {
        self.inner.write(at, source)
    }
}

#[test]
fn a_batch_is_published_with_one_tail_store_and_read_with_one_tail_load() {
    let geometry = Geometry::new(16, 64).unwrap();
    let region = ring_region(geometry, 0);
    let counting = Counting {
        inner: region.memory(),
        tail_stores: AtomicUsize::new(0),
        tail_loads: AtomicUsize::new(0),
    };
    let mut client = Client::attach(&counting).unwrap();
    let mut server = Server::attach(&counting).unwrap();
    let batch: Vec<Vec<u8>> = (0..12).map(|i| numbered(1, i, 40)).collect();
    counting.tail_stores.store(0, Ordering::Relaxed);
    counting.tail_loads.store(0, Ordering::Relaxed);
    assert_eq!(client.submit(batch.iter().map(Vec::as_slice)), Ok(12));
    assert_eq!(counting.tail_stores.load(Ordering::Relaxed), 1);

    let mut buffer = [0; 60];
    for expected in &batch {
        let len = server.next_request(&mut buffer).unwrap().unwrap();
        assert_eq!(&buffer[..len], expected.as_slice());
    }
    assert_eq!(counting.tail_loads.load(Ordering::Relaxed), 1);
    assert_eq!(server.next_request(&mut buffer), Ok(None));
    assert_eq!(counting.tail_loads.load(Ordering::Relaxed), 2);
    // An empty batch stores nothing.
    assert_eq!(client.submit([]), Ok(0));
    assert_eq!(counting.tail_stores.load(Ordering::Relaxed), 1);
}

#[test]
fn an_invalid_message_in_a_batch_publishes_nothing() {
    let geometry = Geometry::new(8, 64).unwrap();
    let region = ring_region(geometry, 0);
    let (mut client, mut server) = pair(&region);
    let good = message(1, 1, b"ok");
    let mut wrong_size = message(1, 2, b"bad");
    wrong_size[0] += 1;
    for bad in [&wrong_size[..], &good[..6], &[0u8; 0][..]] {
        assert!(matches!(
            client.submit([good.as_slice(), good.as_slice(), bad]),
            Err(RingError::InvalidMessage { .. })
        ));
        assert!(!client.is_broken());
        assert_eq!(client.outstanding(), 0);
    }
    let mut buffer = [0; 60];
    assert_eq!(server.next_request(&mut buffer), Ok(None));
    assert_eq!(client.submit([good.as_slice()]), Ok(1));
    assert_eq!(server.next_request(&mut buffer), Ok(Some(9)));
}

#[test]
fn a_short_buffer_leaves_the_entry_on_the_ring() {
    let geometry = Geometry::new(2, 64).unwrap();
    let region = ring_region(geometry, 0);
    let (mut client, mut server) = pair(&region);
    let request = message(1, 1, &[7; 30]);
    client.submit([request.as_slice()]).unwrap();
    let mut small = [0; 36];
    assert_eq!(
        server.next_request(&mut small),
        Err(RingError::BufferTooSmall { needed: 37 })
    );
    assert!(!server.is_broken());
    let mut buffer = [0; 37];
    assert_eq!(server.next_request(&mut buffer), Ok(Some(37)));
    assert_eq!(&buffer[..], request.as_slice());
}

#[test]
fn a_reply_without_a_request_is_rejected() {
    let geometry = Geometry::new(2, 64).unwrap();
    let region = ring_region(geometry, 0);
    let (mut client, mut server) = pair(&region);
    let reply = message(2, 1, b"");
    assert_eq!(server.reply([reply.as_slice()]), Ok(1));
    let mut buffer = [0; 60];
    assert_eq!(
        client.poll_reply(&mut buffer),
        Err(RingError::UnsolicitedReply)
    );
    assert_eq!(client.poll_reply(&mut buffer), Ok(None));
    assert!(!client.is_broken());
}

#[test]
fn a_dropped_reply_gives_its_credit_back() {
    let geometry = Geometry::new(2, 64).unwrap();
    let region = ring_region(geometry, 0);
    let (mut client, mut server) = pair(&region);
    let request = message(1, 1, b"");
    assert_eq!(
        client.submit([request.as_slice(), request.as_slice()]),
        Ok(2)
    );
    let mut buffer = [0; 60];
    server.next_request(&mut buffer).unwrap().unwrap();
    server.next_request(&mut buffer).unwrap().unwrap();
    // The first was flushed: only the Rflush comes back.
    server.reply([request.as_slice()]).unwrap();
    client.poll_reply(&mut buffer).unwrap().unwrap();
    assert_eq!(client.outstanding(), 1);
    client.reply_dropped();
    assert_eq!(client.outstanding(), 0);
    assert_eq!(
        client.submit([request.as_slice(), request.as_slice()]),
        Ok(2)
    );
}

#[test]
fn waiting_flags_skip_the_notify_when_the_peer_is_awake() {
    let geometry = Geometry::new(4, 64).unwrap();
    let region = ring_region(geometry, 0);
    let memory = region.memory();
    let (mut client, mut server) = pair(&region);
    let flag = |at| memory.load_u32(at, Ordering::Relaxed).unwrap();
    let request = message(1, 1, b"");

    // Server awake: no notify.
    assert_eq!(client.submit([request.as_slice()]), Ok(1));
    assert_eq!(client.peer_waiting(), Ok(false));
    // A request is waiting: the server does not sleep, and leaves its flag clear.
    assert_eq!(server.set_waiting(), Ok(false));
    assert_eq!(flag(offset::SERVER_WAITING), 0);
    // ... and counts the sleep it skipped in its own word.
    assert_eq!(flag(offset::SERVER_SKIPS), 1);
    assert_eq!(flag(offset::CLIENT_SKIPS), 0);
    let mut buffer = [0; 60];
    server.next_request(&mut buffer).unwrap().unwrap();
    // Nothing waiting: the server sleeps, with its flag set.
    assert_eq!(server.set_waiting(), Ok(true));
    assert_eq!(flag(offset::SERVER_WAITING), 1);
    assert_eq!(flag(offset::SERVER_SKIPS), 1, "a sleep is not a skip");
    // The next submit must notify, once.
    assert_eq!(client.submit([request.as_slice()]), Ok(1));
    assert_eq!(client.peer_waiting(), Ok(true));
    assert_eq!(flag(offset::SERVER_WAITING), 0);
    assert_eq!(client.peer_waiting(), Ok(false));
    server.clear_waiting().unwrap();

    // The same the other way round.
    assert_eq!(client.set_waiting(), Ok(true));
    assert_eq!(flag(offset::CLIENT_WAITING), 1);
    server.next_request(&mut buffer).unwrap().unwrap();
    server
        .reply([request.as_slice(), request.as_slice()])
        .unwrap();
    assert_eq!(server.peer_waiting(), Ok(true));
    assert_eq!(server.peer_waiting(), Ok(false));
    client.clear_waiting().unwrap();
    assert_eq!(client.set_waiting(), Ok(false));
    assert_eq!(flag(offset::CLIENT_WAITING), 0);
    assert_eq!(flag(offset::CLIENT_SKIPS), 1);
    assert_eq!(
        lux9_ring::observed_counts(&memory, geometry).unwrap().skips,
        (1, 1),
        "the kernel reads both counts"
    );
}

#[test]
fn attach_checks_the_header() {
    let geometry = Geometry::new(4, 64).unwrap();
    let region = ring_region(geometry, 0);
    let memory = region.memory();
    assert_eq!(read_geometry(&memory), Ok(geometry));

    let corrupt = |at, value| {
        let old = memory.load_u32(at, Ordering::Relaxed).unwrap();
        memory.store_u32(at, value, Ordering::Relaxed).unwrap();
        let client = Client::attach(memory).map(|_| ());
        let server = Server::attach(memory).map(|_| ());
        memory.store_u32(at, old, Ordering::Relaxed).unwrap();
        assert_eq!(client, server);
        client
    };
    assert_eq!(
        corrupt(offset::MAGIC, u32::from_le_bytes(*b"LXR2")),
        Err(RingError::BadMagic {
            found: u32::from_le_bytes(*b"LXR2")
        })
    );
    assert_eq!(
        corrupt(offset::VERSION, 2),
        Err(RingError::BadVersion { found: 2 })
    );
    for count in [0, 3, 1 << 17, u32::MAX] {
        assert!(matches!(
            corrupt(offset::SLOT_COUNT, count),
            Err(RingError::InvalidGeometry { .. })
        ));
    }
    for size in [0, 8, 60, 65, u32::MAX] {
        assert!(matches!(
            corrupt(offset::SLOT_SIZE, size),
            Err(RingError::InvalidGeometry { .. })
        ));
    }
    // A valid geometry the region is too small for.
    assert!(matches!(
        corrupt(offset::SLOT_COUNT, 1 << 16),
        Err(RingError::RegionTooSmall { .. })
    ));
    // Counters no honest pair could have left.
    assert!(matches!(
        corrupt(offset::REQUEST_TAIL, 5),
        Err(RingError::CorruptIndex {
            ring: Direction::Requests,
            ..
        })
    ));
    assert!(matches!(
        corrupt(offset::REPLY_HEAD, 1),
        Err(RingError::CorruptIndex {
            ring: Direction::Replies,
            ..
        })
    ));
    // Too short for a header; a region that was never initialised.
    let short = HeapRegion::new(HEADER_SIZE);
    #[allow(
        unsafe_code,
        reason = "a region shorter than the allocation, on purpose"
    )]
    // SAFETY: the pointer and length come from a live HeapRegion, accessed only atomically.
    let shorter = unsafe { RingMemory::new(short.memory().base(), HEADER_SIZE - 4) }.unwrap();
    assert!(matches!(
        Client::attach(shorter),
        Err(RingError::RegionTooSmall { .. })
    ));
    assert!(matches!(
        initialise(&shorter, geometry),
        Err(RingError::RegionTooSmall { .. })
    ));
    assert_eq!(
        Server::attach(short.memory()).map(|_| ()),
        Err(RingError::BadMagic { found: 0 })
    );
    assert_eq!(corrupt(0x010, 0xdead_beef), Ok(()));
}

#[test]
fn a_corrupt_index_breaks_the_endpoint_for_good() {
    let geometry = Geometry::new(4, 64).unwrap();
    let region = ring_region(geometry, 10);
    let memory = region.memory();
    let (mut client, mut server) = pair(&region);
    let request = message(1, 1, b"");
    client.submit([request.as_slice()]).unwrap();
    // The client claims five entries in a ring of four.
    memory
        .store_u32(offset::REQUEST_TAIL, 15, Ordering::Relaxed)
        .unwrap();
    let mut buffer = [0; 60];
    assert_eq!(
        server.next_request(&mut buffer),
        Err(RingError::CorruptIndex {
            ring: Direction::Requests,
            head: 10,
            tail: 15
        })
    );
    assert!(server.is_broken());
    // Even with the tail put right, the server stays broken.
    memory
        .store_u32(offset::REQUEST_TAIL, 11, Ordering::Relaxed)
        .unwrap();
    assert_eq!(server.next_request(&mut buffer), Err(RingError::Broken));
    assert_eq!(server.reply([request.as_slice()]), Err(RingError::Broken));
    assert_eq!(server.set_waiting(), Err(RingError::Broken));
    assert!(RingError::Broken.is_fatal());

    // The kernel's view rejects the same pair.
    memory
        .store_u32(offset::REQUEST_TAIL, 15, Ordering::Relaxed)
        .unwrap();
    assert!(matches!(
        observed_counts(&memory, geometry),
        Err(RingError::CorruptIndex { .. })
    ));
}
