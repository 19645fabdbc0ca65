//! An exhaustive interleaving checker for the ring protocol, run by plain `cargo test` (and so
//! by CI). loom (tests/loom.rs) checks the same under the C11 weak memory model, but only
//! with `--cfg loom`; this file needs nothing but std.
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

mod common;

use std::cell::Cell;
use std::collections::HashMap;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::Instant;

use common::numbered;
use lux9_ring::layout::{HEADER_SIZE, offset};
use lux9_ring::{Client, Geometry, Memory, RingError, Server, initialise_with_counters};

const THREADS: usize = 2;
const CLIENT: usize = 0;
const SERVER: usize = 1;
/// Scheduling points one run may take before it is declared a livelock.
const MAX_POINTS: usize = 10_000;

type Clock = [u64; THREADS];

fn join(into: &mut Clock, other: &Clock) {
    for (mine, theirs) in into.iter_mut().zip(other) {
        *mine = (*mine).max(*theirs);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    /// Spawned, not yet at its first scheduling point.
    Starting,
    /// At a scheduling point, ready to run.
    Ready,
    Running,
    Blocked(Block),
    Finished,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Block {
    /// Until the other thread stores to any word: a consumer that found its ring empty, a
    /// producer that found it full.
    Progress,
    /// Until a futex wake on this word.
    Futex(usize),
}

/// Memory orders to weaken, for the mutant tests.
#[derive(Clone, Copy, Debug, Default)]
struct Weaken {
    /// Release stores to these words act as Relaxed.
    release_stores: &'static [usize],
    /// Acquire loads of these words act as Relaxed.
    acquire_loads: &'static [usize],
}

#[derive(Clone, Copy, Debug)]
struct Word {
    value: u32,
    /// The clock a Release store left here (for Acquire loads to join).
    release: Clock,
}

#[derive(Clone, Copy, Debug, Default)]
struct Byte {
    value: u8,
    /// The last write: thread and its epoch. None: written before the threads started.
    write: Option<(usize, u64)>,
    /// Each thread's last read epoch since that write.
    reads: [Option<u64>; THREADS],
}

/// One multi-way decision of the scheduler: which of `options` threads ran.
#[derive(Clone, Copy, Debug)]
struct Choice {
    index: usize,
    options: usize,
}

/// Everything one run shares between its threads, behind one mutex.
struct State {
    status: [Status; THREADS],
    running: Option<usize>,
    last: Option<usize>,
    /// Indices to take at the first multi-way decisions (the prefix being replayed).
    replay: Vec<usize>,
    trace: Vec<Choice>,
    /// Thread ids in the order they were scheduled, for the failure report.
    schedule: Vec<usize>,
    preemptions: usize,
    bound: Option<usize>,
    points: usize,
    failure: Option<String>,
    words: HashMap<usize, Word>,
    /// The region past the header page: the slots.
    bytes: Vec<Byte>,
    clocks: [Clock; THREADS],
    /// Release clocks read by Relaxed loads, joined at the next acquire fence.
    pending_acquire: [Clock; THREADS],
    /// Each thread's clock at its last release fence, carried by its Relaxed stores.
    fence_release: [Clock; THREADS],
    weaken: Weaken,
}

impl State {
    fn fail(&mut self, message: String) {
        if self.failure.is_none() {
            self.failure = Some(message);
        }
    }

    /// Picks the next thread to run, once no thread is starting and none is running.
    fn schedule(&mut self) {
        if self.failure.is_some() || self.status.contains(&Status::Starting) {
            return;
        }
        let ready: Vec<usize> = (0..THREADS)
            .filter(|&thread| self.status[thread] == Status::Ready)
            .collect();
        if ready.is_empty() {
            if self.status.iter().any(|&status| status != Status::Finished) {
                let message = format!("deadlock: {:?}", self.status);
                self.fail(message);
            }
            return;
        }
        // The thread that ran last goes first (no preemption), then the others.
        let continuing = self.last.filter(|last| ready.contains(last));
        let mut options: Vec<usize> = continuing.into_iter().collect();
        options.extend(ready.iter().filter(|&&thread| Some(thread) != continuing));
        if continuing.is_some() && self.bound == Some(self.preemptions) {
            options.truncate(1);
        }
        let mut index = 0;
        if options.len() > 1 {
            index = self.replay.get(self.trace.len()).copied().unwrap_or(0);
            if index >= options.len() {
                self.fail("the replayed run diverged: the scenario is not deterministic".into());
                return;
            }
            self.trace.push(Choice {
                index,
                options: options.len(),
            });
        }
        let chosen = options[index];
        if continuing.is_some_and(|last| last != chosen) {
            self.preemptions += 1;
        }
        self.points += 1;
        if self.points > MAX_POINTS {
            self.fail(format!(
                "livelock: more than {MAX_POINTS} scheduling points"
            ));
            return;
        }
        self.schedule.push(chosen);
        self.last = Some(chosen);
        self.running = Some(chosen);
    }

    fn word(&mut self, at: usize) -> Result<&mut Word, RingError> {
        if at >= HEADER_SIZE || !at.is_multiple_of(4) {
            return Err(RingError::OutOfBounds { offset: at, len: 4 });
        }
        Ok(self.words.entry(at).or_insert(Word {
            value: 0,
            release: [0; THREADS],
        }))
    }

    /// The effects of a store (or the store half of a swap) by `thread` on happens-before.
    fn released(&mut self, thread: Option<usize>, at: usize, order: Ordering) -> Clock {
        let Some(thread) = thread else {
            return [0; THREADS];
        };
        let release = matches!(
            order,
            Ordering::Release | Ordering::AcqRel | Ordering::SeqCst
        ) && !self.weaken.release_stores.contains(&at);
        if release {
            self.clocks[thread]
        } else {
            self.fence_release[thread]
        }
    }

    /// The effects of a load (or the load half of a swap) by `thread` of a word whose release
    /// clock is `release`.
    fn acquired(&mut self, thread: Option<usize>, at: usize, order: Ordering, release: Clock) {
        let Some(thread) = thread else {
            return;
        };
        let acquire = matches!(
            order,
            Ordering::Acquire | Ordering::AcqRel | Ordering::SeqCst
        ) && !self.weaken.acquire_loads.contains(&at);
        if acquire {
            join(&mut self.clocks[thread], &release);
        } else {
            join(&mut self.pending_acquire[thread], &release);
        }
    }

    /// After any atomic operation of `thread`: a new epoch, and the other thread, if it waits
    /// for progress, may go on when this was a store.
    fn tick(&mut self, thread: Option<usize>, stored: bool) {
        if let Some(thread) = thread {
            self.clocks[thread][thread] += 1;
            if stored {
                for other in 0..THREADS {
                    if other != thread && self.status[other] == Status::Blocked(Block::Progress) {
                        self.status[other] = Status::Ready;
                    }
                }
            }
        }
    }

    /// Checks a slot access for races and records it.
    fn access(
        &mut self,
        thread: Option<usize>,
        at: usize,
        len: usize,
        write: bool,
    ) -> Result<std::ops::Range<usize>, RingError> {
        let bounds = RingError::OutOfBounds { offset: at, len };
        if at < HEADER_SIZE {
            return Err(bounds);
        }
        let start = at - HEADER_SIZE;
        let end = start.checked_add(len).ok_or(bounds)?;
        if end > self.bytes.len() {
            return Err(bounds);
        }
        let Some(thread) = thread else {
            return Ok(start..end);
        };
        let clock = self.clocks[thread];
        let epoch = clock[thread];
        for index in start..end {
            let byte = &mut self.bytes[index];
            let mut race = None;
            if let Some((writer, when)) = byte.write
                && writer != thread
                && when > clock[writer]
            {
                race = Some(("written", writer));
            }
            if write {
                for (reader, read) in byte.reads.iter().enumerate() {
                    if reader != thread && read.is_some_and(|when| when > clock[reader]) {
                        race = Some(("read", reader));
                    }
                }
            }
            if let Some((what, other)) = race {
                let verb = if write { "writes" } else { "reads" };
                let message = format!(
                    "data race: thread {thread} {verb} slot byte {:#x}, {what} by thread {other} \
                     with no happens-before between them",
                    index + HEADER_SIZE
                );
                self.fail(message);
                return Err(bounds);
            }
            if write {
                byte.write = Some((thread, epoch));
                byte.reads = [None; THREADS];
            } else {
                byte.reads[thread] = Some(epoch);
            }
        }
        Ok(start..end)
    }
}

/// A run's shared state and the condition variable its threads wait on.
struct Run {
    state: Mutex<State>,
    turn: Condvar,
}

/// The payload a thread unwinds with when the run was aborted by a failure elsewhere.
struct Aborted;

impl Run {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits until `thread` is scheduled; aborts the thread if the run failed.
    fn wait_turn<'a>(
        &'a self,
        mut state: MutexGuard<'a, State>,
        thread: usize,
    ) -> MutexGuard<'a, State> {
        while state.running != Some(thread) && state.failure.is_none() {
            state = self
                .turn
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        if state.failure.is_some() {
            drop(state);
            panic::resume_unwind(Box::new(Aborted));
        }
        state.status[thread] = Status::Running;
        state
    }

    /// A scheduling point: `thread` stops, the scheduler picks who goes on.
    fn point(&self, thread: usize) -> MutexGuard<'_, State> {
        let mut state = self.lock();
        state.status[thread] = Status::Ready;
        state.running = None;
        state.schedule();
        self.turn.notify_all();
        self.wait_turn(state, thread)
    }

    /// `thread` blocks until `block` is lifted, then waits for its turn.
    fn block<'a>(
        &'a self,
        mut state: MutexGuard<'a, State>,
        thread: usize,
        block: Block,
    ) -> MutexGuard<'a, State> {
        state.status[thread] = Status::Blocked(block);
        state.running = None;
        state.schedule();
        self.turn.notify_all();
        self.wait_turn(state, thread)
    }

    fn finish(&self, thread: usize, failure: Option<String>) {
        let mut state = self.lock();
        if let Some(message) = failure {
            state.fail(message);
        }
        state.status[thread] = Status::Finished;
        if state.running == Some(thread) || state.running.is_none() {
            state.running = None;
            state.schedule();
        }
        self.turn.notify_all();
    }
}

