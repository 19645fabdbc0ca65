//! A hostile server against the kernel's endpoint: random entries, random counters and random
//! header words, checked against a model of what the kernel may do. And `validate` against a
//! model of its rules computed in `u128`.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;

use lux9_blk::Extent;
use lux9_blk::ring::layout::{REQUEST_SIZE, offset};
use lux9_blk::ring::{
    Fault, Geometry, Kernel, Queue, Request, Response, Status, Taken, Target, validate,
};
use lux9_ring::{HeapRegion, Memory};

use crate::support::{Audit, Rng, assert_safe, audited_kernel, some_request};

/// Runs of the hostile server, and steps in each.
const RUNS: u64 = 1000;
const STEPS: usize = 400;

/// A value that is often on an edge: 0, 1, a power of two and its neighbours, the maximum.
fn edgy(rng: &mut Rng, max: u64) -> u64 {
    match rng.below(6) {
        0 => 0,
        1 => max,
        2 => max.saturating_sub(rng.below(3)),
        3 => {
            (1u64 << rng.below(64))
                .wrapping_add(rng.below(3))
                .wrapping_sub(1)
                & max
        }
        4 => rng.below(1 << 16).min(max),
        _ => rng.next_u64() & max,
    }
}

/// A target with random limits: sector size, extent, region length, read-only, max sectors.
fn random_target(rng: &mut Rng) -> Target {
    let sector_size = match rng.below(8) {
        0 => 4096,
        1 => rng.next_u32(),
        2 => 0,
        _ => 512,
    };
    let first = edgy(rng, u64::MAX);
    let count = edgy(rng, u64::MAX - first);
    Target {
        extent: Extent::new(first, count).unwrap(),
        sector_size,
        region_len: edgy(rng, u64::MAX),
        read_only: rng.one_in(3),
        max_sectors: edgy(rng, u64::from(u32::MAX)) as u32,
    }
}

/// A request built from edgy fields, or one that `target` is likely to accept.
fn random_request(rng: &mut Rng, target: &Target) -> Request {
    if rng.one_in(3) {
        let count = edgy(rng, u64::from(target.max_sectors.clamp(1, 1 << 20))) as u32;
        let first = edgy(rng, target.extent.count().saturating_sub(u64::from(count)));
        let sectors = target.region_len / u64::from(target.sector_size.max(1));
        let offset =
            edgy(rng, sectors.saturating_sub(u64::from(count))) * u64::from(target.sector_size);
        let request = Request {
            op: rng.below(3) as u8 + 1,
            ..Request::read(rng.next_u64(), first, count, offset)
        };
        return request;
    }
    Request {
        id: rng.next_u64(),
        op: edgy(rng, 0xff) as u8,
        flags: if rng.one_in(4) {
            rng.next_u32() as u8
        } else {
            0
        },
        reserved: if rng.one_in(4) {
            rng.next_u32() as u16
        } else {
            0
        },
        count: edgy(rng, u64::from(u32::MAX)) as u32,
        first: edgy(rng, u64::MAX),
        offset: edgy(rng, u64::MAX),
    }
}

/// The validation rules again, in `u128` arithmetic where nothing overflows: the verdict
/// `validate` must give, without its translated fields.
fn model_verdict(request: &Request, target: &Target) -> Result<(), Status> {
    let malformed = Err(Status::Malformed);
    if !(1..=3).contains(&request.op) || request.flags != 0 || request.reserved != 0 {
        return malformed;
    }
    if request.op == 3 {
        let empty = request.count == 0 && request.first == 0 && request.offset == 0;
        return if empty { Ok(()) } else { malformed };
    }
    if request.count == 0 {
        return malformed;
    }
    if request.op == 2 && target.read_only {
        return Err(Status::ReadOnly);
    }
    if request.count > target.max_sectors {
        return Err(Status::TooLarge);
    }
    let end = u128::from(request.first) + u128::from(request.count);
    if end > u128::from(target.extent.count()) {
        return Err(Status::OutOfRange);
    }
    let sector_size = u128::from(target.sector_size);
    if sector_size == 0 || !u128::from(request.offset).is_multiple_of(sector_size) {
        return Err(Status::Misaligned);
    }
    let buffer_end = u128::from(request.offset) + u128::from(request.count) * sector_size;
    // The buffer's end must also be a u64: `offset + len_bytes` may not overflow.
    if buffer_end > u128::from(target.region_len) || buffer_end > u128::from(u64::MAX) {
        return Err(Status::BadBuffer);
    }
    Ok(())
}

