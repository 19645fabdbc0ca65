//! virtio-blk over the modern PCI transport (QEMU's `virtio-blk-pci`), on the rcore-os
//! `virtio-drivers` crate: its PCI transport and virtqueue do the device's protocol; this file
//! supplies their configuration-space access and DMA `Hal`, builds the block requests (header,
//! data, status byte, one descriptor each), submits a whole batch before one notification, and
//! waits for the queue's MSI-X interrupt.
//!
//! The crate's own `VirtIOBlk` is not used: it keeps a 16-entry queue and takes a single buffer
//! per call, where the block layer wants many requests in flight against memory it chose.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ptr::NonNull;

use bitflags::bitflags;
use log::{info, warn};
use lux9_kernel_core::pci::Function;
use pci_types::capability::PciCapability;
use pci_types::{ConfigRegionAccess, PciAddress};
use virtio_drivers::queue::VirtQueue;
use virtio_drivers::transport::Transport;
use virtio_drivers::transport::pci::PciTransport;
use virtio_drivers::transport::pci::bus::{ConfigurationAccess, DeviceFunction, PciRoot};
use virtio_drivers::{BufferDirection, Hal, PhysAddr};
use x86_64::structures::paging::PhysFrame;

use crate::arch::{DIRECT_MAP_BASE, paging, phys_to_virt};
use crate::block::{Driver, IoError, Op, Request};
use crate::completion::{self, Completion};
use crate::dma::DmaBuffer;
use crate::memory::frames;
use crate::pci_bus;
use lux9_kernel_core::units::PAGE_BYTES;

const VIRTIO_VENDOR: u16 = 0x1af4;
/// Transitional and modern device ids of a block device.
const BLOCK_IDS: [u16; 2] = [0x1001, 0x1042];
/// Descriptors in the queue: three per request, so 42 requests in flight.
const QUEUE_SIZE: usize = 128;
/// Sectors per request (128 KiB).
const MAX_SECTORS: u32 = 256;
/// Per-request header slot in the header page: 16-byte header, then the status byte.
const SLOT: usize = 32;
const SLOTS: usize = QUEUE_SIZE / 3;
const SECTOR: usize = 512;

bitflags! {
    /// The feature bits this driver understands.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Features: u64 {
        const RO = 1 << 5;
        const BLK_SIZE = 1 << 6;
        const FLUSH = 1 << 9;
        const VERSION_1 = 1 << 32;
    }
}

/// Request types of the virtio-blk header.
const T_IN: u32 = 0;
const T_OUT: u32 = 1;
const T_FLUSH: u32 = 4;
/// Status byte values.
const S_OK: u8 = 0;
const S_UNSUPP: u8 = 2;

/// Whether `function` is a virtio block device.
pub fn matches(function: &Function) -> bool {
    function.vendor == VIRTIO_VENDOR && BLOCK_IDS.contains(&function.device)
}

/// Configuration-space access for the crate, through the kernel's ECAM or ports.
struct Cam;

fn address(df: DeviceFunction) -> PciAddress {
    PciAddress::new(0, df.bus, df.device, df.function)
}

impl ConfigurationAccess for Cam {
    fn read_word(&self, df: DeviceFunction, offset: u8) -> u32 {
        // SAFETY: a configuration read of a function the crate is probing has no side effects.
        unsafe { pci_bus::access().read(address(df), u16::from(offset)) }
    }

    fn write_word(&mut self, df: DeviceFunction, offset: u8, data: u32) {
        // SAFETY: the crate writes only the registers of the virtio function it drives.
        unsafe { pci_bus::access().write(address(df), u16::from(offset), data) }
    }

    unsafe fn unsafe_clone(&self) -> Self {
        Cam
    }
}

/// DMA for the crate: contiguous frames from the frame allocator, reached through the direct
/// map; buffers are shared by their physical address (all of them lie in the direct map or in
/// physically contiguous pages).
struct KernelHal;

