//! The two endpoints against each other, one step at a time: round trips, wrap-around, a full
//! ring, every status through the ring, the waiting flag.

use std::sync::atomic::Ordering::Relaxed;

use lux9_blk::Extent;
use lux9_blk::ring::layout::offset;
use lux9_blk::ring::{
    Fault, Geometry, Op, Request, Response, Server, Status, Taken, Target, validate,
};
use lux9_ring::{HeapRegion, Memory};

use crate::support::{
    Rng, audited_kernel, expected_response, responses, serve_all, some_request, target,
};

#[test]
fn a_request_goes_round_the_ring() {
    let geometry = Geometry::new(4).unwrap();
    let region = HeapRegion::new(geometry.region_len());
    let mut kernel = audited_kernel(&region, geometry, target(), 0);
    let mut server = Server::attach(region.memory()).unwrap();
    assert_eq!(server.geometry(), geometry);

    let requests = [
        Request::read(1, 0, 8, 0),
        Request::write(2, 9_999, 1, 4096),
        Request::flush(3),
        Request::read(4, 10_000, 1, 0),
    ];
    assert_eq!(server.submit(&requests).unwrap(), 4);
    assert_eq!(server.outstanding(), 4);
    // The kernel wrote sq_head and the server sq_tail: both in the region.
    let memory = region.memory();
    assert_eq!(memory.load_u32(offset::SQ_TAIL, Relaxed), Ok(4));

    let mut taken = [Taken::default(); 8];
    assert_eq!(kernel.take(&mut taken).unwrap(), 4);
    assert_eq!(memory.load_u32(offset::SQ_HEAD, Relaxed), Ok(4));
    assert_eq!(kernel.in_flight(), 4);
    for (one, request) in taken.iter().zip(&requests) {
        assert_eq!(&one.request, request);
        assert_eq!(one.verdict, validate(request, &target()));
    }
    let read = taken[0].verdict.unwrap();
    assert_eq!(
        (read.op, read.disk_lba, read.len_bytes),
        (Op::Read, 2048, 4096)
    );
    assert_eq!(taken[1].verdict.unwrap().disk_lba, 2048 + 9_999);
    assert_eq!(taken[2].verdict.unwrap().op, Op::Flush);
    assert_eq!(taken[3].verdict, Err(Status::OutOfRange));

    // Complete out of order; nothing is visible before publish.
    kernel.complete(4, Status::OutOfRange, 0).unwrap();
    kernel.complete(2, Status::Ok, 1).unwrap();
    let mut out = responses(8);
    assert_eq!(server.poll(&mut out).unwrap(), 0);
    assert!(!kernel.publish().unwrap());
    assert!(
        !kernel.publish().unwrap(),
        "nothing new: no store, no wake-up"
    );
    assert_eq!(server.poll(&mut out[..1]).unwrap(), 1);
    assert_eq!(
        out[0],
        Response {
            id: 4,
            status: Status::OutOfRange,
            count: 0
        }
    );
    kernel.complete(1, Status::Ok, 8).unwrap();
    kernel.complete(3, Status::Ok, 0).unwrap();
    assert_eq!(kernel.in_flight(), 0);
    kernel.publish().unwrap();
    assert_eq!(server.poll(&mut out).unwrap(), 3);
    let ids: Vec<u64> = out[..3].iter().map(|response| response.id).collect();
    assert_eq!(ids, [2, 1, 3]);
    assert_eq!(out[1].count, 8);
    assert_eq!(server.outstanding(), 0);
    assert_eq!(memory.load_u32(offset::CQ_HEAD, Relaxed), Ok(4));
    assert_eq!(memory.load_u32(offset::CQ_TAIL, Relaxed), Ok(4));
    assert!(region.guards_intact());
}

