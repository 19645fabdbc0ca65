//! A client thread and a server thread exchange tens of thousands of messages through one
//! region, in batches, with counters crossing u32::MAX; every reply is checked for order and
//! content. Once spinning, once sleeping through the waiting flags.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread;
use std::time::Duration;

use common::{Rng, numbered, ring_region};
use lux9_ring::{Client, Geometry, RingMemory, Server};

const MESSAGES: u32 = 40_000;
const MAX_BODY: usize = 50;

/// The server's answer to a request: the same bytes with the type byte plus one (Tx -> Rx).
fn answer(request: &[u8]) -> Vec<u8> {
    let mut reply = request.to_vec();
    reply[4] = reply[4].wrapping_add(1);
    reply
}

/// Serves `MESSAGES` requests, replying in batches of whatever has arrived. `idle` is called
/// when there is nothing to read.
fn serve(mut server: Server<RingMemory<'_>>, mut idle: impl FnMut(&mut Server<RingMemory<'_>>)) {
    let mut served = 0;
    let mut buffer = vec![0; server.geometry().max_message() as usize];
    let mut replies = Vec::new();
    while served < MESSAGES {
        while let Some(len) = server.next_request(&mut buffer).unwrap() {
            replies.push(answer(&buffer[..len]));
        }
        if replies.is_empty() {
            idle(&mut server);
            continue;
        }
        // An honest client never has more requests outstanding than the reply ring holds.
        let published = server.reply(replies.iter().map(Vec::as_slice)).unwrap();
        assert_eq!(published, replies.len());
        served += published as u32;
        replies.clear();
    }
}

