//! Kernel stacks for threads: 32 KiB each, in fixed 64 KiB slots of their own virtual range,
//! with the page below every stack left unmapped as a guard.

use alloc::vec::Vec;

use crate::arch::KERNEL_STACKS_BASE;
use crate::arch::paging::{self, MapFlags};
use crate::arch::sync::IrqMutex;
use crate::memory::frames;

const SLOT_SIZE: u64 = crate::arch::KERNEL_STACK_SLOT;
/// Usable stack size.
pub const STACK_SIZE: u64 = 32 * 1024;
/// Room for this many stacks at once.
pub const MAX_STACKS: usize = 16 * 1024;

struct Slots {
    free: Vec<usize>,
    next: usize,
}

static SLOTS: IrqMutex<Slots> = IrqMutex::new(Slots {
    free: Vec::new(),
    next: 0,
});

/// A mapped kernel stack; unmapped and freed on drop.
#[derive(Debug)]
pub struct KernelStack {
    slot: usize,
}

fn slot_top(slot: usize) -> u64 {
    KERNEL_STACKS_BASE + (slot as u64 + 1) * SLOT_SIZE
}

impl KernelStack {
    /// Maps a fresh stack. `None` when frames or slots run out.
    pub fn new() -> Option<Self> {
        let slot = {
            let mut slots = SLOTS.lock();
            match slots.free.pop() {
                Some(slot) => slot,
                None if slots.next < MAX_STACKS => {
                    slots.next += 1;
                    slots.next - 1
                }
                None => return None,
            }
        };
        let stack = KernelStack { slot };
        for virt in (stack.bottom()..stack.top()).step_by(4096) {
            let frame = match frames::alloc() {
                Some(frame) => frame,
                None => {
                    stack.release_pages();
                    SLOTS.lock().free.push(slot);
                    core::mem::forget(stack);
                    return None;
                }
            };
            if paging::map(virt, frame, MapFlags::WRITABLE).is_err() {
                frames::free(frame);
                stack.release_pages();
                SLOTS.lock().free.push(slot);
                core::mem::forget(stack);
                return None;
            }
        }
        Some(stack)
    }

    #[inline]
    pub fn top(&self) -> u64 {
        slot_top(self.slot)
    }

    pub fn bottom(&self) -> u64 {
        self.top() - STACK_SIZE
    }

    fn release_pages(&self) {
        for virt in (self.bottom()..self.top()).step_by(4096) {
            if let Ok(frame) = paging::unmap(virt) {
                frames::free(frame);
            }
        }
    }
}

impl Drop for KernelStack {
    fn drop(&mut self) {
        self.release_pages();
        SLOTS.lock().free.push(self.slot);
    }
}

/// Whether `addr` lies in the guard page below some thread's kernel stack.
pub fn is_guard_page(addr: u64) -> bool {
    let Some(offset) = addr.checked_sub(KERNEL_STACKS_BASE) else {
        return false;
    };
    let slot = offset / SLOT_SIZE;
    if slot >= MAX_STACKS as u64 {
        return false;
    }
    let bottom = slot_top(slot as usize) - STACK_SIZE;
    (bottom - 4096..bottom).contains(&addr)
}