#[test]
fn counters_wrap_past_u32_max() {
    for count in [1, 2, 4, 16] {
        let geometry = Geometry::new(count).unwrap();
        let region = HeapRegion::new(geometry.region_len());
        let start = u32::MAX - 2 * count - 1;
        let mut kernel = audited_kernel(&region, geometry, target(), start);
        let mut server = Server::attach(region.memory()).unwrap();
        let mut rng = Rng::new(u64::from(count));
        let mut next_id = 0;
        let mut out = responses(count as usize);
        // Enough rounds to cross u32::MAX several entry_counts over.
        for _ in 0..8 * count {
            let batch: Vec<Request> = (0..rng.below(u64::from(count)) + 1)
                .map(|i| some_request(&mut rng, next_id + i, 4))
                .collect();
            let sent = server.submit(&batch).unwrap();
            assert_eq!(sent, batch.len().min(count as usize));
            next_id += sent as u64;
            assert_eq!(serve_all(&mut kernel), sent);
            assert_eq!(server.poll(&mut out).unwrap(), sent);
            for (response, request) in out.iter().zip(&batch[..sent]) {
                assert_eq!(*response, expected_response(request, &target()));
            }
        }
        let sq_tail = region.memory().load_u32(offset::SQ_TAIL, Relaxed).unwrap();
        assert!(sq_tail < start, "count {count}: the counters wrapped");
        assert_eq!(server.outstanding(), 0);
        assert!(region.guards_intact());
    }
}

#[test]
fn a_full_ring_takes_no_more() {
    let geometry = Geometry::new(8).unwrap();
    let region = HeapRegion::new(geometry.region_len());
    let mut kernel = audited_kernel(&region, geometry, target(), u32::MAX - 3);
    let mut server = Server::attach(region.memory()).unwrap();
    let requests: Vec<Request> = (0..20).map(|id| Request::read(id, id, 1, 0)).collect();
    assert_eq!(server.submit(&requests).unwrap(), 8);
    assert_eq!(server.submit(&requests).unwrap(), 0, "the ring is full");

    // Taken but not answered: still outstanding, so still no room for the server.
    let mut taken = [Taken::default(); 3];
    assert_eq!(kernel.take(&mut taken).unwrap(), 3);
    assert_eq!(server.submit(&requests).unwrap(), 0);
    // Answered but not polled: the same.
    for one in &taken {
        kernel.complete(one.request.id, Status::Ok, 1).unwrap();
    }
    kernel.publish().unwrap();
    assert_eq!(server.submit(&requests).unwrap(), 0);
    // Polled: three entries free again.
    let mut out = responses(2);
    assert_eq!(server.poll(&mut out).unwrap(), 2);
    assert_eq!(server.submit(&requests[8..]).unwrap(), 2);
    assert_eq!(server.poll(&mut out).unwrap(), 1);
    assert_eq!(server.submit(&requests[10..]).unwrap(), 1);
    assert_eq!(server.outstanding(), 8);
    // The kernel takes the rest in order.
    let mut rest = [Taken::default(); 16];
    assert_eq!(kernel.take(&mut rest).unwrap(), 8);
    let ids: Vec<u64> = rest[..8].iter().map(|one| one.request.id).collect();
    assert_eq!(ids, [3, 4, 5, 6, 7, 8, 9, 10]);
    assert!(region.guards_intact());
}

