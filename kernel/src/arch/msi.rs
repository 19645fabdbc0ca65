//! Message-signalled interrupts: vectors handed to devices that write their interrupt to the
//! local APIC's address (MSI and MSI-X), each with a handler that knows its device.

use alloc::boxed::Box;

use super::interrupts::{self, TrapFrame};
use super::lapic;

/// The first vector handed out; ISA IRQs use 0x30-0x3f, the 8259s 0xe0-0xef.
const FIRST: u8 = 0x40;
/// One past the last.
const END: u8 = 0xe0;

type Handler = &'static (dyn Fn() + Send + Sync);

static HANDLERS: [spin::Once<Handler>; (END - FIRST) as usize] =
    [const { spin::Once::new() }; (END - FIRST) as usize];
static NEXT: spin::Mutex<u8> = spin::Mutex::new(FIRST);

fn dispatch(frame: &mut TrapFrame) {
    // End of interrupt first: the handler may wake a thread and switch to it before returning.
    lapic::end_of_interrupt();
    if let Some(handler) = frame
        .vector
        .checked_sub(u64::from(FIRST))
        .and_then(|index| HANDLERS.get(index as usize))
        .and_then(|slot| slot.get())
    {
        handler();
    }
}

/// A fresh vector that runs `handler` (with interrupts disabled; it must not allocate or block),
/// or `None` when every vector is taken.
pub fn alloc_vector(handler: impl Fn() + Send + Sync + 'static) -> Option<u8> {
    let vector = {
        let mut next = NEXT.lock();
        if *next >= END {
            return None;
        }
        let vector = *next;
        *next += 1;
        vector
    };
    HANDLERS[usize::from(vector - FIRST)].call_once(|| Box::leak(Box::new(handler)));
    interrupts::register(vector, dispatch);
    Some(vector)
}

/// The message address and data that deliver `vector` to this CPU's local APIC (fixed delivery,
/// edge-triggered, physical destination).
pub fn message(vector: u8) -> (u64, u32) {
    (
        0xfee0_0000 | (u64::from(lapic::id()) << 12),
        u32::from(vector),
    )
}
