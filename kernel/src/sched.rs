//! The scheduler: preemptive round robin with priorities, on one CPU.
//!
//! Threads are user threads (ring 3, in a process's address space) or kernel threads (ring 0,
//! optionally with an address space of their own). Both are switched the same way
//! (`arch::context::switch`); what differs is what the switch changes on the way:
//! - CR3, when the next thread has an address space;
//! - the kernel stack for entries from ring 3 (TSS.RSP0 and the syscall stack), for user threads;
//! - the FPU/SSE registers, saved eagerly when a user thread leaves the CPU to another user
//!   thread and restored for the next one; kernel threads (soft-float) leave them alone, so a
//!   user thread that loses the CPU to a kernel thread and gets it back pays nothing.
//!
//! Priorities 0 (highest) to 3 each have a FIFO ready queue; the highest non-empty queue runs.
//! A thread runs for a 10 ms slice before an equal-priority thread gets the CPU; a ready thread
//! of higher priority preempts at the next timer tick. The idle thread (the boot context) runs
//! when nothing else is ready and halts until the next interrupt.
//!
//! All scheduler state sits behind one interrupt-disabling lock. A switch happens with
//! interrupts disabled and the lock released; the thread that resumes re-enables interrupts as
//! its own saved state says.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use lux9_abi::syscall::PRIORITY_LEVELS;
use x86_64::instructions::interrupts;

use crate::arch::address_space::{self, Activation, AddressSpace};
use crate::arch::context::{self, MAX_THREADS};
use crate::arch::fpu::FpuState;
use crate::arch::percpu;
use crate::arch::sync::IrqMutex;
use crate::memory::kstack::KernelStack;
use crate::process::Pid;

pub type Tid = usize;
pub type SharedSpace = Arc<IrqMutex<AddressSpace>>;

/// Timer ticks a thread may run before an equal-priority thread gets the CPU.
pub const TIME_SLICE_TICKS: u32 = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadState {
    Ready,
    Running,
    Blocked,
    Dead,
}

pub struct Thread {
    pub tid: Tid,
    /// The owning process; [`crate::process::KERNEL_PID`] for kernel threads.
    pub pid: Pid,
    pub state: ThreadState,
    pub priority: usize,
    pub user: bool,
    stack: Option<KernelStack>,
    fpu: Option<Box<FpuState>>,
    space: Option<SharedSpace>,
    /// CR3 for `space`, loadable without locking it.
    activation: Option<Activation>,
    /// An address space the thread borrowed for a colocated server call: while set, it is
    /// what switching to the thread loads (see [`in_borrowed_space`]).
    borrowed: Option<&'static Activation>,
    wake_at: u64,
    slice_left: u32,
    /// Times this thread was switched in.
    pub switches_in: u64,
    /// Message-passing state (see `ipc`).
    pub ipc: crate::ipc::ThreadIpc,
    /// `kill` marked the thread's process: it ends on its way back to ring 3.
    killed: bool,
    /// Blocked in a wait that a kill may end early (`wait`, `sleep`, a console read), as
    /// opposed to one inside the kernel's own work (a disk transfer), which must finish.
    interruptible: bool,
}

impl Thread {
    /// Whether `kill` marked the thread: it must not start a new wait.
    pub(crate) fn is_killed(&self) -> bool {
        self.killed
    }

    /// Top of the thread's kernel stack (user and spawned kernel threads have one).
    pub(crate) fn stack_top(&self) -> Option<u64> {
        self.stack.as_ref().map(|stack| stack.top())
    }
}

pub(crate) struct Scheduler {
    threads: Vec<Option<Box<Thread>>>,
    free_tids: Vec<Tid>,
    ready: [VecDeque<Tid>; PRIORITY_LEVELS],
    current: Tid,
    idle: Tid,
    /// Blocked sleepers, by wake-up tick, earliest first.
    sleepers: Vec<Tid>,
    /// Dead threads whose stacks can be freed once another thread runs.
    dead: Vec<Tid>,
    /// The user thread whose state is in the FPU registers.
    fpu_owner: Option<Tid>,
    /// The (main) thread of each process, for IPC addressed by pid.
    by_pid: alloc::collections::BTreeMap<Pid, Tid>,
}