#[test]
fn the_kernel_keeps_room_for_every_response() {
    // A server that submits behind its endpoint's back (moving sq_tail itself) and never
    // consumes responses: the kernel takes only as many as it can answer, and never
    // overwrites a response.
    let geometry = Geometry::new(4).unwrap();
    let region = HeapRegion::new(geometry.region_len());
    let memory = region.memory();
    let mut kernel = audited_kernel(&region, geometry, target(), 0);
    let mut taken = [Taken::default(); 4];
    let mut sq_tail = 0u32;
    let mut completed = 0u32;
    for round in 0..3u64 {
        for _ in 0..4 {
            let entry = geometry.request_offset(sq_tail);
            memory
                .write(entry, &Request::read(round, 0, 1, 0).to_bytes())
                .unwrap();
            sq_tail += 1;
        }
        memory.store_u32(offset::SQ_TAIL, sq_tail, Relaxed).unwrap();
        let n = kernel.take(&mut taken).unwrap();
        assert_eq!(n, if round == 0 { 4 } else { 0 }, "round {round}");
        for _ in 0..n {
            kernel.complete(completed.into(), Status::Ok, 1).unwrap();
            completed += 1;
        }
        kernel.publish().unwrap();
        // The four responses are still there, untouched.
        for counter in 0..4 {
            let mut bytes = [0; 16];
            memory
                .read(geometry.response_offset(counter), &mut bytes)
                .unwrap();
            assert_eq!(Response::from_bytes(&bytes).unwrap().id, u64::from(counter));
        }
        // Rewind sq_tail so that it is never more than 4 ahead of the kernel.
        sq_tail = 4;
    }
    // Consuming two responses lets the kernel take two more.
    memory.store_u32(offset::CQ_HEAD, 2, Relaxed).unwrap();
    memory.store_u32(offset::SQ_TAIL, 8, Relaxed).unwrap();
    assert_eq!(kernel.take(&mut taken).unwrap(), 2);
    assert_eq!(kernel.in_flight(), 2);
    assert!(!kernel.is_broken());
}

#[test]
fn every_status_crosses_the_ring() {
    let geometry = Geometry::new(16).unwrap();
    let region = HeapRegion::new(geometry.region_len());
    let mut kernel = audited_kernel(&region, geometry, target(), 7);
    let mut server = Server::attach(region.memory()).unwrap();
    let requests: Vec<Request> = (0..Status::ALL.len() as u64)
        .map(|id| Request::read(id, 0, 1, 0))
        .collect();
    server.submit(&requests).unwrap();
    let mut taken = [Taken::default(); 16];
    assert_eq!(kernel.take(&mut taken).unwrap(), Status::ALL.len());
    for (id, status) in Status::ALL.into_iter().enumerate() {
        kernel.complete(id as u64, status, id as u32).unwrap();
    }
    kernel.publish().unwrap();
    let mut out = responses(16);
    assert_eq!(server.poll(&mut out).unwrap(), Status::ALL.len());
    for (id, status) in Status::ALL.into_iter().enumerate() {
        assert_eq!(
            out[id],
            Response {
                id: id as u64,
                status,
                count: id as u32
            }
        );
    }
}

#[test]
fn every_refusal_comes_back_as_its_status() {
    let read_only = Target {
        read_only: true,
        ..target()
    };
    let cases = [
        (
            Request {
                op: 9,
                ..Request::read(0, 0, 1, 0)
            },
            Status::Malformed,
        ),
        (
            Request {
                flags: 2,
                ..Request::read(1, 0, 1, 0)
            },
            Status::Malformed,
        ),
        (
            Request {
                reserved: 1,
                ..Request::read(2, 0, 1, 0)
            },
            Status::Malformed,
        ),
        (Request::read(3, 0, 0, 0), Status::Malformed),
        (
            Request {
                count: 1,
                ..Request::flush(4)
            },
            Status::Malformed,
        ),
        (Request::write(5, 0, 1, 0), Status::ReadOnly),
        (Request::read(6, 0, 65, 0), Status::TooLarge),
        (Request::read(7, 9_999, 2, 0), Status::OutOfRange),
        (Request::read(8, 0, 1, 100), Status::Misaligned),
        (Request::read(9, 0, 2, (1 << 20) - 512), Status::BadBuffer),
        (Request::read(10, 0, 1, 0), Status::Ok),
        (Request::flush(11), Status::Ok),
    ];
    let geometry = Geometry::new(16).unwrap();
    let region = HeapRegion::new(geometry.region_len());
    let mut kernel = audited_kernel(&region, geometry, read_only, 0);
    let mut server = Server::attach(region.memory()).unwrap();
    let requests: Vec<Request> = cases.iter().map(|(request, _)| *request).collect();
    assert_eq!(server.submit(&requests).unwrap(), cases.len());
    let mut taken = [Taken::default(); 16];
    assert_eq!(kernel.take(&mut taken).unwrap(), cases.len());
    for (one, (_, status)) in taken.iter().zip(&cases) {
        let got = one.verdict.map_or_else(|refused| refused, |_| Status::Ok);
        assert_eq!(got, *status, "{:?}", one.request);
        kernel.complete(one.request.id, got, 0).unwrap();
    }
    kernel.publish().unwrap();
    let mut out = responses(16);
    assert_eq!(server.poll(&mut out).unwrap(), cases.len());
    for (response, (request, status)) in out.iter().zip(&cases) {
        assert_eq!((response.id, response.status), (request.id, *status));
    }
}