/// The `Memory` the endpoints run on in the model: unbound (setting up, before the threads
/// start, with no scheduling and no race checks) or bound to a thread.
struct Model {
    run: Arc<Run>,
    thread: Cell<Option<usize>>,
    len: usize,
}

impl Model {
    /// Starts an atomic operation: a scheduling point once bound to a thread.
    fn operation(&self) -> MutexGuard<'_, State> {
        match self.thread.get() {
            Some(thread) => self.run.point(thread),
            None => self.run.lock(),
        }
    }

    /// Aborts the calling thread if the run has failed (a race found inside a copy).
    fn check(&self, state: MutexGuard<'_, State>) {
        if self.thread.get().is_some() && state.failure.is_some() {
            self.run.turn.notify_all();
            drop(state);
            panic::resume_unwind(Box::new(Aborted));
        }
    }
}

impl Memory for Model {
    fn len(&self) -> usize {
        self.len
    }

    fn load_u32(&self, at: usize, order: Ordering) -> Result<u32, RingError> {
        let mut state = self.operation();
        let word = *state.word(at)?;
        state.acquired(self.thread.get(), at, order, word.release);
        state.tick(self.thread.get(), false);
        Ok(word.value)
    }

    fn store_u32(&self, at: usize, value: u32, order: Ordering) -> Result<(), RingError> {
        let mut state = self.operation();
        state.word(at)?;
        let release = state.released(self.thread.get(), at, order);
        *state.word(at)? = Word { value, release };
        state.tick(self.thread.get(), true);
        Ok(())
    }