static SCHED: IrqMutex<Option<Scheduler>> = IrqMutex::new(None);
static TOTAL_SWITCHES: AtomicU64 = AtomicU64::new(0);
/// TSC counts spent in `hand_over` (picking done, before the stack switch), summed.
static SWITCH_CYCLES: AtomicU64 = AtomicU64::new(0);

/// Average TSC counts of the switch bookkeeping (CR3, FPU, kernel stack) per switch.
pub fn cycles_per_switch() -> u64 {
    SWITCH_CYCLES
        .load(Ordering::Relaxed)
        .checked_div(TOTAL_SWITCHES.load(Ordering::Relaxed))
        .unwrap_or(0)
}

impl Scheduler {
    pub(crate) fn thread(&mut self, tid: Tid) -> &mut Thread {
        self.threads[tid].as_deref_mut().expect("live thread id")
    }

    /// The thread with id `tid`, if it exists.
    pub(crate) fn thread_opt(&mut self, tid: Tid) -> Option<&mut Thread> {
        self.threads.get_mut(tid).and_then(|t| t.as_deref_mut())
    }

    /// The running thread.
    pub(crate) fn current(&self) -> Tid {
        self.current
    }

    /// The main thread of process `pid`.
    pub(crate) fn thread_of(&self, pid: Pid) -> Option<Tid> {
        self.by_pid.get(&pid).copied()
    }

    /// Every live thread id.
    pub(crate) fn thread_ids(&self) -> impl Iterator<Item = Tid> + '_ {
        self.threads
            .iter()
            .enumerate()
            .filter(|(_, t)| t.is_some())
            .map(|(tid, _)| tid)
    }

    /// Marks a blocked thread ready and queues it.
    pub(crate) fn unblock(&mut self, tid: Tid) {
        if self.thread(tid).state == ThreadState::Blocked {
            self.sleepers.retain(|&t| t != tid);
            self.make_ready(tid);
        }
    }

    /// Makes the timer wake the running thread at `tick` (it must then block).
    pub(crate) fn sleep_current_until(&mut self, tick: u64) {
        let current = self.current;
        self.thread(current).wake_at = tick;
        let at = self.sleepers.partition_point(|&t| {
            self.threads[t]
                .as_deref()
                .is_some_and(|t| t.wake_at <= tick)
        });
        self.sleepers.insert(at, current);
    }

    /// Marks the running thread blocked (the caller then returns `After::Block` or a switch).
    pub(crate) fn block_current_thread(&mut self) {
        let current = self.current;
        self.thread(current).state = ThreadState::Blocked;
    }

    fn make_ready(&mut self, tid: Tid) {
        let thread = self.thread(tid);
        thread.state = ThreadState::Ready;
        let priority = thread.priority;
        self.ready[priority].push_back(tid);
    }

    fn highest_ready(&self) -> Option<usize> {
        self.ready.iter().position(|queue| !queue.is_empty())
    }

    fn pick_next(&mut self) -> Tid {
        match self.highest_ready() {
            Some(level) => self.ready[level].pop_front().expect("non-empty queue"),
            None => self.idle,
        }
    }

    fn add(&mut self, mut thread: Box<Thread>) -> Result<Tid, Box<Thread>> {
        let tid = match self.free_tids.pop() {
            Some(tid) => tid,
            None if self.threads.len() < MAX_THREADS => {
                self.threads.push(None);
                self.threads.len() - 1
            }
            None => return Err(thread),
        };
        thread.tid = tid;
        self.threads[tid] = Some(thread);
        Ok(tid)
    }

    /// Everything that changes when `next` takes the CPU from `prev`, except the stacks.
    /// (The IPC fastpath does the same inline for its common case; see `activate_thread`.)
    fn hand_over(&mut self, prev: Tid, next: Tid) {
        let started = crate::arch::cpu::rdtsc();
        TOTAL_SWITCHES.fetch_add(1, Ordering::Relaxed);
        let next_thread = self.thread(next);
        next_thread.state = ThreadState::Running;
        next_thread.slice_left = TIME_SLICE_TICKS;
        next_thread.switches_in += 1;
        if next_thread.user && self.fpu_owner != Some(next) {
            if let Some(owner) = self.fpu_owner
                && let Some(thread) = self.threads[owner].as_deref_mut()
                && let Some(fpu) = thread.fpu.as_deref_mut()
            {
                fpu.save();
            }
            let next_thread = self.thread(next);
            if let Some(fpu) = next_thread.fpu.as_deref() {
                fpu.restore();
            }
            self.fpu_owner = Some(next);
        }
        let next_thread = self.thread(next);
        if let Some(activation) = next_thread.borrowed.or(next_thread.activation.as_ref()) {
            activation.activate();
        }
        if let Some(stack) = &next_thread.stack {
            percpu::set_kernel_stack(stack.top());
        }
        let _ = prev;
        SWITCH_CYCLES.fetch_add(
            crate::arch::cpu::rdtsc().wrapping_sub(started),
            Ordering::Relaxed,
        );
    }
}

