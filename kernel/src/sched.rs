//! The scheduler: preemptive round robin with priorities, on one CPU.
//!
//! Threads are user threads (ring 3, in a process's address space) or kernel threads (ring 0,
//! optionally with an address space of their own). Both are switched the same way
//! (`arch::context::switch`); what differs is what the switch changes on the way:
//! - CR3, when the next thread has an address space;
//! - the kernel stack for entries from ring 3 (TSS.RSP0 and the syscall stack), for user threads;
//! - the FPU/SSE registers, lazily: they keep the state of the last user thread that used
//!   them (`fpu_owner`), and any other user thread runs with CR0.TS set, so that its first x87
//!   or SSE instruction traps (#NM) to [`fpu_trap`], which saves the owner's state and loads
//!   its own. A switch only sets or clears TS when that changes; threads that never use the
//!   FPU (most programs: they are built soft-float) never pay for it, and kernel threads
//!   (soft-float too) leave it alone.
//!
//! One switch primitive, [`HandOver::switch`], serves the scheduler's switches
//! ([`Scheduler::hand_over`], after picking the next thread) and the IPC fastpath's
//! (`ipc::fastpath`, which has its two threads already).
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
use core::sync::atomic::{AtomicU64, Ordering};

use lux9_abi::syscall::PRIORITY_LEVELS;
use x86_64::instructions::interrupts;

use crate::arch::address_space::{self, Activation, AddressSpace};
use crate::arch::context::{self, MAX_THREADS};
use crate::arch::fpu::{self, FpuState};
use crate::arch::percpu;
use crate::arch::sync::IrqMutex;
use crate::memory::kstack::KernelStack;
use crate::process::Pid;

/// A thread id: the index of a thread in the scheduler's table (and of its saved context in
/// `arch::context`). Never seen by user space, which names processes ([`Pid`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tid(usize);

impl Tid {
    /// The table index.
    pub const fn index(self) -> usize {
        self.0
    }

    /// The thread id of table index `index`, for code that keeps ids in atomics.
    pub(crate) const fn from_index(index: usize) -> Self {
        Self(index)
    }
}

impl core::fmt::Display for Tid {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.fmt(f)
    }
}
pub type SharedSpace = Arc<IrqMutex<AddressSpace>>;

/// `fpu_owner` when the FPU registers hold no thread's state.
const NO_FPU_OWNER: Tid = Tid(usize::MAX);

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
    /// `stack`'s top (0 without one), kept at hand for switches and the IPC fastpath.
    stack_top: u64,
    /// A user thread's FPU/SSE state while it is off the CPU (unused for kernel threads).
    fpu: FpuState,
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
    #[inline(always)]
    pub(crate) fn stack_top(&self) -> Option<u64> {
        (self.stack_top != 0).then_some(self.stack_top)
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
    /// The user thread whose state is in the FPU registers (it need not be running), or
    /// [`NO_FPU_OWNER`].
    fpu_owner: Tid,
    /// Whether CR0.TS is set: the running user thread is not `fpu_owner`.
    fpu_trapping: bool,
    /// The (main) thread of each process, for IPC addressed by pid.
    by_pid: alloc::collections::BTreeMap<Pid, Tid>,
}

/// The scheduler, empty until [`init`] adds the idle thread: before that a timer tick finds
/// nothing to do and the boot code counts as the idle thread.
static SCHED: IrqMutex<Scheduler> = IrqMutex::new(Scheduler {
    threads: Vec::new(),
    free_tids: Vec::new(),
    ready: [const { VecDeque::new() }; PRIORITY_LEVELS],
    current: Tid(0),
    idle: Tid(0),
    sleepers: Vec::new(),
    dead: Vec::new(),
    fpu_owner: NO_FPU_OWNER,
    fpu_trapping: false,
    by_pid: alloc::collections::BTreeMap::new(),
});
static TOTAL_SWITCHES: AtomicU64 = AtomicU64::new(0);
/// TSC counts spent in the scheduler's switch bookkeeping (`Scheduler::hand_over`: picking
/// done, before the stack switch), summed, and the switches timed so.
static SWITCH_CYCLES: AtomicU64 = AtomicU64::new(0);
static TIMED_SWITCHES: AtomicU64 = AtomicU64::new(0);