    fn swap_u32(&self, at: usize, value: u32, order: Ordering) -> Result<u32, RingError> {
        let mut state = self.operation();
        let old = *state.word(at)?;
        state.acquired(self.thread.get(), at, order, old.release);
        // A read-modify-write continues the release sequence of the store before it.
        let mut release = state.released(self.thread.get(), at, order);
        join(&mut release, &old.release);
        *state.word(at)? = Word { value, release };
        state.tick(self.thread.get(), true);
        Ok(old.value)
    }

    fn fence_seq_cst(&self) {
        let mut state = self.operation();
        if let Some(thread) = self.thread.get() {
            // Acquire half: what Relaxed loads read becomes visible. Release half: later
            // Relaxed stores carry this clock. Fences are not made to synchronise with each
            // other, which makes this model stricter, never looser, than C11 about races.
            let pending = state.pending_acquire[thread];
            join(&mut state.clocks[thread], &pending);
            state.fence_release[thread] = state.clocks[thread];
        }
        state.tick(self.thread.get(), false);
    }

    fn read(&self, at: usize, destination: &mut [u8]) -> Result<(), RingError> {
        let mut state = self.run.lock();
        let range = state.access(self.thread.get(), at, destination.len(), false);
        let Ok(range) = range else {
            self.check(state);
            return Err(RingError::OutOfBounds {
                offset: at,
                len: destination.len(),
            });
        };
        for (to, from) in destination.iter_mut().zip(&state.bytes[range]) {
            *to = from.value;
        }
        Ok(())
    }