/// What a switch to `next` changes besides saving the previous FPU state: counters, the FPU
/// state of `next` (which the caller has made the owner), CR3 and the ring-0 stack.
#[inline]
fn activate_thread(next: &mut Thread) {
    TOTAL_SWITCHES.fetch_add(1, Ordering::Relaxed);
    next.state = ThreadState::Running;
    next.slice_left = TIME_SLICE_TICKS;
    next.switches_in += 1;
    if let Some(fpu) = next.fpu.as_deref() {
        fpu.restore();
    }
    if let Some(activation) = next.borrowed.or(next.activation.as_ref()) {
        activation.activate();
    }
    if let Some(stack) = &next.stack {
        percpu::set_kernel_stack(stack.top());
    }
}

/// Turns the running boot context into the idle thread. Called once, before any other thread.
pub fn init() {
    let idle = Box::new(Thread {
        tid: 0,
        pid: crate::process::KERNEL_PID,
        state: ThreadState::Running,
        priority: PRIORITY_LEVELS - 1,
        user: false,
        stack: None,
        fpu: None,
        space: None,
        activation: None,
        borrowed: None,
        wake_at: 0,
        slice_left: TIME_SLICE_TICKS,
        switches_in: 0,
        ipc: crate::ipc::ThreadIpc::default(),
        killed: false,
        interruptible: false,
    });
    let mut scheduler = Scheduler {
        threads: Vec::with_capacity(64),
        free_tids: Vec::new(),
        ready: core::array::from_fn(|_| VecDeque::with_capacity(64)),
        current: 0,
        idle: 0,
        sleepers: Vec::new(),
        dead: Vec::new(),
        fpu_owner: None,
        by_pid: alloc::collections::BTreeMap::new(),
    };
    let tid = scheduler
        .add(idle)
        .unwrap_or_else(|_| unreachable!("the table is empty"));
    scheduler.idle = tid;
    scheduler.current = tid;
    *SCHED.lock() = Some(scheduler);
}

fn with<R>(f: impl FnOnce(&mut Scheduler) -> R) -> R {
    f(SCHED.lock().as_mut().expect("sched::init has run"))
}

/// Why a thread could not be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpawnError {
    NoMemory,
    TooManyThreads,
}

fn new_thread(
    pid: Pid,
    user: bool,
    space: Option<SharedSpace>,
) -> Result<(Box<Thread>, KernelStack), SpawnError> {
    let stack = KernelStack::new().ok_or(SpawnError::NoMemory)?;
    let thread = Box::new(Thread {
        tid: 0,
        pid,
        state: ThreadState::Ready,
        priority: lux9_abi::syscall::DEFAULT_PRIORITY,
        user,
        stack: None,
        fpu: user.then(|| Box::new(FpuState::initial())),
        activation: space.as_ref().map(|space| space.lock().activation()),
        borrowed: None,
        space,
        wake_at: 0,
        slice_left: TIME_SLICE_TICKS,
        switches_in: 0,
        ipc: crate::ipc::ThreadIpc::default(),
        killed: false,
        interruptible: false,
    });
    Ok((thread, stack))
}

fn insert(
    mut thread: Box<Thread>,
    stack: KernelStack,
    prepare: impl FnOnce(Tid, &KernelStack),
) -> Result<Tid, SpawnError> {
    interrupts::without_interrupts(|| {
        with(|s| {
            thread.stack = None;
            let tid = s.add(thread).map_err(|_| SpawnError::TooManyThreads)?;
            prepare(tid, &stack);
            let thread = s.thread(tid);
            thread.stack = Some(stack);
            let (user, pid) = (thread.user, thread.pid);
            if user {
                s.by_pid.entry(pid).or_insert(tid);
            }
            s.make_ready(tid);
            Ok(tid)
        })
    })
}