/// Submits `MESSAGES` requests in random batches and checks every reply. `idle` is called when
/// there is nothing to do but wait for replies; `published` after each submit.
fn run_client(
    mut client: Client<RingMemory<'_>>,
    seed: u64,
    mut published: impl FnMut(&mut Client<RingMemory<'_>>),
    mut idle: impl FnMut(&mut Client<RingMemory<'_>>),
) {
    let mut rng = Rng::new(seed);
    let mut next_to_send = 0;
    let mut next_reply = 0;
    let mut buffer = vec![0; client.geometry().max_message() as usize];
    while next_reply < MESSAGES {
        let batch_len = (rng.below(12) as u32 + 1).min(MESSAGES - next_to_send);
        let batch: Vec<Vec<u8>> = (next_to_send..next_to_send + batch_len)
            .map(|sequence| numbered(100, sequence, MAX_BODY))
            .collect();
        let sent = client.submit(batch.iter().map(Vec::as_slice)).unwrap();
        next_to_send += sent as u32;
        if sent > 0 {
            published(&mut client);
        }
        let mut got_any = false;
        while let Some(len) = client.poll_reply(&mut buffer).unwrap() {
            let expected = answer(&numbered(100, next_reply, MAX_BODY));
            assert_eq!(&buffer[..len], expected.as_slice(), "reply {next_reply}");
            next_reply += 1;
            got_any = true;
        }
        if !got_any && (sent == 0 || next_to_send == MESSAGES) {
            idle(&mut client);
        }
    }
    assert_eq!(client.outstanding(), 0);
}

#[test]
fn spinning_threads_exchange_messages_in_order() {
    // 8 slots of 64 bytes: the rings are full and empty over and over.
    let geometry = Geometry::new(8, 64).unwrap();
    let region = ring_region(geometry, u32::MAX - 20_000);
    thread::scope(|scope| {
        let server = Server::attach(region.memory()).unwrap();
        let client = Client::attach(region.memory()).unwrap();
        scope.spawn(move || serve(server, |_| thread::yield_now()));
        scope.spawn(move || run_client(client, 7, |_| {}, |_| thread::yield_now()));
    });
    assert!(region.guards_intact());
}

/// A thread's sleep on its waiting flag, with `park` standing in for `futex_wait` and `unpark`
/// for the notify system call. Counts the wake-ups that only the timeout delivered: each would
/// have been a lost wake-up (a hang) with a real futex.
struct Sleeper {
    thread: thread::Thread,
    lost: AtomicU32,
    sleeps: AtomicU32,
    notifies: AtomicU32,
}

impl Sleeper {
    fn new() -> Sleeper {
        Sleeper {
            thread: thread::current(),
            lost: AtomicU32::new(0),
            sleeps: AtomicU32::new(0),
            notifies: AtomicU32::new(0),
        }
    }

    /// Sleeps while `flag_set()` holds, as futex_wait(flag, 1) would.
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

    fn notify(&self) {
        self.notifies.fetch_add(1, Ordering::Relaxed);
        self.thread.unpark();
    }
}

#[test]
fn sleeping_threads_are_woken_by_notify_and_no_wake_up_is_lost() {
    use lux9_ring::Memory;
    use lux9_ring::layout::offset;

    let geometry = Geometry::new(4, 64).unwrap();
    let region = ring_region(geometry, u32::MAX - 3);
    let flag = |at| region.memory().load_u32(at, Ordering::Relaxed).unwrap() != 0;
    let client_sleeper = std::sync::OnceLock::<Sleeper>::new();
    let server_sleeper = std::sync::OnceLock::<Sleeper>::new();
    let ready = AtomicBool::new(false);
    thread::scope(|scope| {
        let server = Server::attach(region.memory()).unwrap();
        let client = Client::attach(region.memory()).unwrap();
        let (client_sleeper, server_sleeper, ready) = (&client_sleeper, &server_sleeper, &ready);
        scope.spawn(move || {
            server_sleeper.get_or_init(Sleeper::new);
            while client_sleeper.get().is_none() {
                thread::yield_now();
            }
            ready.store(true, Ordering::Release);
            let mut server = server;
            let mut buffer = vec![0; 60];
            let mut served = 0;
            while served < MESSAGES {
                let mut replies = Vec::new();
                while let Some(len) = server.next_request(&mut buffer).unwrap() {
                    replies.push(answer(&buffer[..len]));
                }
                if replies.is_empty() {
                    if server.set_waiting().unwrap() {
                        server_sleeper
                            .get()
                            .unwrap()
                            .sleep(|| flag(offset::SERVER_WAITING));
                        server.clear_waiting().unwrap();
                    }
                    continue;
                }
                served += server.reply(replies.iter().map(Vec::as_slice)).unwrap() as u32;
                if server.peer_waiting().unwrap() {
                    client_sleeper.get().unwrap().notify();
                }
            }
        });
        scope.spawn(move || {
            client_sleeper.get_or_init(Sleeper::new);
            while !ready.load(Ordering::Acquire) {
                thread::yield_now();
            }
            run_client(
                client,
                11,
                |client| {
                    if client.peer_waiting().unwrap() {
                        server_sleeper.get().unwrap().notify();
                    }
                },
                |client| {
                    if client.set_waiting().unwrap() {
                        client_sleeper
                            .get()
                            .unwrap()
                            .sleep(|| flag(offset::CLIENT_WAITING));
                        client.clear_waiting().unwrap();
                    }
                },
            );
        });
    });
    let (client, server) = (client_sleeper.get().unwrap(), server_sleeper.get().unwrap());
    let lost = client.lost.load(Ordering::Relaxed) + server.lost.load(Ordering::Relaxed);
    assert_eq!(lost, 0, "wake-ups lost");
    let sleeps = client.sleeps.load(Ordering::Relaxed) + server.sleeps.load(Ordering::Relaxed);
    let notifies =
        client.notifies.load(Ordering::Relaxed) + server.notifies.load(Ordering::Relaxed);
    assert!(
        sleeps > 0,
        "the threads never slept: the test checked nothing"
    );
    eprintln!("{sleeps} sleeps, {notifies} notifies for {MESSAGES} round trips");
    assert!(region.guards_intact());
}