/// Average TSC counts of the switch bookkeeping (CR3, FPU, kernel stack) per switch, as the
/// scheduler's own switches measure it. The IPC fastpath's switches are not timed apart: their
/// cost is inside the fastpath's round-trip figure, and two `rdtsc` would be a visible share
/// of it.
pub fn cycles_per_switch() -> u64 {
    SWITCH_CYCLES
        .load(Ordering::Relaxed)
        .checked_div(TIMED_SWITCHES.load(Ordering::Relaxed))
        .unwrap_or(0)
}

impl Scheduler {
    pub(crate) fn thread(&mut self, tid: Tid) -> &mut Thread {
        self.threads[tid.index()]
            .as_deref_mut()
            .expect("live thread id")
    }

    /// The thread with id `tid`, if it exists.
    pub(crate) fn thread_opt(&mut self, tid: Tid) -> Option<&mut Thread> {
        self.threads
            .get_mut(tid.index())
            .and_then(|t| t.as_deref_mut())
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
            .map(|(tid, _)| Tid(tid))
    }

    /// Marks a blocked thread ready and queues it. Returns false, changing nothing, if `tid`
    /// is not blocked (already woken, dead, or gone).
    pub(crate) fn unblock(&mut self, tid: Tid) -> bool {
        if !self
            .thread_opt(tid)
            .is_some_and(|t| t.state == ThreadState::Blocked)
        {
            return false;
        }
        self.sleepers.retain(|&t| t != tid);
        self.make_ready(tid);
        true
    }

    /// Makes the timer wake the running thread at `tick` (it must then block).
    pub(crate) fn sleep_current_until(&mut self, tick: u64) {
        let current = self.current;
        self.thread(current).wake_at = tick;
        let at = self.sleepers.partition_point(|&t| {
            self.threads[t.index()]
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
                Tid(self.threads.len() - 1)
            }
            None => return Err(thread),
        };
        thread.tid = tid;
        self.threads[tid.index()] = Some(thread);
        Ok(tid)
    }

    /// The running thread and thread `next`, borrowed together with the scheduler state that a
    /// switch changes, for [`HandOver::switch`]; `None` if `next` does not exist or is the
    /// running thread.
    #[inline(always)]
    pub(crate) fn hand_over_to(&mut self, next: Tid) -> Option<HandOver<'_>> {
        let prev_tid = self.current;
        match self
            .threads
            .get_disjoint_mut([prev_tid.index(), next.index()])
        {
            Ok([Some(prev), Some(next_thread)]) => Some(HandOver {
                prev,
                next: next_thread,
                prev_tid,
                next_tid: next,
                current: &mut self.current,
                fpu_owner: &mut self.fpu_owner,
                fpu_trapping: &mut self.fpu_trapping,
            }),
            _ => None,
        }
    }

    /// Makes `next` the running thread (see [`HandOver::switch`]); the scheduler's own
    /// switches come here, the IPC fastpath calls `switch` itself.
    fn hand_over(&mut self, next: Tid) -> Switch {
        let started = crate::arch::cpu::rdtsc();
        let switch = self
            .hand_over_to(next)
            .expect("a switch goes to another live thread")
            .switch();
        TIMED_SWITCHES.fetch_add(1, Ordering::Relaxed);
        SWITCH_CYCLES.fetch_add(
            crate::arch::cpu::rdtsc().wrapping_sub(started),
            Ordering::Relaxed,
        );
        switch
    }
}