/// Starts a ring-3 thread of process `pid` at `rip` with stack `rsp`; `args` (pointer, length)
/// arrive in rdi and rsi.
pub fn spawn_user(
    pid: Pid,
    space: SharedSpace,
    rip: u64,
    rsp: u64,
    args: (u64, u64),
) -> Result<Tid, SpawnError> {
    let (thread, stack) = new_thread(pid, true, Some(space))?;
    insert(thread, stack, |tid, stack| {
        context::prepare_user_stack(tid, stack.bottom(), stack.top(), rip, rsp, args)
    })
}

/// Starts a kernel thread running `entry(arg)`, in its own address space if `space` is given.
pub fn spawn_kernel(
    entry: extern "C" fn(u64),
    arg: u64,
    space: Option<SharedSpace>,
) -> Result<Tid, SpawnError> {
    let (thread, stack) = new_thread(crate::process::KERNEL_PID, false, space)?;
    insert(thread, stack, |tid, stack| {
        context::prepare_kernel_stack(tid, stack.bottom(), stack.top(), entry, arg)
    })
}

/// Picks the next thread and switches to it. `requeue` puts the current thread back in its
/// ready queue (a yield or preemption) instead of leaving it blocked or dead.
/// Interrupts must be disabled.
fn reschedule(requeue: bool) {
    let switch = with(|s| {
        let prev = s.current;
        if requeue && prev != s.idle && s.thread(prev).state == ThreadState::Running {
            s.make_ready(prev);
        }
        let next = s.pick_next();
        if next == prev {
            s.thread(prev).state = ThreadState::Running;
            return None;
        }
        s.current = next;
        s.hand_over(prev, next);
        Some((prev, next))
    });
    if let Some((prev, next)) = switch {
        context::switch(prev, next);
        reap();
    }
}

/// Set when a thread died and awaits `reap`, so that switches can skip the lock otherwise.
static DEAD_PENDING: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Frees the stacks and state of dead threads (never the running one).
fn reap() {
    if !DEAD_PENDING.load(Ordering::Relaxed) {
        return;
    }
    let dead: Vec<Box<Thread>> = with(|s| {
        if s.dead.is_empty() {
            return Vec::new();
        }
        let current = s.current;
        let mut freed = Vec::new();
        let mut kept = Vec::new();
        for tid in core::mem::take(&mut s.dead) {
            if tid == current {
                kept.push(tid);
                continue;
            }
            context::forget(tid);
            if s.fpu_owner == Some(tid) {
                s.fpu_owner = None;
            }
            if let Some(thread) = s.threads[tid].take() {
                freed.push(thread);
            }
            s.free_tids.push(tid);
        }
        DEAD_PENDING.store(!kept.is_empty(), Ordering::Relaxed);
        s.dead = kept;
        freed
    });
    drop(dead); // unmaps the stacks, drops address-space references
}

/// Gives the CPU to the next ready thread of the same or higher priority, if any.
pub fn yield_now() {
    interrupts::without_interrupts(|| reschedule(true));
}

/// Blocks the current thread until [`wake`]. The caller must have recorded, with interrupts
/// disabled since, where the waker will find this thread's id: no wake-up can be lost in
/// between because nothing else runs on this CPU until the switch.
pub fn block_current() {
    assert!(
        !interrupts::are_enabled(),
        "block_current needs interrupts disabled"
    );
    with(|s| {
        let current = s.current;
        s.thread(current).state = ThreadState::Blocked;
    });
    reschedule(false);
}

/// Like [`block_current`], for a wait that `kill` may end early: returns `false` at once if
/// the running thread is marked killed, or after waking if a kill woke it; `true` after an
/// ordinary wake-up. The caller's loop gives up on `false` (its thread ends on the way out).
pub fn block_current_interruptible() -> bool {
    assert!(
        !interrupts::are_enabled(),
        "block_current_interruptible needs interrupts disabled"
    );
    let killed = with(|s| {
        let current = s.current;
        let thread = s.thread(current);
        if thread.killed {
            return true;
        }
        thread.interruptible = true;
        thread.state = ThreadState::Blocked;
        false
    });
    if killed {
        return false;
    }
    reschedule(false);
    with(|s| {
        let current = s.current;
        let thread = s.thread(current);
        thread.interruptible = false;
        !thread.killed
    })
}