#[test]
fn validate_agrees_with_the_u128_model() {
    let mut rng = Rng::new(0xb10c);
    let mut seen: HashMap<Result<(), Status>, usize> = HashMap::new();
    for _ in 0..500 {
        let target = random_target(&mut rng);
        for _ in 0..400 {
            let request = random_request(&mut rng, &target);
            let verdict = validate(&request, &target);
            let expected = model_verdict(&request, &target);
            assert_eq!(verdict.map(|_| ()), expected, "{request:?} {target:?}");
            if let Ok(checked) = verdict {
                assert_safe(&request, &checked, &target);
            }
            *seen.entry(expected).or_default() += 1;
        }
    }
    // Every verdict that validation itself can give was reached.
    for status in [
        Ok(()),
        Err(Status::Malformed),
        Err(Status::ReadOnly),
        Err(Status::TooLarge),
        Err(Status::OutOfRange),
        Err(Status::Misaligned),
        Err(Status::BadBuffer),
    ] {
        assert!(
            seen.get(&status).copied().unwrap_or(0) > 50,
            "{status:?}: {seen:?}"
        );
    }
}

/// What the kernel's endpoint may have done so far, tracked from the outside.
struct Model {
    /// The kernel's private sq_head: what it has taken.
    sq_head: u32,
    /// Responses staged and published.
    cq_tail: u32,
    cq_published: u32,
    /// The last cq_head the kernel accepted.
    cq_head_accepted: u32,
    /// Ids taken and not completed.
    in_flight: Vec<u64>,
}