#[test]
fn the_waiting_flag_wakes_the_server_once() {
    let geometry = Geometry::new(4).unwrap();
    let region = HeapRegion::new(geometry.region_len());
    let memory = region.memory();
    let mut kernel = audited_kernel(&region, geometry, target(), 0);
    let mut server = Server::attach(region.memory()).unwrap();
    server
        .submit(&[Request::flush(1), Request::flush(2)])
        .unwrap();
    let mut taken = [Taken::default(); 4];
    kernel.take(&mut taken).unwrap();

    // Nothing to poll: the server announces its sleep.
    assert!(server.set_waiting().unwrap());
    assert_eq!(memory.load_u32(offset::SERVER_WAITING, Relaxed), Ok(1));
    kernel.complete(1, Status::Ok, 0).unwrap();
    assert!(kernel.publish().unwrap(), "the server sleeps: wake it");
    assert_eq!(memory.load_u32(offset::SERVER_WAITING, Relaxed), Ok(0));
    kernel.complete(2, Status::Ok, 0).unwrap();
    assert!(!kernel.publish().unwrap(), "the flag was taken");
    server.clear_waiting().unwrap();

    // Responses already there: the server does not sleep.
    assert!(!server.set_waiting().unwrap());
    assert_eq!(memory.load_u32(offset::SERVER_WAITING, Relaxed), Ok(0));
    let mut out = responses(4);
    assert_eq!(server.poll(&mut out).unwrap(), 2);
    assert!(server.set_waiting().unwrap());
    server.clear_waiting().unwrap();
    assert_eq!(memory.load_u32(offset::SERVER_WAITING, Relaxed), Ok(0));
}

#[test]
fn completing_with_nothing_in_flight_is_the_callers_mistake() {
    let geometry = Geometry::new(2).unwrap();
    let region = HeapRegion::new(geometry.region_len());
    let mut kernel = audited_kernel(&region, geometry, target(), 0);
    assert_eq!(kernel.complete(1, Status::Ok, 0), Err(Fault::NotInFlight));
    assert!(!kernel.is_broken());
    assert!(!Fault::NotInFlight.is_fatal());
    assert!(!kernel.publish().unwrap());
}

#[test]
fn a_zero_length_take_or_poll_does_nothing() {
    let geometry = Geometry::new(2).unwrap();
    let region = HeapRegion::new(geometry.region_len());
    let mut kernel = audited_kernel(&region, geometry, target(), 0);
    let mut server = Server::attach(region.memory()).unwrap();
    server.submit(&[Request::flush(1)]).unwrap();
    assert_eq!(kernel.take(&mut []), Ok(0));
    assert_eq!(kernel.in_flight(), 0);
    assert_eq!(serve_all(&mut kernel), 1);
    assert_eq!(server.poll(&mut []), Ok(0));
    assert_eq!(server.outstanding(), 1);
    assert_eq!(server.submit(&[]), Ok(0));
    let extent = Extent::new(0, 1).unwrap();
    assert_eq!(
        validate(&Request::read(1, 0, 1, 0), &Target { extent, ..target() })
            .map(|checked| checked.disk_lba),
        Ok(0)
    );
}