/// Threads marked killed that have not ended yet. While it is 0 (nearly always) the check on
/// every return to ring 3 is this one load.
static KILLS_PENDING: AtomicUsize = AtomicUsize::new(0);

/// Marks threads `tids` (of a process being killed) so that each ends on its way back to ring
/// 3, and wakes those blocked in a wait a kill may end: IPC and futex waits (which fail; see
/// `ipc::interrupt`), `sleep`, `wait` and console reads. A thread doing the kernel's own work
/// (a disk transfer, a colocated server call) finishes it first.
pub fn kill_threads(tids: &[Tid]) {
    with_state(|s| {
        for &tid in tids {
            let Some(thread) = s.thread_opt(tid) else {
                continue;
            };
            if thread.killed || thread.state == ThreadState::Dead {
                continue;
            }
            thread.killed = true;
            KILLS_PENDING.fetch_add(1, Ordering::Relaxed);
            if thread.state != ThreadState::Blocked {
                continue;
            }
            let interruptible = thread.interruptible;
            if !crate::ipc::interrupt(s, tid, lux9_abi::Error::PeerDead) && interruptible {
                s.unblock(tid);
            }
        }
    })
}

/// Whether the running thread's process was killed (its thread must end before ring 3).
#[inline]
pub fn current_killed() -> bool {
    KILLS_PENDING.load(Ordering::Relaxed) != 0
        && with_state(|s| {
            let current = s.current;
            s.thread(current).killed
        })
}

/// Makes a blocked thread ready. Does nothing if it is not blocked (already woken, or dead).
pub fn wake(tid: Tid) {
    interrupts::without_interrupts(|| {
        with(|s| {
            if s.threads
                .get(tid)
                .and_then(|t| t.as_deref())
                .is_some_and(|t| t.state == ThreadState::Blocked)
            {
                s.sleepers.retain(|&t| t != tid);
                s.make_ready(tid);
            }
        })
    })
}

/// Makes a blocked thread ready from an interrupt handler, and switches to it at once when the
/// CPU was idle or it outranks the running thread, so that a device's completion does not wait
/// for the next timer tick. Must run with interrupts disabled, after the interrupt's EOI.
pub fn wake_from_interrupt(tid: Tid) {
    let preempt = with(|s| {
        let Some(woken) = s.threads.get(tid).and_then(|t| t.as_deref()) else {
            return false;
        };
        if woken.state != ThreadState::Blocked {
            return false;
        }
        let priority = woken.priority;
        s.sleepers.retain(|&t| t != tid);
        s.make_ready(tid);
        let current = s.current;
        current == s.idle || priority < s.thread(current).priority
    });
    if preempt {
        reschedule(true);
    }
}

/// Whether the running thread is the idle thread (boot code before the first switch runs as
/// it), which must never block.
pub fn current_is_idle() -> bool {
    SCHED.lock().as_ref().is_none_or(|s| s.current == s.idle)
}

/// Sleeps until the timer reaches `tick`, or until a kill ends the sleep (the `sleep` system
/// call; kernel code that sleeps to pace a device uses [`sleep_until`]).
pub fn sleep_until_interruptible(tick: u64) {
    interrupts::without_interrupts(|| {
        let due = with(|s| {
            if crate::time::ticks() >= tick {
                return true;
            }
            let current = s.current;
            if s.thread(current).killed {
                return true;
            }
            s.sleep_current_until(tick);
            s.thread(current).interruptible = true;
            false
        });
        if !due {
            block_current();
            with(|s| {
                let current = s.current;
                s.thread(current).interruptible = false;
            });
        }
    })
}

/// Sleeps until the timer reaches `tick`.
pub fn sleep_until(tick: u64) {
    interrupts::without_interrupts(|| {
        let due = with(|s| {
            if crate::time::ticks() >= tick {
                return true;
            }
            s.sleep_current_until(tick);
            false
        });
        if !due {
            block_current();
        }
    })
}

/// Called by the timer interrupt after its EOI: wakes sleepers and preempts when the current
/// thread's slice is over or a higher-priority thread is ready.
pub fn tick(now: u64) {
    let preempt = match SCHED.lock().as_mut() {
        None => false,
        Some(s) => {
            while let Some(&tid) = s.sleepers.first() {
                if s.thread(tid).wake_at > now {
                    break;
                }
                s.sleepers.remove(0);
                if s.thread(tid).state == ThreadState::Blocked {
                    s.make_ready(tid);
                }
            }
            let current = s.current;
            match s.highest_ready() {
                None => false,
                Some(_) if current == s.idle => true,
                Some(level) => {
                    let thread = s.thread(current);
                    thread.slice_left = thread.slice_left.saturating_sub(1);
                    level < thread.priority || (level == thread.priority && thread.slice_left == 0)
                }
            }
        }
    };
    if preempt {
        reschedule(true);
    }
}

