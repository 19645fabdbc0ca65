//! The concurrent hostile peer: garbage written at random while an honest endpoint and the
//! kernel's counter reader run.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use lux9_ring::layout::offset;
use lux9_ring::{
    Client, Direction, Geometry, Memory, RingError, RingMemory, Server, initialise_with_counters,
    observed_counts,
};

use crate::audit::{HEADER_WORDS, N, Role, START, audit, check_received, geometry};
use crate::common::{Rng, message, numbered, ring_region};

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
            // Stops the other two threads however this one ends: were it to panic without
            // this, the scope would wait for them forever.
            let _stop = StopOnDrop(stop);
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
            // Stops the other two threads however this one ends: were it to panic without
            // this, the scope would wait for them forever.
            let _stop = StopOnDrop(stop);
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

/// Sets the flag when dropped, on return or while unwinding from a panic.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Relaxed);
    }
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