/// One hostile run. With `honest_completions` the server consumes responses properly (and
/// writes nothing into the completion entries), so every response must reach it exactly once;
/// without, it writes anything anywhere.
fn hostile_run(seed: u64) -> (usize, bool) {
    let mut rng = Rng::new(seed);
    let geometry = Geometry::new(1 << rng.below(7)).unwrap();
    let count = geometry.entry_count();
    let start = match rng.below(3) {
        0 => 0,
        1 => u32::MAX - rng.below(3 * u64::from(count)) as u32,
        _ => rng.next_u32(),
    };
    let honest_completions = rng.one_in(2);
    let target = if rng.one_in(2) {
        crate::support::target()
    } else {
        random_target(&mut rng)
    };
    let region = HeapRegion::new(geometry.region_len());
    let memory = region.memory();
    let mut kernel = audited_kernel(&region, geometry, target, start);
    let mut model = Model {
        sq_head: start,
        cq_tail: start,
        cq_published: start,
        cq_head_accepted: start,
        in_flight: Vec::new(),
    };
    // The honest consumer's position, and the responses published and not consumed.
    let mut cq_head = start;
    let mut unconsumed: HashMap<(u64, i32, u32), usize> = HashMap::new();
    let mut sq_tail = start;
    let mut taken_total = 0;
    let mut faulted = false;
    let poke = |at: usize, value: u32| memory.store_u32(at, value, Relaxed).unwrap();

    // Half the runs write one impossible counter at some point (a value picked at random
    // may also be a possible one; the model decides). An honest consumer keeps cq_head to
    // itself: a foreign one that happens to be plausible would let the kernel reuse entries
    // the consumer has not read.
    let corrupt_at = rng.one_in(2).then(|| rng.below(STEPS as u64) as usize);
    let corruptions = if honest_completions { 3 } else { 6 };
    for step in 0..STEPS {
        if corrupt_at == Some(step) {
            let (at, value) = match rng.below(corruptions) {
                0 => (offset::SQ_TAIL, rng.next_u32()),
                1 => (
                    offset::SQ_TAIL,
                    model.sq_head.wrapping_sub(1 + rng.below(4) as u32),
                ),
                2 => (
                    offset::SQ_TAIL,
                    model.sq_head.wrapping_add(count + 1 + rng.below(4) as u32),
                ),
                3 => (offset::CQ_HEAD, rng.next_u32()),
                4 => (offset::CQ_HEAD, model.cq_head_accepted.wrapping_sub(1)),
                _ => (offset::CQ_HEAD, model.cq_published.wrapping_add(1)),
            };
            poke(at, value);
        }
        match rng.below(12) {
            // Fill the next submission entry and (mostly) publish it.
            0..=2 => {
                let request = if rng.one_in(4) {
                    let mut bytes = [0; REQUEST_SIZE];
                    bytes
                        .iter_mut()
                        .for_each(|byte| *byte = rng.next_u32() as u8);
                    Request::from_bytes(&bytes)
                } else if rng.one_in(2) {
                    random_request(&mut rng, &target)
                } else {
                    let id = rng.next_u64();
                    some_request(&mut rng, id, 3)
                };
                let entry = geometry.request_offset(sq_tail);
                memory.write(entry, &request.to_bytes()).unwrap();
                if !rng.one_in(5) && sq_tail.wrapping_sub(model.sq_head) < count {
                    sq_tail = sq_tail.wrapping_add(1);
                    poke(offset::SQ_TAIL, sq_tail);
                }
            }
            // A possible tail: from the kernel's head (nothing to take) to a full queue.
            3 => {
                sq_tail = model
                    .sq_head
                    .wrapping_add(rng.below(u64::from(count) + 1) as u32);
                poke(offset::SQ_TAIL, sq_tail);
            }
            // Garbage in the header words the kernel must ignore, or anywhere in the region.
            4 => {
                let words = [
                    offset::MAGIC,
                    offset::VERSION,
                    offset::ENTRY_COUNT,
                    offset::SQ_HEAD,
                    offset::CQ_TAIL,
                    offset::SERVER_WAITING,
                    0x44,
                    0xffc,
                ];
                poke(
                    words[rng.below(words.len() as u64) as usize],
                    rng.next_u32(),
                );
                let limit = if honest_completions {
                    geometry.responses_offset()
                } else {
                    geometry.region_len()
                };
                let at = geometry.requests_offset() + rng.below(limit as u64 - 4096) as usize;
                let byte = [rng.next_u32() as u8];
                memory.write(at, &byte).unwrap();
            }
            // The kernel takes.
            5..=6 => {
                let mut out = vec![Taken::default(); rng.below(2 * u64::from(count) + 1) as usize];
                let tail = memory.load_u32(offset::SQ_TAIL, Relaxed).unwrap();
                let head = memory.load_u32(offset::CQ_HEAD, Relaxed).unwrap();
                let result = kernel.take(&mut out);
                let available = tail.wrapping_sub(model.sq_head);
                let in_window = head.wrapping_sub(model.cq_head_accepted)
                    <= model.cq_published.wrapping_sub(model.cq_head_accepted);
                if available > count {
                    let expected = Fault::CorruptIndex {
                        queue: Queue::Submission,
                        head: model.sq_head,
                        tail,
                    };
                    assert_eq!(result, Err(expected));
                    faulted = true;
                    break;
                }
                if !in_window {
                    let expected = Fault::CorruptIndex {
                        queue: Queue::Completion,
                        head,
                        tail: model.cq_published,
                    };
                    assert_eq!(result, Err(expected));
                    faulted = true;
                    break;
                }
                model.cq_head_accepted = head;
                let used = model.cq_tail.wrapping_sub(head) + model.in_flight.len() as u32;
                assert!(
                    used <= count,
                    "the kernel reserved more than the queue holds"
                );
                let room = count - used;
                let taken = result.expect("sane counters");
                assert_eq!(taken, available.min(room).min(out.len() as u32) as usize);
                for (index, one) in out[..taken].iter().enumerate() {
                    let mut bytes = [0; REQUEST_SIZE];
                    let entry = geometry.request_offset(model.sq_head.wrapping_add(index as u32));
                    memory.read(entry, &mut bytes).unwrap();
                    assert_eq!(one.request, Request::from_bytes(&bytes));
                    assert_eq!(one.verdict, validate(&one.request, &target));
                    assert_eq!(
                        one.verdict.map(|_| ()),
                        model_verdict(&one.request, &target)
                    );
                    if let Ok(checked) = &one.verdict {
                        assert_safe(&one.request, checked, &target);
                    }
                    model.in_flight.push(one.request.id);
                }
                model.sq_head = model.sq_head.wrapping_add(taken as u32);
                taken_total += taken;
                if taken > 0 {
                    assert_eq!(memory.load_u32(offset::SQ_HEAD, Relaxed), Ok(model.sq_head));
                }
                assert_eq!(kernel.in_flight() as usize, model.in_flight.len());
            }
            // The kernel completes one request, in any order.
            7..=8 => {
                if model.in_flight.is_empty() {
                    assert_eq!(kernel.complete(1, Status::Ok, 0), Err(Fault::NotInFlight));
                    continue;
                }
                let id = model
                    .in_flight
                    .swap_remove(rng.below(model.in_flight.len() as u64) as usize);
                let status = Status::ALL[rng.below(Status::ALL.len() as u64) as usize];
                let sectors = rng.next_u32();
                kernel.complete(id, status, sectors).unwrap();
                let mut bytes = [0; 16];
                memory
                    .read(geometry.response_offset(model.cq_tail), &mut bytes)
                    .unwrap();
                let response = Response {
                    id,
                    status,
                    count: sectors,
                };
                assert_eq!(Response::from_bytes(&bytes), Ok(response));
                *unconsumed.entry((id, status.code(), sectors)).or_default() += 1;
                model.cq_tail = model.cq_tail.wrapping_add(1);
            }
            // The kernel publishes.
            9 => {
                let flag = memory.load_u32(offset::SERVER_WAITING, Relaxed).unwrap();
                let staged = model.cq_tail != model.cq_published;
                assert_eq!(kernel.publish(), Ok(staged && flag != 0));
                if staged {
                    assert_eq!(memory.load_u32(offset::CQ_TAIL, Relaxed), Ok(model.cq_tail));
                    assert_eq!(memory.load_u32(offset::SERVER_WAITING, Relaxed), Ok(0));
                }
                model.cq_published = model.cq_tail;
            }
            // The server consumes responses, honestly or not.
            10 => {
                if honest_completions {
                    let available = model.cq_published.wrapping_sub(cq_head);
                    let consumed = rng.below(u64::from(available) + 1) as u32;
                    for _ in 0..consumed {
                        let mut bytes = [0; 16];
                        memory
                            .read(geometry.response_offset(cq_head), &mut bytes)
                            .unwrap();
                        let response = Response::from_bytes(&bytes).expect("a known status");
                        let key = (response.id, response.status.code(), response.count);
                        let left = unconsumed
                            .get_mut(&key)
                            .expect("a response the kernel wrote");
                        *left -= 1;
                        if *left == 0 {
                            unconsumed.remove(&key);
                        }
                        cq_head = cq_head.wrapping_add(1);
                    }
                    poke(offset::CQ_HEAD, cq_head);
                } else {
                    // Forward by any amount, consumed or not: the server's own loss.
                    let published = model.cq_published.wrapping_sub(model.cq_head_accepted);
                    let forward = rng.below(u64::from(published) + 1) as u32;
                    poke(
                        offset::CQ_HEAD,
                        model.cq_head_accepted.wrapping_add(forward),
                    );
                }
            }
            // The flag.
            _ => poke(
                offset::SERVER_WAITING,
                if rng.one_in(2) { 1 } else { rng.next_u32() },
            ),
        }
    }
    if faulted {
        assert!(kernel.is_broken());
        let mut out = [Taken::default(); 2];
        assert_eq!(kernel.take(&mut out), Err(Fault::Broken));
        assert_eq!(kernel.complete(0, Status::Ok, 0), Err(Fault::Broken));
        assert_eq!(kernel.publish(), Err(Fault::Broken));
    } else if honest_completions {
        drain(
            &mut kernel,
            &mut model,
            &memory,
            geometry,
            &mut cq_head,
            &mut unconsumed,
        );
        assert!(unconsumed.is_empty(), "responses lost: {unconsumed:?}");
    }
    assert!(region.guards_intact());
    (taken_total, faulted)
}

