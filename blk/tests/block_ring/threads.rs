//! The server's endpoint and the kernel's on two threads, exchanging 100,000 requests through
//! one region with the counters crossing u32::MAX: the kernel completes them out of order,
//! and every response must come back once, with the status and count its request deserves.
//! Once spinning, once with the server sleeping on its waiting flag.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::Duration;

use lux9_blk::ring::layout::offset;
use lux9_blk::ring::{Geometry, Kernel, Request, Server, Taken};
use lux9_ring::{HeapRegion, Memory, RingMemory};

use crate::support::{Audit, Rng, audited_kernel, expected_response, responses, some_request};

const REQUESTS: u64 = 100_000;

/// The server's sleep on `server_waiting`, with `park` standing in for `futex_wait` and
/// `unpark` for the futex wake. Counts the sleeps only a timeout ended: with a real futex
/// each would have been a lost wake-up.
struct Sleeper {
    thread: thread::Thread,
    sleeps: AtomicU32,
    lost: AtomicU32,
}

impl Sleeper {
    fn sleep(&self, flag_set: impl Fn() -> bool) {
        self.sleeps.fetch_add(1, Ordering::Relaxed);
        let mut waited = Duration::ZERO;
        while flag_set() {
            thread::park_timeout(Duration::from_millis(50));
            waited += Duration::from_millis(50);
            if waited >= Duration::from_secs(5) {
                self.lost.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
    }
}

/// Submits `REQUESTS` requests in random batches (a few malformed or out of range) and checks
/// every response. `idle` runs when there is nothing to do but wait.
fn run_server(
    mut server: Server<RingMemory<'_>>,
    seed: u64,
    mut idle: impl FnMut(&mut Server<RingMemory<'_>>),
) {
    let target = crate::support::target();
    let mut rng = Rng::new(seed);
    let mut next_id = 0;
    let mut waiting: HashMap<u64, Request> = HashMap::new();
    let mut answered = 0;
    let mut out = responses(server.geometry().entry_count() as usize);
    let mut pending: Vec<Request> = Vec::new();
    while answered < REQUESTS {
        if pending.is_empty() && next_id < REQUESTS {
            let batch = (rng.below(12) + 1).min(REQUESTS - next_id);
            pending = (next_id..next_id + batch)
                .map(|id| some_request(&mut rng, id, 10))
                .collect();
            next_id += batch;
        }
        let sent = server.submit(&pending).unwrap();
        for request in pending.drain(..sent) {
            waiting.insert(request.id, request);
        }
        let polled = server.poll(&mut out).unwrap();
        for response in &out[..polled] {
            let request = waiting
                .remove(&response.id)
                .unwrap_or_else(|| panic!("response to {} twice or never asked", response.id));
            assert_eq!(*response, expected_response(&request, &target));
        }
        answered += polled as u64;
        if polled == 0 && (sent == 0 || pending.is_empty()) {
            idle(&mut server);
        }
    }
    assert!(waiting.is_empty());
    assert_eq!(server.outstanding(), 0);
}

/// Takes requests and completes them as `expected_response` says, holding up to a few back
/// and completing them in a shuffled order, until `REQUESTS` are answered. `published` gets
/// whether the server must be woken.
fn run_kernel(mut kernel: Kernel<Audit<'_>>, seed: u64, mut published: impl FnMut(bool)) {
    let mut rng = Rng::new(seed);
    let count = kernel.geometry().entry_count() as usize;
    let mut taken = vec![Taken::default(); count];
    let mut device: Vec<Taken> = Vec::new();
    let mut completed = 0;
    while completed < REQUESTS {
        let n = kernel
            .take(&mut taken[..rng.below(count as u64) as usize + 1])
            .unwrap();
        device.extend_from_slice(&taken[..n]);
        // The device finishes some of what it holds, in any order; everything once the
        // server has nothing more to send.
        let finish = if n == 0 {
            device.len()
        } else {
            rng.below(device.len() as u64 + 1) as usize
        };
        for _ in 0..finish {
            let one = device.swap_remove(rng.below(device.len() as u64) as usize);
            let response = expected_response(&one.request, kernel.target());
            kernel
                .complete(response.id, response.status, response.count)
                .unwrap();
            completed += 1;
        }
        published(kernel.publish().unwrap());
        if n == 0 && finish == 0 {
            thread::yield_now();
        }
    }
    assert_eq!(kernel.in_flight(), 0);
}

#[test]
fn spinning_threads_exchange_100_000_requests() {
    let geometry = Geometry::new(8).unwrap();
    let region = HeapRegion::new(geometry.region_len());
    let kernel = audited_kernel(
        &region,
        geometry,
        crate::support::target(),
        u32::MAX - 5_000,
    );
    let server = Server::attach(region.memory()).unwrap();
    thread::scope(|scope| {
        scope.spawn(move || run_kernel(kernel, 3, |_| {}));
        scope.spawn(move || run_server(server, 5, |_| thread::yield_now()));
    });
    let sq_tail = region.memory().load_u32(offset::SQ_TAIL, Ordering::Relaxed);
    assert_eq!(
        sq_tail,
        Ok((u32::MAX - 5_000).wrapping_add(REQUESTS as u32))
    );
    assert!(region.guards_intact());
}

#[test]
fn a_sleeping_server_is_woken_and_no_wake_up_is_lost() {
    let geometry = Geometry::new(4).unwrap();
    let region = HeapRegion::new(geometry.region_len());
    let kernel = audited_kernel(&region, geometry, crate::support::target(), u32::MAX - 2);
    let server = Server::attach(region.memory()).unwrap();
    let sleeper = std::sync::OnceLock::<Sleeper>::new();
    let flag = || {
        region
            .memory()
            .load_u32(offset::SERVER_WAITING, Ordering::Relaxed)
            .unwrap()
            != 0
    };
    let wakes = AtomicU32::new(0);
    thread::scope(|scope| {
        let (sleeper, wakes, flag) = (&sleeper, &wakes, &flag);
        scope.spawn(move || {
            sleeper.get_or_init(|| Sleeper {
                thread: thread::current(),
                sleeps: AtomicU32::new(0),
                lost: AtomicU32::new(0),
            });
            run_server(server, 9, |server| {
                if server.set_waiting().unwrap() {
                    sleeper.get().unwrap().sleep(flag);
                    server.clear_waiting().unwrap();
                }
            });
        });
        scope.spawn(move || {
            while sleeper.get().is_none() {
                thread::yield_now();
            }
            run_kernel(kernel, 7, |wake| {
                if wake {
                    wakes.fetch_add(1, Ordering::Relaxed);
                    sleeper.get().unwrap().thread.unpark();
                }
            });
        });
    });
    let sleeper = sleeper.get().unwrap();
    assert_eq!(sleeper.lost.load(Ordering::Relaxed), 0, "wake-ups lost");
    let sleeps = sleeper.sleeps.load(Ordering::Relaxed);
    assert!(
        sleeps > 0,
        "the server never slept: the test checked nothing"
    );
    eprintln!(
        "{sleeps} sleeps, {} wake-ups for {REQUESTS} requests",
        wakes.load(Ordering::Relaxed)
    );
    assert!(region.guards_intact());
}