/// The two threads of a switch and the scheduler state it changes (see
/// [`Scheduler::hand_over_to`]).
pub(crate) struct HandOver<'a> {
    /// The running thread, already put where it belongs: a ready queue, blocked, or dead.
    pub(crate) prev: &'a mut Thread,
    /// The thread to run.
    pub(crate) next: &'a mut Thread,
    prev_tid: Tid,
    next_tid: Tid,
    current: &'a mut Tid,
    fpu_owner: &'a mut Tid,
    fpu_trapping: &'a mut bool,
}

impl HandOver<'_> {
    /// The one switch primitive: makes `next` the running thread and changes everything that
    /// goes with it except the stacks (state and counters, the FPU registers, CR3 and the
    /// ring-0 stack). The caller releases the lock, then makes the switch (`Switch`).
    #[inline(always)]
    pub(crate) fn switch(self) -> Switch {
        *self.current = self.next_tid;
        TOTAL_SWITCHES.fetch_add(1, Ordering::Relaxed);
        let next = self.next;
        next.state = ThreadState::Running;
        next.slice_left = TIME_SLICE_TICKS;
        next.switches_in += 1;
        // Lazy FPU switching: a user thread other than the owner runs with TS set.
        if next.user {
            let trap = *self.fpu_owner != self.next_tid;
            if trap != *self.fpu_trapping {
                if trap {
                    fpu::trap_next_use();
                } else {
                    fpu::allow_use();
                }
                *self.fpu_trapping = trap;
            }
        }
        // A borrowed address space (a colocated server call) wins over the thread's own.
        match (next.borrowed, &next.activation) {
            (Some(borrowed), _) => borrowed.activate(),
            (None, Some(own)) => own.activate(),
            (None, None) => {}
        }
        if next.stack_top != 0 {
            percpu::set_kernel_stack(next.stack_top);
        }
        Switch {
            prev: self.prev_tid,
            next: self.next_tid,
        }
    }
}

/// A switch decided under the scheduler lock ([`Scheduler::hand_over`]) and made once the lock
/// is released.
#[must_use = "the switch happens in `complete`"]
pub(crate) struct Switch {
    prev: Tid,
    next: Tid,
}

impl Switch {
    /// Saves the running thread's kernel context and resumes `next`'s (interrupts must be
    /// disabled). Returns when the thread that called it runs again, after freeing the
    /// threads that died meanwhile.
    #[inline]
    pub(crate) fn complete(self) {
        context::switch(self.prev.index(), self.next.index());
        reap();
    }

    /// For the IPC fastpath, whose entry code makes the switch itself (see
    /// `arch::syscall`): where to resume `next`, and where to leave the running thread's
    /// context.
    #[inline]
    pub(crate) fn by_entry_code(self) -> context::EntrySwitch {
        context::detach(self.prev.index(), self.next.index())
    }
}