// SAFETY: `dma_alloc` returns zeroed, contiguous frames owned by the caller until
// `dma_dealloc`; `share` returns the physical address of memory the device may then access;
// `mmio_phys_to_virt` maps device memory uncached where it is not in the direct map.
unsafe impl Hal for KernelHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        match frames::alloc_contiguous(pages as u64, 1) {
            Some(first) => {
                let phys = first.start_address().as_u64();
                let virt = phys_to_virt(phys) as *mut u8;
                // SAFETY: the frames were just allocated and are reached through the direct map.
                unsafe { core::ptr::write_bytes(virt, 0, pages * PAGE_BYTES) };
                (
                    phys,
                    NonNull::new(virt).expect("the direct map is not at 0"),
                )
            }
            None => (0, NonNull::dangling()),
        }
    }

    unsafe fn dma_dealloc(paddr: PhysAddr, _vaddr: NonNull<u8>, pages: usize) -> i32 {
        let first = PhysFrame::from_start_address(x86_64::PhysAddr::new(paddr))
            .expect("virtio-blk: DMA memory comes back at the frame it was given out at");
        PhysFrame::range(first, first + pages as u64).for_each(frames::free);
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, size: usize) -> NonNull<u8> {
        let virt = crate::arch::mmio::map(paddr, size as u64)
            .unwrap_or_else(|e| panic!("virtio-blk: cannot map BAR memory {paddr:#x}: {e:?}"));
        NonNull::new(virt as *mut u8).expect("device memory is not mapped at 0")
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        let virt = buffer.as_ptr() as *mut u8 as u64;
        let len = buffer.len() as u64;
        if virt >= DIRECT_MAP_BASE && virt - DIRECT_MAP_BASE + len <= paging::direct_map_end() {
            return virt - DIRECT_MAP_BASE;
        }
        let phys = paging::translate(virt).expect("virtio-blk: sharing unmapped memory");
        let last = paging::translate(virt + len.max(1) - 1).expect("virtio-blk: unmapped end");
        assert_eq!(
            last - phys,
            len.max(1) - 1,
            "virtio-blk: a shared buffer is not physically contiguous"
        );
        phys
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}

/// Where the modern transport's common configuration lies, for the MSI-X vector registers
/// that the crate does not program.
fn common_config(function: &Function) -> Option<u64> {
    let header = super::endpoint(function)?;
    let access = pci_bus::access();
    for capability in header.capabilities(access) {
        let PciCapability::Vendor(cap) = capability else {
            continue;
        };
        // SAFETY: reads of the vendor capability's own dwords.
        let (first, offset) = unsafe {
            (
                access.read(cap.address, cap.offset),
                access.read(cap.address, cap.offset + 8),
            )
        };
        // SAFETY: as above.
        let bar = unsafe { access.read(cap.address, cap.offset + 4) } as u8;
        if (first >> 24) as u8 == 1 {
            let (base, _) = super::memory_bar(&header, bar)?;
            return crate::arch::mmio::map(base + u64::from(offset), 0x40).ok();
        }
    }
    None
}

const COMMON_MSIX_CONFIG: u64 = 0x10;
const COMMON_QUEUE_SELECT: u64 = 0x16;
const COMMON_QUEUE_MSIX_VECTOR: u64 = 0x1a;
const NO_VECTOR: u16 = 0xffff;

fn write16(virt: u64, value: u16) {
    // SAFETY: `virt` is a register of the common configuration mapped by `common_config`.
    unsafe { core::ptr::write_volatile(virt as *mut u16, value) }
}

fn read16(virt: u64) -> u16 {
    // SAFETY: as for `write16`.
    unsafe { core::ptr::read_volatile(virt as *const u16) }
}

/// The device and its queue, used by one batch at a time.
struct Inner {
    transport: PciTransport,
    queue: VirtQueue<KernelHal, QUEUE_SIZE>,
    /// Request headers and status bytes, `SLOT` bytes per request in flight.
    headers: DmaBuffer,
    /// The device stopped answering; every later request fails at once.
    broken: bool,
    /// Test hook: skip the next notification, so the device never sees that batch.
    lose_next: bool,
}

struct VirtioDisk {
    inner: spin::Mutex<Inner>,
    done: Completion,
    name: alloc::string::String,
}

/// A request in flight: its token, its index in the batch and its header slot.
struct InFlight {
    token: u16,
    index: usize,
    slot: usize,
}