/// Completes everything in flight, publishes, and consumes every response.
fn drain(
    kernel: &mut Kernel<Audit<'_>>,
    model: &mut Model,
    memory: &impl Memory,
    geometry: Geometry,
    cq_head: &mut u32,
    unconsumed: &mut HashMap<(u64, i32, u32), usize>,
) {
    for id in model.in_flight.drain(..) {
        kernel.complete(id, Status::DeviceError, 0).unwrap();
        *unconsumed
            .entry((id, Status::DeviceError.code(), 0))
            .or_default() += 1;
        model.cq_tail = model.cq_tail.wrapping_add(1);
    }
    kernel.publish().unwrap();
    while *cq_head != model.cq_tail {
        let mut bytes = [0; 16];
        memory
            .read(geometry.response_offset(*cq_head), &mut bytes)
            .unwrap();
        let response = Response::from_bytes(&bytes).unwrap();
        let key = (response.id, response.status.code(), response.count);
        let left = unconsumed
            .get_mut(&key)
            .expect("a response the kernel wrote");
        *left -= 1;
        if *left == 0 {
            unconsumed.remove(&key);
        }
        *cq_head = cq_head.wrapping_add(1);
    }
}

#[test]
fn a_hostile_server_cannot_make_the_kernel_misbehave() {
    let mut taken = 0;
    let mut faults = 0;
    for seed in 0..RUNS {
        let (run_taken, faulted) = hostile_run(seed);
        taken += run_taken;
        faults += usize::from(faulted);
    }
    // The runs did something: requests taken, and rings refused.
    eprintln!("{taken} requests taken, {faults} of {RUNS} runs refused");
    assert!(taken > 10_000, "only {taken} requests taken");
    assert!(faults > RUNS as usize / 5, "only {faults} faults");
    assert!(faults < RUNS as usize * 3 / 5, "{faults} faults");
}