/// Turns the running boot context into the idle thread. Called once, before any other thread.
pub fn init() {
    let idle = Box::new(Thread {
        tid: Tid(0),
        pid: crate::process::KERNEL_PID,
        state: ThreadState::Running,
        priority: PRIORITY_LEVELS - 1,
        user: false,
        stack: None,
        stack_top: 0,
        fpu: FpuState::initial(),
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
    with_state(|s| {
        assert!(s.threads.is_empty(), "sched::init runs once");
        s.threads.reserve(64);
        for queue in &mut s.ready {
            queue.reserve(64);
        }
        let tid = s
            .add(idle)
            .unwrap_or_else(|_| unreachable!("the table is empty"));
        s.idle = tid;
        s.current = tid;
    });
}

/// The one way to the scheduler state: runs `f` under its lock, which keeps interrupts
/// disabled while it is held.
pub(crate) fn with_state<R>(f: impl FnOnce(&mut Scheduler) -> R) -> R {
    f(&mut SCHED.lock())
}

/// [`with_state`] for the IPC fastpath, which runs with interrupts disabled: the same lock,
/// taken without saving the interrupt flag.
#[inline(always)]
pub(crate) fn with_state_interrupts_off<R>(f: impl FnOnce(&mut Scheduler) -> R) -> R {
    crate::arch::sync::with_lock_interrupts_off(&SCHED, f)
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
        tid: Tid(0),
        pid,
        state: ThreadState::Ready,
        priority: lux9_abi::syscall::DEFAULT_PRIORITY,
        user,
        stack: None,
        stack_top: 0,
        fpu: FpuState::initial(),
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
        with_state(|s| {
            thread.stack = None;
            let tid = s.add(thread).map_err(|_| SpawnError::TooManyThreads)?;
            prepare(tid, &stack);
            let thread = s.thread(tid);
            thread.stack_top = stack.top();
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
        context::prepare_user_stack(tid.index(), stack.bottom(), stack.top(), rip, rsp, args)
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
        context::prepare_kernel_stack(tid.index(), stack.bottom(), stack.top(), entry, arg)
    })
}

/// Picks the next thread and switches to it. `requeue` puts the current thread back in its
/// ready queue (a yield or preemption) instead of leaving it blocked or dead.
/// Interrupts must be disabled.
fn reschedule(requeue: bool) {
    let switch = with_state(|s| {
        let prev = s.current;
        if requeue && prev != s.idle && s.thread(prev).state == ThreadState::Running {
            s.make_ready(prev);
        }
        let next = s.pick_next();
        if next == prev {
            s.thread(prev).state = ThreadState::Running;
            return None;
        }
        Some(s.hand_over(next))
    });
    if let Some(switch) = switch {
        switch.complete();
    }
}

/// Work for a thread on its way back to ring 3, in one word so that the IPC fastpath's exit
/// tests both halves with one instruction (`arch::syscall`): threads marked killed that have
/// not ended yet, and whether a dead thread awaits `reap`. Both are 0 nearly always.
#[repr(C, align(8))]
pub(crate) struct ExitWork {
    kills: core::sync::atomic::AtomicU32,
    dead: core::sync::atomic::AtomicU32,
}

pub(crate) static EXIT_WORK: ExitWork = ExitWork {
    kills: core::sync::atomic::AtomicU32::new(0),
    dead: core::sync::atomic::AtomicU32::new(0),
};

/// Frees the stacks and state of dead threads (never the running one), if there are any:
/// every thread that runs again after a switch calls this.
#[inline]
pub(crate) fn reap() {
    if EXIT_WORK.dead.load(Ordering::Relaxed) != 0 {
        reap_dead();
    }
}

#[cold]
#[inline(never)]
fn reap_dead() {
    let dead: Vec<Box<Thread>> = with_state(|s| {
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
            context::forget(tid.index());
            if s.fpu_owner == tid {
                s.fpu_owner = NO_FPU_OWNER;
            }
            if let Some(thread) = s.threads[tid.index()].take() {
                freed.push(thread);
            }
            s.free_tids.push(tid);
        }
        EXIT_WORK
            .dead
            .store(u32::from(!kept.is_empty()), Ordering::Relaxed);
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
    with_state(|s| s.block_current_thread());
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
    let killed = with_state(|s| {
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
    with_state(|s| {
        let current = s.current;
        let thread = s.thread(current);
        thread.interruptible = false;
        !thread.killed
    })
}

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
            EXIT_WORK.kills.fetch_add(1, Ordering::Relaxed);
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

/// Whether any thread is marked killed and has not ended yet (one load).
#[inline]
pub fn kills_pending() -> bool {
    EXIT_WORK.kills.load(Ordering::Relaxed) != 0
}

/// Whether the running thread's process was killed (its thread must end before ring 3).
#[inline]
pub fn current_killed() -> bool {
    kills_pending()
        && with_state(|s| {
            let current = s.current;
            s.thread(current).killed
        })
}

/// Makes a blocked thread ready. Does nothing if it is not blocked (already woken, or dead).
pub fn wake(tid: Tid) {
    with_state(|s| s.unblock(tid));
}

/// Makes a blocked thread ready from an interrupt handler, and switches to it at once when the
/// CPU was idle or it outranks the running thread, so that a device's completion does not wait
/// for the next timer tick. Must run with interrupts disabled, after the interrupt's EOI.
pub fn wake_from_interrupt(tid: Tid) {
    let preempt = with_state(|s| {
        if !s.unblock(tid) {
            return false;
        }
        let priority = s.thread(tid).priority;
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
    with_state(|s| s.current == s.idle)
}

/// Sleeps until the timer reaches `tick`, or until a kill ends the sleep (the `sleep` system
/// call; kernel code that sleeps to pace a device uses [`sleep_until`]).
pub fn sleep_until_interruptible(tick: u64) {
    interrupts::without_interrupts(|| {
        let due = with_state(|s| {
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
            with_state(|s| {
                let current = s.current;
                s.thread(current).interruptible = false;
            });
        }
    })
}

/// Sleeps until the timer reaches `tick`.
pub fn sleep_until(tick: u64) {
    interrupts::without_interrupts(|| {
        let due = with_state(|s| {
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
    let preempt = with_state(|s| {
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
    });
    if preempt {
        reschedule(true);
    }
}

/// The idle loop: runs whatever becomes ready, halts otherwise. Never returns.
pub fn idle_loop() -> ! {
    loop {
        interrupts::disable();
        let ready = with_state(|s| s.highest_ready().is_some());
        if ready {
            reschedule(true);
        }
        // `sti; hlt` is atomic: a wake-up that arrives after the check still ends the halt.
        crate::arch::cpu::wait_for_interrupt();
    }
}

/// The #NM trap of a user thread that used x87 or SSE while it was not the FPU's owner: saves
/// the owner's state, loads the running thread's and makes it the owner.
pub fn fpu_trap() {
    with_state(|s| {
        fpu::allow_use();
        s.fpu_trapping = false;
        let me = s.current;
        if s.fpu_owner == me {
            return;
        }
        if let Some(owner) = s.thread_opt(s.fpu_owner) {
            owner.fpu.save();
        }
        s.thread(me).fpu.restore();
        s.fpu_owner = me;
    })
}

/// Ends the current thread. Its stack is freed after the next switch.
pub fn exit_current() -> ! {
    interrupts::disable();
    with_state(|s| {
        let current = s.current;
        crate::ipc::thread_exiting(s, current);
        let thread = s.thread(current);
        if thread.killed {
            EXIT_WORK.kills.fetch_sub(1, Ordering::Relaxed);
        }
        thread.state = ThreadState::Dead;
        thread.activation = None;
        // Its FPU state is of no use now; the next owner need not save it.
        if s.fpu_owner == current {
            s.fpu_owner = NO_FPU_OWNER;
        }
        let thread = s.thread(current);
        thread.space = None;
        let pid = thread.pid;
        if s.by_pid.get(&pid) == Some(&current) {
            s.by_pid.remove(&pid);
        }
        s.dead.push(current);
        EXIT_WORK.dead.store(1, Ordering::Relaxed);
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
    with_state(|s| s.current)
}

/// The process of the running thread.
pub fn current_pid() -> Pid {
    with_state(|s| {
        let current = s.current;
        s.thread(current).pid
    })
}

/// The running thread's address space, if it has one.
pub fn current_space() -> Option<SharedSpace> {
    with_state(|s| {
        let current = s.current;
        s.thread(current).space.clone()
    })
}

/// Sets the running thread's priority (0 = highest).
pub fn set_current_priority(level: usize) -> bool {
    if level >= PRIORITY_LEVELS {
        return false;
    }
    with_state(|s| {
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
    with_state(|s| {
        s.threads
            .get(tid.index())
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
        with_state(|s| {
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
        let (result, after) = with_state(f);
        match after {
            After::Continue => {}
            After::Block => reschedule(false),
        }
        result
    })
}