/// The slices given to the queue for request `r` in header slot `slot`: they must be given
/// again, the same, when its descriptors are recycled.
fn buffers(
    headers: &DmaBuffer,
    slot: usize,
    r: &Request,
) -> (&'static [u8], &'static mut [u8], &'static mut [u8]) {
    let base = headers.virt() + (slot * SLOT) as u64;
    let len = r.sectors as usize * SECTOR;
    // SAFETY: the header and status lie in this driver's header page (slot < SLOTS); the data
    // lies in memory the block layer vouched for (`Request::phys`, `sectors` sectors, RAM in the
    // direct map). The slices live while the request is in flight, during which nothing else
    // touches that memory, and are dropped when it is recycled.
    unsafe {
        (
            core::slice::from_raw_parts(base as *const u8, 16),
            core::slice::from_raw_parts_mut(phys_to_virt(r.phys) as *mut u8, len),
            core::slice::from_raw_parts_mut((base + 16) as *mut u8, 1),
        )
    }
}

impl VirtioDisk {
    fn submit(inner: &mut Inner, r: &Request, slot: usize) -> Result<u16, virtio_drivers::Error> {
        let kind = match r.op {
            Op::Read => T_IN,
            Op::Write => T_OUT,
            Op::Flush => T_FLUSH,
        };
        let header = inner.headers.ptr::<[u8; 16]>(slot * SLOT);
        let mut bytes = [0u8; 16];
        bytes[..4].copy_from_slice(&kind.to_le_bytes());
        bytes[8..].copy_from_slice(&r.lba.to_le_bytes());
        // SAFETY: the slot is free (not in flight), inside the header page.
        unsafe {
            header.write_volatile(bytes);
            inner
                .headers
                .ptr::<u8>(slot * SLOT + 16)
                .write_volatile(0xff);
        }
        let (head, data, status) = buffers(&inner.headers, slot, r);
        // SAFETY: the buffers stay valid and untouched until `pop_used` recycles them.
        unsafe {
            match r.op {
                Op::Read => inner.queue.add(&[head], &mut [data, status]),
                Op::Write => inner.queue.add(&[head, &*data], &mut [status]),
                Op::Flush => inner.queue.add(&[head], &mut [status]),
            }
        }
    }

    fn complete(inner: &mut Inner, f: &InFlight, r: &Request) -> Result<(), IoError> {
        let (head, data, status) = buffers(&inner.headers, f.slot, r);
        // SAFETY: the same buffers as `submit` gave for this token.
        let popped = unsafe {
            match r.op {
                Op::Read => inner.queue.pop_used(f.token, &[head], &mut [data, status]),
                Op::Write => inner
                    .queue
                    .pop_used(f.token, &[head, &*data], &mut [status]),
                Op::Flush => inner.queue.pop_used(f.token, &[head], &mut [status]),
            }
        };
        popped.map_err(|_| IoError::Device(u32::MAX))?;
        // SAFETY: the device wrote the status byte and gave the descriptors back.
        match unsafe { inner.headers.ptr::<u8>(f.slot * SLOT + 16).read_volatile() } {
            S_OK => Ok(()),
            S_UNSUPP => Err(IoError::Unsupported),
            other => Err(IoError::Device(u32::from(other))),
        }
    }
}

impl Driver for &'static VirtioDisk {
    fn max_sectors(&self) -> u32 {
        MAX_SECTORS
    }

    fn lose_next_batch(&self) -> bool {
        completion::lock(&self.inner).lose_next = true;
        true
    }

    fn run(&self, requests: &mut [Request]) {
        let mut inner = completion::lock(&self.inner);
        if inner.broken {
            for r in requests.iter_mut() {
                r.result = Err(IoError::TimedOut);
            }
            return;
        }
        let mut free: Vec<usize> = (0..SLOTS).rev().collect();
        let mut flight: Vec<InFlight> = Vec::with_capacity(SLOTS);
        let mut next = 0;
        while next < requests.len() || !flight.is_empty() {
            let mut added = false;
            while next < requests.len() && !free.is_empty() {
                let slot = *free.last().expect("checked");
                match VirtioDisk::submit(&mut inner, &requests[next], slot) {
                    Ok(token) => {
                        free.pop();
                        flight.push(InFlight {
                            token,
                            index: next,
                            slot,
                        });
                        next += 1;
                        added = true;
                    }
                    Err(_) if !flight.is_empty() => break, // queue full: wait for some
                    Err(e) => {
                        requests[next].result = Err(IoError::Device(u32::MAX));
                        warn!("{}: cannot queue a request: {e:?}", self.name);
                        next += 1;
                    }
                }
            }
            if added && core::mem::take(&mut inner.lose_next) {
                // The timeout test: the device is never told, so nothing completes.
            } else if added && inner.queue.should_notify() {
                inner.transport.notify(0);
            }
            if flight.is_empty() {
                continue;
            }
            while !inner.queue.can_pop() {
                if !self.done.wait(super::timeout_ms()) && !inner.queue.can_pop() {
                    warn!(
                        "{}: no completion in {} ms; the device is given up",
                        self.name,
                        super::timeout_ms()
                    );
                    // The device may still own the buffers: never reuse the queue.
                    inner.broken = true;
                    for r in requests.iter_mut().skip(next) {
                        r.result = Err(IoError::TimedOut);
                    }
                    for f in &flight {
                        requests[f.index].result = Err(IoError::TimedOut);
                    }
                    return;
                }
            }
            while let Some(token) = inner.queue.peek_used() {
                let Some(at) = flight.iter().position(|f| f.token == token) else {
                    warn!(
                        "{}: the device returned an unknown token {token}",
                        self.name
                    );
                    inner.broken = true;
                    return;
                };
                let f = flight.swap_remove(at);
                requests[f.index].result = VirtioDisk::complete(&mut inner, &f, &requests[f.index]);
                free.push(f.slot);
            }
        }
    }
}

