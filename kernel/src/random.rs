//! Random bytes for `/dev/random`: RDRAND where the CPU has it, otherwise a ChaCha20 generator
//! (the `rand_chacha` crate) seeded at first use from TSC jitter.
//!
//! The fallback's seed is only as unpredictable as the timing of 256 TSC reads interleaved
//! with spin loops of varying length; that is fine for QEMU's TCG (whose `-cpu max` has RDRAND
//! anyway) but not a source of key material on real hardware without RDRAND.

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use x86_64::instructions::random::RdRand;

use crate::arch::sync::IrqMutex;

static FALLBACK: IrqMutex<Option<ChaCha20Rng>> = IrqMutex::new(None);

/// Where the bytes come from, for the boot log.
pub fn source() -> &'static str {
    if RdRand::new().is_some() {
        "RDRAND"
    } else {
        "ChaCha20 seeded from TSC jitter"
    }
}

fn jitter_seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    let mut mix = crate::arch::cpu::rdtsc();
    for round in 0..256u64 {
        let spins = (mix % 97) + 1;
        for _ in 0..spins {
            core::hint::spin_loop();
        }
        let now = crate::arch::cpu::rdtsc();
        // Fold each sample in with a multiply-rotate (splitmix-like) so low bits spread.
        mix = (mix ^ now.wrapping_add(round))
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(29);
        seed[(round % 32) as usize] ^= mix as u8;
    }
    seed
}

/// Fills `buf` with random bytes.
pub fn fill(buf: &mut [u8]) {
    if let Some(rdrand) = RdRand::new() {
        let mut chunks = buf.chunks_mut(8);
        for chunk in &mut chunks {
            // RDRAND can transiently fail; retry a few times, then fall back for this chunk.
            let word = (0..10).find_map(|_| rdrand.get_u64());
            match word {
                Some(word) => chunk.copy_from_slice(&word.to_le_bytes()[..chunk.len()]),
                None => fallback(chunk),
            }
        }
        return;
    }
    fallback(buf);
}

fn fallback(buf: &mut [u8]) {
    let mut rng = FALLBACK.lock();
    rng.get_or_insert_with(|| ChaCha20Rng::from_seed(jitter_seed()))
        .fill_bytes(buf);
}