    fn write(&self, at: usize, source: &[u8]) -> Result<(), RingError> {
        let mut state = self.run.lock();
        let range = state.access(self.thread.get(), at, source.len(), true);
        let Ok(range) = range else {
            self.check(state);
            return Err(RingError::OutOfBounds {
                offset: at,
                len: source.len(),
            });
        };
        for (to, from) in state.bytes[range].iter_mut().zip(source) {
            to.value = *from;
        }
        Ok(())
    }
}

/// What a scenario thread may do besides running endpoint code: wait like a real thread
/// would, with no busy loop (the search must end).
struct Context {
    run: Arc<Run>,
    thread: usize,
}

impl Context {
    /// Waits until the other thread stores something (its ring moved).
    fn wait_for_progress(&self) {
        let state = self.run.lock();
        drop(self.run.block(state, self.thread, Block::Progress));
    }

    /// `futex_wait(word, expected)`: sleeps if the word still holds `expected`, until a
    /// `futex_wake` on it.
    fn futex_wait(&self, at: usize, expected: u32) {
        let mut state = self.run.point(self.thread);
        let value = state.words.get(&at).map_or(0, |word| word.value);
        state.tick(Some(self.thread), false);
        if value == expected {
            drop(self.run.block(state, self.thread, Block::Futex(at)));
        }
    }

    /// `futex_wake(word)`: wakes every thread sleeping on it.
    fn futex_wake(&self, at: usize) {
        let mut state = self.run.point(self.thread);
        for status in &mut state.status {
            if *status == Status::Blocked(Block::Futex(at)) {
                *status = Status::Ready;
            }
        }
        state.tick(Some(self.thread), false);
    }
}

/// A scenario: the geometry, the counters' start, and what each thread does.
struct Scenario<C, S> {
    geometry: Geometry,
    start: u32,
    bound: Option<usize>,
    weaken: Weaken,
    client: C,
    server: S,
}

/// The outcome of a search: runs explored, or the first failure and the schedule that led to
/// it (thread ids, one per scheduling point).
type Search = Result<usize, String>;

