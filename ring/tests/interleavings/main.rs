//! An exhaustive interleaving checker for the ring protocol, run by plain `cargo test` (and so
//! by CI). loom (tests/loom.rs) checks the same under the C11 weak memory model, but only
//! with `--cfg loom`; this checker needs nothing but std.
//!
//! The real `Client` and `Server` code runs on two threads over a model memory (`Model`, an
//! implementation of `lux9_ring::Memory`). Every atomic operation (load, store, swap, fence)
//! is a scheduling point: the thread stops there and a scheduler decides which thread performs
//! its next operation. Only one thread runs at a time, so each run is one interleaving, and a
//! depth-first search replays the program with every choice at every point, until all
//! interleavings (within an optional bound on preemptions) are done.
//!
//! Slot copies are not scheduling points. Instead every slot byte access is checked for a data
//! race with vector clocks: a byte written by one thread and read or written by the other must
//! be ordered by happens-before, which only the Release stores and Acquire loads of the counters
//! create (Relaxed operations create none). So a race-free run shows that the counters' memory
//! orders protect the slots, whatever the timing, and, because every sequentially consistent
//! interleaving of the synchronising operations is tried, that the protocol delivers every
//! message in order, intact, without deadlock. What this model does not do is reorder a store
//! after a later load (x86's store buffer) or let a load see a stale value: the doorbell's
//! fences are checked under that weaker model by loom.
//!
//! The checker checks itself too: "mutant" tests weaken one memory order (a Release store made
//! Relaxed, for instance) or break the sleep protocol, and require the search to find the race
//! or the lost wake-up.

#[path = "../common/mod.rs"]
mod common;
mod model;
mod schedule;

use std::sync::atomic::Ordering;
use std::time::Instant;

use common::numbered;
use lux9_ring::layout::offset;
use lux9_ring::{Client, Geometry, Memory, Server};

use model::{Model, Weaken};
use schedule::{Context, Scenario, Search, explore};

/// The server's reply to a request: the same bytes, type plus one.
fn reply_to(request: &[u8]) -> Vec<u8> {
    let mut reply = request.to_vec();
    reply[4] += 1;
    reply
}

/// The requests of an exchange of `messages` round trips.
fn requests(messages: u32) -> Vec<Vec<u8>> {
    (0..messages)
        .map(|sequence| numbered(100, sequence, 5))
        .collect()
}

/// A client that submits `messages` requests in batches as large as the ring and its credit
/// allow, and checks every reply; it waits for progress when it can do nothing.
fn batching_client(messages: u32) -> impl Fn(&Context, Client<Model>) + Sync {
    move |context, mut client| {
        let requests = requests(messages);
        let (mut sent, mut received) = (0, 0);
        let mut buffer = [0; 32];
        while received < requests.len() {
            let mut progressed = false;
            if sent < requests.len() {
                let published = client
                    .submit(requests[sent..].iter().map(Vec::as_slice))
                    .unwrap();
                sent += published;
                progressed |= published > 0;
            }
            while let Some(len) = client.poll_reply(&mut buffer).unwrap() {
                let expected = reply_to(&requests[received]);
                assert_eq!(&buffer[..len], expected.as_slice(), "reply {received}");
                received += 1;
                progressed = true;
            }
            if !progressed {
                context.wait_for_progress();
            }
        }
    }
}

/// A server that answers `messages` requests one at a time, waiting for progress when the
/// request ring is empty.
fn echo_server(messages: u32) -> impl Fn(&Context, Server<Model>) + Sync {
    move |context, mut server| {
        let mut buffer = [0; 32];
        for _ in 0..messages {
            let len = loop {
                match server.next_request(&mut buffer).unwrap() {
                    Some(len) => break len,
                    None => context.wait_for_progress(),
                }
            };
            let reply = reply_to(&buffer[..len]);
            while server.reply([reply.as_slice()]).unwrap() == 0 {
                context.wait_for_progress();
            }
        }
    }
}

/// A client that submits `messages` requests one at a time and expects no reply: after each
/// it gives the credit back (as for a flushed request). So nothing but the request ring's head
/// tells it that a slot is free again: the only scenario where the head's memory order is the
/// sole protection of a slot (elsewhere the reply ring's counters also order it).
fn one_way_client(messages: u32) -> impl Fn(&Context, Client<Model>) + Sync {
    move |context, mut client| {
        for request in requests(messages) {
            while client.submit([request.as_slice()]).unwrap() == 0 {
                context.wait_for_progress();
            }
            client.reply_dropped();
        }
    }
}

