//! The faults each endpoint reports: an impossible `sq_tail` or `cq_head` seen by the kernel,
//! a bad header or impossible counters seen by the server, and the broken endpoint after them.

use std::sync::atomic::Ordering::Relaxed;

use lux9_blk::ring::layout::{HEADER_SIZE, offset};
use lux9_blk::ring::{
    Fault, Geometry, Kernel, MAGIC, Queue, Request, Response, Server, Status, Taken, read_geometry,
};
use lux9_ring::{HeapRegion, Memory};

use crate::support::{Audit, audited_kernel, responses, serve_all, target};

#[test]
fn a_corrupt_sq_tail_breaks_the_kernel_endpoint() {
    let geometry = Geometry::new(8).unwrap();
    for start in [0, u32::MAX - 3] {
        for tail in [
            start.wrapping_add(9),
            start.wrapping_sub(1),
            start ^ 0x8000_0000,
        ] {
            let region = HeapRegion::new(geometry.region_len());
            let mut kernel = audited_kernel(&region, geometry, target(), start);
            region
                .memory()
                .store_u32(offset::SQ_TAIL, tail, Relaxed)
                .unwrap();
            let mut taken = [Taken::default(); 8];
            let fault = kernel.take(&mut taken).unwrap_err();
            assert_eq!(
                fault,
                Fault::CorruptIndex {
                    queue: Queue::Submission,
                    head: start,
                    tail
                }
            );
            assert!(fault.is_fatal());
            assert_eq!(fault.status(), Status::RingCorrupt);
            assert!(kernel.is_broken());
            // Everything after is refused, even with a sane tail back.
            region
                .memory()
                .store_u32(offset::SQ_TAIL, start, Relaxed)
                .unwrap();
            assert_eq!(kernel.take(&mut taken), Err(Fault::Broken));
            assert_eq!(kernel.complete(0, Status::Ok, 0), Err(Fault::Broken));
            assert_eq!(kernel.publish(), Err(Fault::Broken));
        }
    }
    // Exactly entry_count ahead is a full ring, not corruption.
    let region = HeapRegion::new(geometry.region_len());
    let mut kernel = audited_kernel(&region, geometry, target(), u32::MAX);
    region
        .memory()
        .store_u32(offset::SQ_TAIL, 7, Relaxed)
        .unwrap();
    let mut taken = [Taken::default(); 8];
    assert_eq!(kernel.take(&mut taken), Ok(8));
}

#[test]
fn a_corrupt_cq_head_breaks_the_kernel_endpoint() {
    let geometry = Geometry::new(4).unwrap();
    fn setup(region: &HeapRegion, geometry: Geometry) -> Kernel<Audit<'_>> {
        let mut kernel = audited_kernel(region, geometry, target(), 100);
        let mut server = Server::attach(region.memory()).unwrap();
        server
            .submit(&[Request::flush(1), Request::flush(2), Request::flush(3)])
            .unwrap();
        serve_all(&mut kernel);
        let mut out = responses(1);
        server.poll(&mut out).unwrap();
        // Published up to 103, consumed up to 101, and the kernel has seen 101.
        assert_eq!(kernel.take(&mut []), Ok(0));
        kernel
    }
    for (head, good) in [
        (101, true),
        (103, true),
        (100, false),
        (104, false),
        (0, false),
        (u32::MAX, false),
    ] {
        let region = HeapRegion::new(geometry.region_len());
        let mut kernel = setup(&region, geometry);
        region
            .memory()
            .store_u32(offset::CQ_HEAD, head, Relaxed)
            .unwrap();
        let mut taken = [Taken::default(); 4];
        let result = kernel.take(&mut taken);
        if good {
            assert_eq!(result, Ok(0), "cq_head {head}");
        } else {
            assert_eq!(
                result,
                Err(Fault::CorruptIndex {
                    queue: Queue::Completion,
                    head,
                    tail: 103
                }),
                "cq_head {head}"
            );
            assert!(kernel.is_broken());
        }
    }
}

#[test]
fn the_server_checks_the_header_and_the_kernels_counters() {
    let geometry = Geometry::new(4).unwrap();
    let region = HeapRegion::new(geometry.region_len());
    let memory = region.memory();
    assert!(matches!(
        Server::attach(memory),
        Err(Fault::BadMagic { found: 0 })
    ));
    let _kernel = Kernel::create(memory, geometry, target()).unwrap();
    assert_eq!(read_geometry(&memory), Ok(geometry));
    let poke = |at: usize, value: u32| memory.store_u32(at, value, Relaxed).unwrap();

    poke(offset::VERSION, 2);
    assert_eq!(
        Server::attach(memory).err(),
        Some(Fault::BadVersion { found: 2 })
    );
    poke(offset::VERSION, 1);
    for found in [0, 3, 2048] {
        poke(offset::ENTRY_COUNT, found);
        assert_eq!(
            Server::attach(memory).err(),
            Some(Fault::BadEntryCount { found })
        );
    }
    // A count whose queues do not fit the region.
    poke(offset::ENTRY_COUNT, 1024);
    assert!(matches!(
        Server::attach(memory),
        Err(Fault::RegionTooSmall { .. })
    ));
    poke(offset::ENTRY_COUNT, 4);
    poke(offset::SQ_TAIL, 5);
    assert!(matches!(
        Server::attach(memory),
        Err(Fault::CorruptIndex {
            queue: Queue::Submission,
            ..
        })
    ));
    poke(offset::SQ_TAIL, 2);
    poke(offset::CQ_TAIL, 3);
    assert!(matches!(
        Server::attach(memory),
        Err(Fault::CorruptIndex {
            queue: Queue::Completion,
            ..
        })
    ));
    poke(offset::CQ_TAIL, 1);
    let mut server = Server::attach(memory).unwrap();
    assert_eq!(server.outstanding(), 2);

    // A cq_tail past the requests outstanding, then one that went backwards.
    let mut out = responses(4);
    poke(offset::CQ_TAIL, 3);
    assert!(matches!(
        server.poll(&mut out),
        Err(Fault::CorruptIndex { .. })
    ));
    assert!(server.is_broken());
    assert_eq!(server.submit(&[Request::flush(1)]), Err(Fault::Broken));
    poke(offset::CQ_TAIL, 1);
    let mut server = Server::attach(memory).unwrap();
    poke(offset::CQ_TAIL, 0);
    assert!(matches!(
        server.set_waiting(),
        Err(Fault::CorruptIndex { .. })
    ));

    // An unknown status code.
    poke(offset::CQ_TAIL, 1);
    let mut server = Server::attach(memory).unwrap();
    let mut bytes = Response {
        id: 5,
        status: Status::Ok,
        count: 0,
    }
    .to_bytes();
    bytes[8..12].copy_from_slice(&(-1000i32).to_le_bytes());
    memory.write(geometry.response_offset(0), &bytes).unwrap();
    poke(offset::CQ_TAIL, 1);
    assert_eq!(server.poll(&mut out), Err(Fault::BadStatus { code: -1000 }));

    // A region shorter than the header or than the kernel's geometry.
    let small = HeapRegion::new(HEADER_SIZE);
    assert!(matches!(
        Kernel::create(small.memory(), geometry, target()),
        Err(Fault::RegionTooSmall { .. })
    ));
    assert_eq!(memory.load_u32(offset::MAGIC, Relaxed), Ok(MAGIC));
}