/// Starts the device at `function` and registers its disk.
pub fn probe(function: &Function) {
    let a = function.address;
    let name = alloc::format!(
        "virtio-blk {:02x}:{:02x}.{}",
        a.bus(),
        a.device(),
        a.function()
    );
    if let Err(why) = start(function, &name) {
        warn!("{name}: not used: {why}");
    }
}

fn start(function: &Function, name: &str) -> Result<(), alloc::string::String> {
    let mut header = super::endpoint(function).ok_or("not an endpoint")?;
    super::enable(&mut header, true);
    let a = function.address;
    let mut root = PciRoot::new(Cam);
    let df = DeviceFunction {
        bus: a.bus(),
        device: a.device(),
        function: a.function(),
    };
    let mut transport = PciTransport::new::<KernelHal, Cam>(&mut root, df)
        .map_err(|e| alloc::format!("transport: {e:?}"))?;
    let common = common_config(function).ok_or("no common configuration capability")?;
    let features = transport.begin_init(Features::VERSION_1 | Features::RO | Features::FLUSH);
    let capacity = transport
        .read_config_space::<u32>(0)
        .and_then(
            |low| Ok(u64::from(low) | u64::from(transport.read_config_space::<u32>(4)?) << 32),
        )
        .map_err(|e| alloc::format!("reading the capacity: {e:?}"))?;
    // No MSI-X vector for configuration changes; the queue's is set once it exists.
    write16(common + COMMON_MSIX_CONFIG, NO_VECTOR);
    let queue = VirtQueue::<KernelHal, QUEUE_SIZE>::new(&mut transport, 0, false, false)
        .map_err(|e| alloc::format!("queue: {e:?}"))?;
    let headers = DmaBuffer::new(1).ok_or("no memory for request headers")?;
    let disk: &'static VirtioDisk = Box::leak(Box::new(VirtioDisk {
        inner: spin::Mutex::new(Inner {
            transport,
            queue,
            headers,
            broken: false,
            lose_next: false,
        }),
        done: Completion::new(),
        name: name.into(),
    }));
    let vector = crate::arch::msi::alloc_vector(move || disk.done.signal())
        .ok_or("no interrupt vector left")?;
    if !super::enable_msix(&header, 0, vector) {
        return Err("no MSI-X".into());
    }
    write16(common + COMMON_QUEUE_SELECT, 0);
    write16(common + COMMON_QUEUE_MSIX_VECTOR, 0);
    if read16(common + COMMON_QUEUE_MSIX_VECTOR) != 0 {
        return Err("the device refused MSI-X vector 0 for its queue".into());
    }
    disk.inner.lock().transport.finish_init();
    pci_bus::bind(a, "virtio-blk");
    let read_only = features.contains(Features::RO);
    info!(
        "{name}: {capacity} sectors, MSI-X vector {vector:#x}{}",
        if features.contains(Features::FLUSH) {
            ", flush"
        } else {
            ""
        }
    );
    crate::block::add_disk(
        "virtio disk".into(),
        "virtio-blk",
        SECTOR as u32,
        capacity,
        read_only,
        Box::new(disk),
    );
    Ok(())
}