/// A server that reads `messages` requests, checks them, and replies to none.
fn one_way_server(messages: u32) -> impl Fn(&Context, Server<Model>) + Sync {
    move |context, mut server| {
        let mut buffer = [0; 32];
        for expected in requests(messages) {
            let len = loop {
                match server.next_request(&mut buffer).unwrap() {
                    Some(len) => break len,
                    None => context.wait_for_progress(),
                }
            };
            assert_eq!(&buffer[..len], expected.as_slice());
        }
    }
}

/// A client that sleeps on `client_waiting` when there is no reply, and notifies the server
/// when `peer_waiting` says so.
fn sleeping_client(messages: u32) -> impl Fn(&Context, Client<Model>) + Sync {
    move |context, mut client| {
        let requests = requests(messages);
        let (mut sent, mut received) = (0, 0);
        let mut buffer = [0; 32];
        while received < requests.len() {
            if sent < requests.len() {
                let published = client
                    .submit(requests[sent..].iter().map(Vec::as_slice))
                    .unwrap();
                sent += published;
                if published > 0 && client.peer_waiting().unwrap() {
                    context.futex_wake(offset::SERVER_WAITING);
                }
            }
            match client.poll_reply(&mut buffer).unwrap() {
                Some(len) => {
                    let expected = reply_to(&requests[received]);
                    assert_eq!(&buffer[..len], expected.as_slice(), "reply {received}");
                    received += 1;
                }
                None => {
                    if client.set_waiting().unwrap() {
                        context.futex_wait(offset::CLIENT_WAITING, 1);
                        client.clear_waiting().unwrap();
                    }
                }
            }
        }
    }
}

/// A server that sleeps on `server_waiting` when there is no request, and notifies the client
/// when `peer_waiting` says so. With `naive`, it sets its flag and sleeps without looking at
/// the ring again: the lost wake-up the protocol exists to prevent.
fn sleeping_server(messages: u32, naive: bool) -> impl Fn(&Context, Server<Model>) + Sync {
    move |context, mut server| {
        let mut buffer = [0; 32];
        let mut served = 0;
        while served < messages {
            match server.next_request(&mut buffer).unwrap() {
                Some(len) => {
                    let reply = reply_to(&buffer[..len]);
                    assert_eq!(server.reply([reply.as_slice()]).unwrap(), 1);
                    if server.peer_waiting().unwrap() {
                        context.futex_wake(offset::CLIENT_WAITING);
                    }
                    served += 1;
                }
                None if naive => {
                    let flag = offset::SERVER_WAITING;
                    server
                        .memory()
                        .store_u32(flag, 1, Ordering::Relaxed)
                        .unwrap();
                    context.futex_wait(flag, 1);
                    server.clear_waiting().unwrap();
                }
                None => {
                    if server.set_waiting().unwrap() {
                        context.futex_wait(offset::SERVER_WAITING, 1);
                        server.clear_waiting().unwrap();
                    }
                }
            }
        }
    }
}

/// Runs a search, prints its size and time, and returns it.
fn search<C, S>(name: &str, scenario: &Scenario<C, S>) -> Search
where
    C: Fn(&Context, Client<Model>) + Sync,
    S: Fn(&Context, Server<Model>) + Sync,
{
    let started = Instant::now();
    let result = explore(scenario);
    match &result {
        Ok(runs) => eprintln!("{name}: {runs} interleavings in {:?}", started.elapsed()),
        Err(failure) => eprintln!("{name}: found in {:?}: {failure}", started.elapsed()),
    }
    result
}

fn new_scenario<C, S>(
    slots: u32,
    start: u32,
    bound: Option<usize>,
    client: C,
    server: S,
) -> Scenario<C, S> {
    Scenario {
        geometry: Geometry::new(slots, 16).unwrap(),
        start,
        bound,
        weaken: Weaken::default(),
        client,
        server,
    }
}

