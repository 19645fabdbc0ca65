//! The ring protocol under loom's model of the C11 memory model: loads may read stale values,
//! stores may be seen late, and only the memory orders the code asks for constrain that. The
//! real `Client` and `Server` run on a `Memory` made of loom atomics (the header words) and loom
//! `UnsafeCell`s (the slots), so loom both explores the interleavings and checks every slot
//! access for a causality violation (a data race).
//!
//! Built only with `--cfg loom` (it needs the loom crate, which a plain `cargo test` neither
//! downloads nor builds):
//!
//! ```sh
//! RUSTFLAGS="--cfg loom" cargo test -p lux9-ring --release --test loom --target-dir target/loom
//! ```
//!
//! tests/interleavings/ checks the same scenarios (and more) without loom under plain
//! `cargo test`, but with sequentially consistent values; what only loom checks is the
//! doorbell's store-then-load on two words, which needs its SeqCst fences.
#![allow(
    unsafe_code,
    reason = "loom's UnsafeCell slots and Send/Sync for the region"
)]
#![cfg(loom)]

mod common;

use std::sync::Arc;

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicBool, AtomicU32, Ordering, fence};
use loom::thread;

use common::numbered;
use lux9_ring::layout::{HEADER_SIZE, offset};
use lux9_ring::{Client, Geometry, Memory, RingError, Server, initialise_with_counters};

const SLOT: usize = 16;

/// The header fields, in the order of `LoomRegion::words`.
const WORDS: [usize; 12] = [
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
    offset::SERVER_SKIPS,
    offset::CLIENT_SKIPS,
];

/// A ring region made of loom objects.
struct LoomRegion {
    words: Vec<AtomicU32>,
    slots: Vec<UnsafeCell<[u8; SLOT]>>,
    len: usize,
    mutation: Mutation,
}

// SAFETY: the slots are only touched through loom's UnsafeCell::with/with_mut, whose accesses
// loom checks for races across its threads (the point of the test); the words are atomics.
unsafe impl Sync for LoomRegion {}
// SAFETY: as for Sync; nothing in the region is tied to the thread that made it.
unsafe impl Send for LoomRegion {}

/// A deliberate weakening, for the mutant tests: loom must then find the bug.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mutation {
    None,
    /// `fence_seq_cst` does nothing.
    NoFences,
    /// The tails are stored Relaxed instead of Release.
    RelaxedTailStores,
}

/// A handle on a shared `LoomRegion`, for the endpoints of both threads.
#[derive(Clone)]
struct Region(Arc<LoomRegion>);

impl Region {
    fn new(geometry: Geometry, mutation: Mutation) -> Region {
        assert_eq!(geometry.slot_size() as usize, SLOT);
        Region(Arc::new(LoomRegion {
            words: WORDS.iter().map(|_| AtomicU32::new(0)).collect(),
            slots: (0..2 * geometry.slot_count())
                .map(|_| UnsafeCell::new([0; SLOT]))
                .collect(),
            len: geometry.region_len(),
            mutation,
        }))
    }

    fn word(&self, at: usize) -> Result<&AtomicU32, RingError> {
        let index = WORDS.iter().position(|&word| word == at);
        index
            .map(|index| &self.0.words[index])
            .ok_or(RingError::OutOfBounds { offset: at, len: 4 })
    }

    /// The slot holding `len` bytes at `at`, and where in it they start.
    fn slot(&self, at: usize, len: usize) -> Result<(&UnsafeCell<[u8; SLOT]>, usize), RingError> {
        let bounds = RingError::OutOfBounds { offset: at, len };
        let relative = at.checked_sub(HEADER_SIZE).ok_or(bounds)?;
        let (index, within) = (relative / SLOT, relative % SLOT);
        if within + len > SLOT {
            return Err(bounds);
        }
        Ok((self.0.slots.get(index).ok_or(bounds)?, within))
    }
}

impl Memory for Region {
    fn len(&self) -> usize {
        self.0.len
    }
    fn load_u32(&self, at: usize, order: Ordering) -> Result<u32, RingError> {
        Ok(self.word(at)?.load(order))
    }
    fn store_u32(&self, at: usize, value: u32, order: Ordering) -> Result<(), RingError> {
        let tail = at == offset::REQUEST_TAIL || at == offset::REPLY_TAIL;
        let order = match self.0.mutation {
            Mutation::RelaxedTailStores if tail => Ordering::Relaxed,
            _ => order,
        };
        self.word(at)?.store(value, order);
        Ok(())
    }
    fn swap_u32(&self, at: usize, value: u32, order: Ordering) -> Result<u32, RingError> {
        Ok(self.word(at)?.swap(value, order))
    }
    fn fence_seq_cst(&self) {
        if self.0.mutation != Mutation::NoFences {
            fence(Ordering::SeqCst);
        }
    }
    fn read(&self, at: usize, destination: &mut [u8]) -> Result<(), RingError> {
        let (slot, within) = self.slot(at, destination.len())?;
        slot.with(|bytes| {
            // SAFETY: loom's UnsafeCell tracks this shared access and fails the model if a
            // write to the same cell is not ordered before or after it; the pointer is valid
            // for the cell's lifetime.
            let bytes = unsafe { &*bytes };
            destination.copy_from_slice(&bytes[within..within + destination.len()]);
        });
        Ok(())
    }
    fn write(&self, at: usize, source: &[u8]) -> Result<(), RingError> {
        let (slot, within) = self.slot(at, source.len())?;
        slot.with_mut(|bytes| {
            // SAFETY: loom's UnsafeCell tracks this exclusive access and fails the model if
            // any other access to the cell is not ordered with it; the pointer is valid for
            // the cell's lifetime.
            let bytes = unsafe { &mut *bytes };
            bytes[within..within + source.len()].copy_from_slice(source);
        });
        Ok(())
    }
}

