//! The scheduler of the interleaving checker: runs a scenario's two threads one scheduling
//! point at a time, in the order a replayed prefix of choices dictates, and searches all
//! orders depth-first.

use std::cell::Cell;
use std::collections::HashMap;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;

use lux9_ring::layout::HEADER_SIZE;
use lux9_ring::{Client, Geometry, Server, initialise_with_counters};

use crate::model::{Byte, Clock, Model, Weaken, Word};

pub(crate) const THREADS: usize = 2;
pub(crate) const CLIENT: usize = 0;
pub(crate) const SERVER: usize = 1;
/// Scheduling points one run may take before it is declared a livelock.
pub(crate) const MAX_POINTS: usize = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// Spawned, not yet at its first scheduling point.
    Starting,
    /// At a scheduling point, ready to run.
    Ready,
    Running,
    Blocked(Block),
    Finished,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Block {
    /// Until the other thread stores to any word: a consumer that found its ring empty, a
    /// producer that found it full.
    Progress,
    /// Until a futex wake on this word.
    Futex(usize),
}

/// One multi-way decision of the scheduler: which of `options` threads ran.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Choice {
    pub(crate) index: usize,
    pub(crate) options: usize,
}

/// Everything one run shares between its threads, behind one mutex.
pub(crate) struct State {
    pub(crate) status: [Status; THREADS],
    pub(crate) running: Option<usize>,
    pub(crate) last: Option<usize>,
    /// Indices to take at the first multi-way decisions (the prefix being replayed).
    pub(crate) replay: Vec<usize>,
    pub(crate) trace: Vec<Choice>,
    /// Thread ids in the order they were scheduled, for the failure report.
    pub(crate) schedule: Vec<usize>,
    pub(crate) preemptions: usize,
    pub(crate) bound: Option<usize>,
    pub(crate) points: usize,
    pub(crate) failure: Option<String>,
    pub(crate) words: HashMap<usize, Word>,
    /// The region past the header page: the slots.
    pub(crate) bytes: Vec<Byte>,
    pub(crate) clocks: [Clock; THREADS],
    /// Release clocks read by Relaxed loads, joined at the next acquire fence.
    pub(crate) pending_acquire: [Clock; THREADS],
    /// Each thread's clock at its last release fence, carried by its Relaxed stores.
    pub(crate) fence_release: [Clock; THREADS],
    pub(crate) weaken: Weaken,
}

impl State {
    pub(crate) fn fail(&mut self, message: String) {
        if self.failure.is_none() {
            self.failure = Some(message);
        }
    }

    /// Picks the next thread to run, once no thread is starting and none is running.
    pub(crate) fn schedule(&mut self) {
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
}

/// A run's shared state and the condition variable its threads wait on.
pub(crate) struct Run {
    pub(crate) state: Mutex<State>,
    pub(crate) turn: Condvar,
}

/// The payload a thread unwinds with when the run was aborted by a failure elsewhere.
pub(crate) struct Aborted;

impl Run {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits until `thread` is scheduled; aborts the thread if the run failed.
    pub(crate) fn wait_turn<'a>(
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
    pub(crate) fn point(&self, thread: usize) -> MutexGuard<'_, State> {
        let mut state = self.lock();
        state.status[thread] = Status::Ready;
        state.running = None;
        state.schedule();
        self.turn.notify_all();
        self.wait_turn(state, thread)
    }

    /// `thread` blocks until `block` is lifted, then waits for its turn.
    pub(crate) fn block<'a>(
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

    pub(crate) fn finish(&self, thread: usize, failure: Option<String>) {
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

/// What a scenario thread may do besides running endpoint code: wait like a real thread
/// would, with no busy loop (the search must end).
pub(crate) struct Context {
    pub(crate) run: Arc<Run>,
    pub(crate) thread: usize,
}

impl Context {
    /// Waits until the other thread stores something (its ring moved).
    pub(crate) fn wait_for_progress(&self) {
        let state = self.run.lock();
        drop(self.run.block(state, self.thread, Block::Progress));
    }

    /// `futex_wait(word, expected)`: sleeps if the word still holds `expected`, until a
    /// `futex_wake` on it.
    pub(crate) fn futex_wait(&self, at: usize, expected: u32) {
        let mut state = self.run.point(self.thread);
        let value = state.words.get(&at).map_or(0, |word| word.value);
        state.tick(Some(self.thread), false);
        if value == expected {
            drop(self.run.block(state, self.thread, Block::Futex(at)));
        }
    }

    /// `futex_wake(word)`: wakes every thread sleeping on it.
    pub(crate) fn futex_wake(&self, at: usize) {
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
pub(crate) struct Scenario<C, S> {
    pub(crate) geometry: Geometry,
    pub(crate) start: u32,
    pub(crate) bound: Option<usize>,
    pub(crate) weaken: Weaken,
    pub(crate) client: C,
    pub(crate) server: S,
}

/// The outcome of a search: runs explored, or the first failure and the schedule that led to
/// it (thread ids, one per scheduling point).
pub(crate) type Search = Result<usize, String>;

pub(crate) fn explore<C, S>(scenario: &Scenario<C, S>) -> Search
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

pub(crate) fn run_once<C, S>(
    scenario: &Scenario<C, S>,
    replay: &[usize],
) -> Result<Vec<Choice>, String>
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
pub(crate) fn guarded(context: &Context, body: impl FnOnce()) {
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