// Sizes are chosen to keep `cargo test` quick (each search's size and time is printed with
// `--nocapture`): about 3,000 interleavings a second in a debug build. Where the full space is
// too large, the search is bounded by preemptions (switches away from a thread that could have
// gone on; blocking switches are free), as in CHESS: most concurrency bugs need one or two.

#[test]
fn every_interleaving_of_one_round_trip() {
    let scenario = new_scenario(1, u32::MAX, None, batching_client(1), echo_server(1));
    let runs = search("1 slot, 1 round trip, unbounded", &scenario).unwrap();
    assert!(runs > 100);
}

#[test]
fn every_interleaving_of_two_round_trips_across_the_wrap() {
    // Counters start at u32::MAX: the second message is counter 0.
    let scenario = new_scenario(2, u32::MAX, None, batching_client(2), echo_server(2));
    let runs = search("2 slots, 2 round trips, unbounded", &scenario).unwrap();
    assert!(runs > 10_000);
}

#[test]
fn every_interleaving_of_three_one_way_messages_reusing_two_slots() {
    let scenario = new_scenario(2, u32::MAX, None, one_way_client(3), one_way_server(3));
    let runs = search("2 slots, 3 one-way messages, unbounded", &scenario).unwrap();
    assert!(runs > 1_000);
}

#[test]
fn four_round_trips_reusing_two_slots_with_three_preemptions() {
    let scenario = new_scenario(2, u32::MAX - 2, Some(3), batching_client(4), echo_server(4));
    let runs = search("2 slots, 4 round trips, 3 preemptions", &scenario).unwrap();
    assert!(runs > 1_000);
}

#[test]
fn six_round_trips_in_batches_with_two_preemptions() {
    let scenario = new_scenario(4, u32::MAX - 3, Some(2), batching_client(6), echo_server(6));
    let runs = search("4 slots, 6 round trips, 2 preemptions", &scenario).unwrap();
    assert!(runs > 500);
}

#[test]
fn sleeping_and_notifying_never_loses_a_wake_up() {
    let scenario = new_scenario(
        2,
        u32::MAX,
        Some(3),
        sleeping_client(2),
        sleeping_server(2, false),
    );
    let runs = search("sleep and notify, 2 round trips, 3 preemptions", &scenario).unwrap();
    assert!(runs > 1_000);
    let scenario = new_scenario(
        2,
        u32::MAX,
        Some(3),
        sleeping_client(3),
        sleeping_server(3, false),
    );
    let runs = search("sleep and notify, 3 round trips, 3 preemptions", &scenario).unwrap();
    assert!(runs > 5_000);
}

/// A mutant must fail the search, with a message that contains `expected`.
fn assert_found<C, S>(name: &str, scenario: &Scenario<C, S>, expected: &str)
where
    C: Fn(&Context, Client<Model>) + Sync,
    S: Fn(&Context, Server<Model>) + Sync,
{
    match search(name, scenario) {
        Ok(runs) => panic!("{name}: {runs} interleavings and no failure"),
        Err(failure) => assert!(failure.contains(expected), "{name}: {failure}"),
    }
}

#[test]
fn mutant_relaxed_memory_orders_are_caught() {
    const TAILS: &[usize] = &[offset::REQUEST_TAIL, offset::REPLY_TAIL];
    const HEADS: &[usize] = &[offset::REQUEST_HEAD, offset::REPLY_HEAD];
    for (name, weaken) in [
        (
            "Relaxed tail stores",
            Weaken {
                release_stores: TAILS,
                ..Weaken::default()
            },
        ),
        (
            "Relaxed tail loads",
            Weaken {
                acquire_loads: TAILS,
                ..Weaken::default()
            },
        ),
        (
            "Relaxed head stores",
            Weaken {
                release_stores: HEADS,
                ..Weaken::default()
            },
        ),
        (
            "Relaxed head loads",
            Weaken {
                acquire_loads: HEADS,
                ..Weaken::default()
            },
        ),
    ] {
        let mut scenario = new_scenario(1, u32::MAX, Some(2), one_way_client(3), one_way_server(3));
        scenario.weaken = weaken;
        assert_found(name, &scenario, "data race");
    }
}

#[test]
fn mutant_sleeping_without_a_second_look_is_caught() {
    let scenario = new_scenario(2, 0, Some(2), sleeping_client(2), sleeping_server(2, true));
    assert_found("naive sleeper", &scenario, "deadlock");
}