/// The idle loop: runs whatever becomes ready, halts otherwise. Never returns.
pub fn idle_loop() -> ! {
    loop {
        interrupts::disable();
        let ready = with(|s| s.highest_ready().is_some());
        if ready {
            reschedule(true);
        }
        // `sti; hlt` is atomic: a wake-up that arrives after the check still ends the halt.
        crate::arch::cpu::wait_for_interrupt();
    }
}

/// Ends the current thread. Its stack is freed after the next switch.
pub fn exit_current() -> ! {
    interrupts::disable();
    with(|s| {
        let current = s.current;
        crate::ipc::thread_exiting(s, current);
        let thread = s.thread(current);
        if thread.killed {
            KILLS_PENDING.fetch_sub(1, Ordering::Relaxed);
        }
        thread.state = ThreadState::Dead;
        thread.activation = None;
        thread.space = None;
        let pid = thread.pid;
        if s.by_pid.get(&pid) == Some(&current) {
            s.by_pid.remove(&pid);
        }
        s.dead.push(current);
        DEAD_PENDING.store(true, Ordering::Relaxed);
    });
    reschedule(false);
    unreachable!("a dead thread was scheduled again")
}

/// Where a kernel thread's entry function returns to.
pub fn exit_current_kernel_thread() -> ! {
    exit_current()
}

/// The running thread.
pub fn current() -> Tid {
    with(|s| s.current)
}

/// The process of the running thread.
pub fn current_pid() -> Pid {
    with(|s| {
        let current = s.current;
        s.thread(current).pid
    })
}

/// The running thread's address space, if it has one.
pub fn current_space() -> Option<SharedSpace> {
    with(|s| {
        let current = s.current;
        s.thread(current).space.clone()
    })
}

/// Sets the running thread's priority (0 = highest).
pub fn set_current_priority(level: usize) -> bool {
    if level >= PRIORITY_LEVELS {
        return false;
    }
    with(|s| {
        let current = s.current;
        s.thread(current).priority = level;
    });
    true
}

/// Context switches since boot.
pub fn total_switches() -> u64 {
    TOTAL_SWITCHES.load(Ordering::Relaxed)
}

/// Switches into thread `tid` so far (0 for a thread that no longer exists).
pub fn thread_switches(tid: Tid) -> u64 {
    with(|s| {
        s.threads
            .get(tid)
            .and_then(|t| t.as_deref())
            .map_or(0, |t| t.switches_in)
    })
}

/// Runs `f` on the running thread inside the address space `space` (a colocated server's):
/// CR3 changes, the privilege level and the stack do not, and no other thread runs. If the
/// thread blocks or is preempted inside `f`, switching back to it restores `space`. Afterwards
/// the thread's own address space is active again.
pub fn in_borrowed_space<R>(space: &'static Activation, f: impl FnOnce() -> R) -> R {
    with_state(|s| {
        let current = s.current;
        s.thread(current).borrowed = Some(space);
        space.activate();
    });
    let result = f();
    with_state(|s| {
        let current = s.current;
        let thread = s.thread(current);
        thread.borrowed = None;
        match &thread.activation {
            Some(own) => own.activate(),
            None => address_space::activate_kernel(),
        }
    });
    result
}

/// State, priority and switch count of thread `tid`, if it exists.
pub fn thread_summary(tid: Tid) -> Option<(ThreadState, usize, u64)> {
    with_state(|s| {
        s.thread_opt(tid)
            .map(|t| (t.state, t.priority, t.switches_in))
    })
}

/// Drops the address space of the running thread's process before that process's frames are
/// freed, so CR3 never points at freed tables.
pub fn leave_address_space() {
    interrupts::without_interrupts(|| {
        with(|s| {
            let current = s.current;
            let thread = s.thread(current);
            thread.activation = None;
            thread.space = None;
        });
        address_space::activate_kernel();
    })
}