fn explore<C, S>(scenario: &Scenario<C, S>) -> Search
where
    C: Fn(&Context, Client<Model>) + Sync,
    S: Fn(&Context, Server<Model>) + Sync,
{
    let mut replay = Vec::new();
    let mut runs = 0;
    loop {
        let trace = run_once(scenario, &replay)?;
        runs += 1;
        // Depth-first: the deepest decision with an untried option gets its next option.
        let mut trace = trace;
        loop {
            match trace.pop() {
                None => return Ok(runs),
                Some(choice) if choice.index + 1 < choice.options => {
                    replay = trace.iter().map(|choice| choice.index).collect();
                    replay.push(choice.index + 1);
                    break;
                }
                Some(_) => {}
            }
        }
    }
}

fn run_once<C, S>(scenario: &Scenario<C, S>, replay: &[usize]) -> Result<Vec<Choice>, String>
where
    C: Fn(&Context, Client<Model>) + Sync,
    S: Fn(&Context, Server<Model>) + Sync,
{
    let geometry = scenario.geometry;
    let mut clocks = [[0; THREADS]; THREADS];
    for (thread, clock) in clocks.iter_mut().enumerate() {
        clock[thread] = 1;
    }
    let run = Arc::new(Run {
        state: Mutex::new(State {
            status: [Status::Starting; THREADS],
            running: None,
            last: None,
            replay: replay.to_vec(),
            trace: Vec::new(),
            schedule: Vec::new(),
            preemptions: 0,
            bound: scenario.bound,
            points: 0,
            failure: None,
            words: HashMap::new(),
            bytes: vec![Byte::default(); geometry.region_len() - HEADER_SIZE],
            clocks,
            pending_acquire: [[0; THREADS]; THREADS],
            fence_release: [[0; THREADS]; THREADS],
            weaken: scenario.weaken,
        }),
        turn: Condvar::new(),
    });
    let unbound = || Model {
        run: Arc::clone(&run),
        thread: Cell::new(None),
        len: geometry.region_len(),
    };
    initialise_with_counters(&unbound(), geometry, scenario.start).expect("initialise");
    // Attach before the threads start, then bind each endpoint's memory to its thread: the
    // header reads are not part of the concurrency under test.
    let client = Client::attach(unbound()).expect("attach the client");
    let server = Server::attach(unbound()).expect("attach the server");
    client.memory().thread.set(Some(CLIENT));
    server.memory().thread.set(Some(SERVER));

    thread::scope(|scope| {
        let client_run = Arc::clone(&run);
        scope.spawn(move || {
            let context = Context {
                run: client_run,
                thread: CLIENT,
            };
            guarded(&context, || {
                drop(context.run.point(CLIENT));
                (scenario.client)(&context, client);
            });
        });
        let server_run = Arc::clone(&run);
        scope.spawn(move || {
            let context = Context {
                run: server_run,
                thread: SERVER,
            };
            guarded(&context, || {
                drop(context.run.point(SERVER));
                (scenario.server)(&context, server);
            });
        });
    });
    let state = run.lock();
    match &state.failure {
        Some(failure) => Err(format!(
            "{failure}\n  schedule ({} points, 0 = client, 1 = server): {:?}",
            state.schedule.len(),
            state.schedule
        )),
        None => Ok(state.trace.clone()),
    }
}

/// Runs a thread's part, turning a panic into the run's failure, and marks it finished.
fn guarded(context: &Context, body: impl FnOnce()) {
    let outcome = panic::catch_unwind(AssertUnwindSafe(body));
    let failure = match outcome {
        Ok(()) => None,
        Err(payload) if payload.is::<Aborted>() => None,
        Err(payload) => Some(
            payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|text| text.to_string()))
                .unwrap_or_else(|| "a thread panicked".into()),
        ),
    };
    context.run.finish(context.thread, failure);
}

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