fn reply_to(request: &[u8]) -> Vec<u8> {
    let mut reply = request.to_vec();
    reply[4] += 1;
    reply
}

/// Two slots, three round trips, counters crossing u32::MAX: the client submits in batches
/// and checks every reply; both sides yield when they can do nothing. Returns how many
/// executions loom explored.
fn round_trips(mutation: Mutation) -> usize {
    let executions = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&executions);
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(4);
    builder.check(move || {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let geometry = Geometry::new(2, SLOT as u32).unwrap();
        let region = Region::new(geometry, mutation);
        initialise_with_counters(&region, geometry, u32::MAX - 1).unwrap();
        let mut client = Client::attach(region.clone()).unwrap();
        let mut server = Server::attach(region).unwrap();
        const MESSAGES: usize = 3;
        let server = thread::spawn(move || {
            let mut buffer = [0; SLOT];
            for _ in 0..MESSAGES {
                let len = loop {
                    match server.next_request(&mut buffer).unwrap() {
                        Some(len) => break len,
                        None => thread::yield_now(),
                    }
                };
                let reply = reply_to(&buffer[..len]);
                while server.reply([reply.as_slice()]).unwrap() == 0 {
                    thread::yield_now();
                }
            }
        });
        let requests: Vec<Vec<u8>> = (0..MESSAGES as u32).map(|i| numbered(1, i, 5)).collect();
        let (mut sent, mut received) = (0, 0);
        let mut buffer = [0; SLOT];
        while received < MESSAGES {
            if sent < MESSAGES {
                sent += client
                    .submit(requests[sent..].iter().map(Vec::as_slice))
                    .unwrap();
            }
            match client.poll_reply(&mut buffer).unwrap() {
                Some(len) => {
                    assert_eq!(&buffer[..len], reply_to(&requests[received]).as_slice());
                    received += 1;
                }
                None => thread::yield_now(),
            }
        }
        server.join().unwrap();
    });
    executions.load(std::sync::atomic::Ordering::Relaxed)
}

#[test]
fn round_trips_under_the_weak_memory_model() {
    let executions = round_trips(Mutation::None);
    println!("round trips: {executions} executions");
    assert!(executions > 100);
}

/// With the tails stored Relaxed, loom must see the consumer read a slot that the producer's
/// write is not ordered with.
#[test]
fn mutant_relaxed_tail_stores_race() {
    let result = std::panic::catch_unwind(|| round_trips(Mutation::RelaxedTailStores));
    assert!(
        result.is_err(),
        "loom found no race with Relaxed tail stores"
    );
}

/// The doorbell: the server announces it will sleep while the client publishes a request.
/// Whatever the interleaving and whatever stale values the weak model lets each side read,
/// either the server sees the request (and stays awake) or the client sees the flag (and
/// notifies). Both missing each other is the lost wake-up.
fn doorbell(mutation: Mutation) -> usize {
    let executions = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&executions);
    loom::model(move || {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let geometry = Geometry::new(2, SLOT as u32).unwrap();
        let region = Region::new(geometry, mutation);
        initialise_with_counters(&region, geometry, 0).unwrap();
        let mut client = Client::attach(region.clone()).unwrap();
        let mut server = Server::attach(region).unwrap();
        let server_sleeps = Arc::new(AtomicBool::new(false));
        let sleeps = Arc::clone(&server_sleeps);
        let server = thread::spawn(move || {
            let sleeping = server.set_waiting().unwrap();
            sleeps.store(sleeping, Ordering::Relaxed);
        });
        let request = numbered(1, 0, 0);
        assert_eq!(client.submit([request.as_slice()]).unwrap(), 1);
        let notified = client.peer_waiting().unwrap();
        server.join().unwrap();
        let sleeping = server_sleeps.load(Ordering::Relaxed);
        assert!(
            !sleeping || notified,
            "lost wake-up: the server sleeps, un-notified"
        );
    });
    executions.load(std::sync::atomic::Ordering::Relaxed)
}

#[test]
fn the_doorbell_never_loses_a_wake_up() {
    let executions = doorbell(Mutation::None);
    println!("doorbell: {executions} executions");
    assert!(executions > 10);
}

/// Without the SeqCst fences, loom must find the lost wake-up (each side's load completing
/// before the other's store is visible, as x86's store buffer allows).
#[test]
fn mutant_doorbell_without_fences_loses_a_wake_up() {
    let result = std::panic::catch_unwind(|| doorbell(Mutation::NoFences));
    assert!(
        result.is_err(),
        "loom found no lost wake-up without the fences"
    );
}