/// What an IPC operation does once it has changed thread states under the scheduler lock.
pub(crate) enum After {
    /// Return to the caller.
    Continue,
    /// The running thread is blocked: run whatever is ready.
    Block,
}

/// Runs an IPC step `f` under the scheduler lock with interrupts disabled, then blocks or
/// switches as it says. Returns when the caller runs again.
pub(crate) fn ipc_op<R>(f: impl FnOnce(&mut Scheduler) -> (R, After)) -> R {
    interrupts::without_interrupts(|| {
        let (result, after) = with(f);
        match after {
            After::Continue => {}
            After::Block => reschedule(false),
        }
        result
    })
}

/// Which IPC operation the fastpath completes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FastKind {
    /// `call`: the peer must be receiving from us (or anyone); we then await its reply.
    Call,
    /// `reply_recv`: the peer must await our reply and no one may be queued to send to us;
    /// we then receive from anyone.
    ReplyRecv,
}

/// The IPC fastpath: hands the short message `(info, words)` from the running thread straight
/// into the registers of process `dest_pid`'s thread and switches to it, under one lock
/// acquisition and without a run-queue pass, if the preconditions hold (see `ipc`). Returns
/// false, having changed nothing, when they do not. Interrupts must be disabled. When it
/// returns true the running thread has been switched away and resumed again.
pub(crate) fn ipc_fast_handoff(kind: FastKind, frame: &crate::arch::syscall::SyscallFrame) -> bool {
    let dest_pid = frame.rdi as Pid;
    use crate::ipc::Wait;
    let switched = {
        let mut guard = SCHED.lock();
        let Some(s) = guard.as_mut() else {
            return false;
        };
        let me = s.current;
        let cached = s
            .threads
            .get(me)
            .and_then(|t| t.as_deref())
            .and_then(|t| t.ipc.peer_cache);
        let dest = match cached {
            Some((pid, tid)) if pid == dest_pid => tid,
            _ => match s.by_pid.get(&dest_pid) {
                Some(&tid) => tid,
                None => return false,
            },
        };
        let Ok([Some(mine), Some(theirs)]) = s.threads.get_disjoint_mut([me, dest]) else {
            return false;
        };
        let ready = theirs.pid == dest_pid
            && !mine.killed
            && theirs.state == ThreadState::Blocked
            && theirs.priority <= mine.priority
            && match kind {
                FastKind::Call => match theirs.ipc.wait {
                    Wait::Receiving { from: None } => true,
                    Wait::Receiving { from: Some(pid) } => pid == mine.pid,
                    _ => false,
                },
                FastKind::ReplyRecv => {
                    matches!(theirs.ipc.wait, Wait::AwaitingReply { from } if from == me)
                        && mine.ipc.senders.is_empty()
                        && mine.ipc.notifications == 0
                }
            };
        let Some(top) = theirs.stack.as_ref().map(|stack| stack.top()) else {
            return false;
        };
        if !ready {
            return false;
        }
        crate::arch::syscall::with_blocked_frame(top, |theirs| {
            theirs.set_message(mine.pid as u64, frame.rsi, &frame.message_words())
        });
        theirs.ipc.wait = Wait::None;
        mine.ipc.wait = match kind {
            FastKind::Call => Wait::AwaitingReply { from: dest },
            FastKind::ReplyRecv => Wait::Receiving { from: None },
        };
        mine.ipc.stats.fastpath += 1;
        mine.ipc.peer_cache = Some((dest_pid, dest));
        mine.state = ThreadState::Blocked;
        s.current = dest;
        // The usual case: both are user threads and ours is the state in the FPU.
        if s.fpu_owner == Some(me) && theirs.user {
            let started = crate::arch::cpu::rdtsc();
            if let Some(fpu) = mine.fpu.as_deref_mut() {
                fpu.save();
            }
            s.fpu_owner = Some(dest);
            activate_thread(theirs);
            SWITCH_CYCLES.fetch_add(
                crate::arch::cpu::rdtsc().wrapping_sub(started),
                Ordering::Relaxed,
            );
        } else {
            s.hand_over(me, dest);
        }
        (me, dest)
    };
    context::switch(switched.0, switched.1);
    reap();
    true
}

/// Runs `f` on the scheduler state, for IPC bookkeeping that does not block.
pub(crate) fn with_state<R>(f: impl FnOnce(&mut Scheduler) -> R) -> R {
    interrupts::without_interrupts(|| with(f))
}
