//! Address spaces: one top-level table per process (or per kernel thread that wants one), with
//! the kernel's higher half shared and a private lower half.
//!
//! The upper 256 PML4 entries are copied from the kernel's table; since every upper-half PDPT
//! was allocated at boot, later kernel mappings appear in every address space. The lower half
//! belongs to the address space: every frame mapped there (and every table holding them) is
//! freed when it is dropped.
//!
//! With PCID each address space gets a tag, so switching CR3 keeps its TLB entries; without it
//! every switch flushes the non-global entries.

use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, Ordering};

use x86_64::registers::control::{Cr3, Cr3Flags, Cr4, Cr4Flags};
use x86_64::structures::paging::mapper::{MapToError, TranslateResult, UnmapError};
use x86_64::structures::paging::{
    FrameAllocator, Mapper, OffsetPageTable, Page, PageTable, PageTableFlags, PhysFrame, Size4KiB,
    Translate,
};
use x86_64::{PhysAddr, VirtAddr};

use super::paging::{self, MapError};
use super::sync::IrqMutex;
use super::{DIRECT_MAP_BASE, phys_to_virt};
use crate::memory::frames;

/// Rights of a lower-half page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRights {
    pub write: bool,
    pub execute: bool,
    /// Reachable from ring 3. Kernel threads' own address spaces map supervisor-only pages.
    pub user: bool,
}

/// A software bit in the page-table entry: the frame is shared (a ring) and owned by someone
/// else, so dropping the address space must not free it.
const SHARED: PageTableFlags = PageTableFlags::BIT_9;

impl PageRights {
    fn flags(self) -> PageTableFlags {
        let mut flags = PageTableFlags::PRESENT;
        if self.write {
            flags |= PageTableFlags::WRITABLE;
        }
        if !self.execute {
            flags |= PageTableFlags::NO_EXECUTE;
        }
        if self.user {
            flags |= PageTableFlags::USER_ACCESSIBLE;
        }
        flags
    }
}

static PCID_ENABLED: AtomicBool = AtomicBool::new(false);

/// PCIDs in use (1..4096; 0 is the kernel's).
static PCIDS: IrqMutex<[u64; 64]> = IrqMutex::new([0; 64]);

fn alloc_pcid() -> Option<u16> {
    let mut used = PCIDS.lock();
    for (word_index, word) in used.iter_mut().enumerate() {
        if *word != u64::MAX {
            let bit = (!*word).trailing_zeros() as usize;
            let pcid = word_index * 64 + bit;
            if pcid == 0 {
                *word |= 1;
                continue;
            }
            *word |= 1 << bit;
            return Some(pcid as u16);
        }
    }
    None
}

fn free_pcid(pcid: u16) {
    let mut used = PCIDS.lock();
    used[usize::from(pcid) / 64] &= !(1 << (pcid % 64));
}

/// Turns on PCID if the CPU has it. Returns whether it is on.
pub fn enable_pcid(available: bool) -> bool {
    if available {
        // SAFETY: CR3's PCID bits are 0 (the kernel tables were loaded without one), which
        // CR4.PCIDE requires; afterwards CR3 writes carry a PCID.
        unsafe { Cr4::update(|flags| flags.insert(Cr4Flags::PCID)) };
        PCID_ENABLED.store(true, Ordering::Relaxed);
    }
    available
}

struct TableFrames;

// SAFETY: `frames::alloc` hands out frames nobody else uses.
unsafe impl FrameAllocator<Size4KiB> for TableFrames {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        frames::alloc()
    }
}

/// The CR3 value of an address space, held by each of its threads so that a context switch
/// loads CR3 without locking the address space. A thread holds it only together with a
/// reference to the address space itself, which keeps the tables alive.
#[derive(Clone, Debug)]
pub struct Activation {
    /// CR3 that keeps this address space's TLB entries (with a PCID, the no-flush bit set).
    keep: u64,
    /// CR3 that flushes them (with a PCID, the no-flush bit clear).
    flush: u64,
    needs_flush: Arc<AtomicBool>,
}

impl Activation {
    /// Loads CR3, unless it already holds this address space.
    #[inline]
    pub fn activate(&self) {
        let current: u64;
        // SAFETY: reading CR3 has no side effects.
        unsafe { core::arch::asm!("mov {}, cr3", out(reg) current, options(nostack, nomem)) };
        // CR3 reads back as written, less the no-flush bit: `flush`.
        if current == self.flush {
            return;
        }
        // A plain load first: the flag is rarely set, and the swap only when it is.
        let value = if self.needs_flush.load(Ordering::Relaxed)
            && self.needs_flush.swap(false, Ordering::Relaxed)
        {
            self.flush
        } else {
            self.keep
        };
        // SAFETY: the value names a live PML4 (the caller holds its address space) that maps the
        // kernel's higher half like every address space, so the running code and stack stay
        // mapped; the PCID, if any, is this address space's own.
        unsafe { core::arch::asm!("mov cr3, {}", in(reg) value, options(nostack)) };
    }
}

pub struct AddressSpace {
    pml4: PhysFrame,
    pcid: Option<u16>,
    /// Set when TLB entries tagged with this PCID may be stale (a new tag, or an unmap while
    /// another address space was active): the next activation flushes them.
    needs_flush: Arc<AtomicBool>,
}

impl core::fmt::Debug for AddressSpace {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "AddressSpace({:#x})", self.pml4.start_address().as_u64())
    }
}

impl AddressSpace {
    /// A new address space with an empty lower half and the kernel's higher half.
    pub fn new() -> Result<Self, MapError> {
        let pml4 = paging::alloc_zeroed_frame().ok_or(MapError::OutOfMemory)?;
        let phys = pml4.start_address().as_u64();
        let kernel = paging::kernel_pml4_phys();
        for index in 256..512 {
            let offset = index as u64 * 8;
            paging::write_phys_u64(phys + offset, paging::read_phys_u64(kernel + offset));
        }
        let pcid = if PCID_ENABLED.load(Ordering::Relaxed) {
            alloc_pcid()
        } else {
            None
        };
        Ok(Self {
            pml4,
            pcid,
            needs_flush: Arc::new(AtomicBool::new(true)),
        })
    }

    fn table(&self) -> OffsetPageTable<'static> {
        let pml4 = phys_to_virt(self.pml4.start_address().as_u64()) as *mut PageTable;
        // SAFETY: the PML4 frame belongs to this address space and stays allocated until drop;
        // the direct map covers every table frame. Callers hold `&mut self` (or only read), so
        // no two mappers modify the same tables at once.
        unsafe { OffsetPageTable::new(&mut *pml4, VirtAddr::new(DIRECT_MAP_BASE)) }
    }

    fn is_active(&self) -> bool {
        Cr3::read().0 == self.pml4
    }

    fn check_lower(virt: u64) -> Result<Page, MapError> {
        if virt >= lux9_abi::syscall::USER_END || !virt.is_multiple_of(4096) {
            return Err(MapError::NotKernelAddress);
        }
        Ok(Page::containing_address(VirtAddr::new(virt)))
    }

    /// Maps the page at `virt` (lower half) to `frame`, which the address space then owns and
    /// frees on drop.
    pub fn map(&mut self, virt: u64, frame: PhysFrame, rights: PageRights) -> Result<(), MapError> {
        self.map_with(virt, frame, rights.flags())
    }

    /// Maps a frame that someone else owns (a shared ring): dropping the address space leaves
    /// it alone, and the owner unmaps it before freeing it.
    pub fn map_shared(
        &mut self,
        virt: u64,
        frame: PhysFrame,
        rights: PageRights,
    ) -> Result<(), MapError> {
        self.map_with(virt, frame, rights.flags() | SHARED)
    }

    fn map_with(
        &mut self,
        virt: u64,
        frame: PhysFrame,
        flags: PageTableFlags,
    ) -> Result<(), MapError> {
        let page = Self::check_lower(virt)?;
        // Intermediate tables must allow user access when the leaf does.
        let parent = PageTableFlags::PRESENT
            | PageTableFlags::WRITABLE
            | (flags & PageTableFlags::USER_ACCESSIBLE);
        let mut table = self.table();
        // SAFETY: the page is in this address space's private lower half and `frame` is one the
        // caller owns and hands over; no Rust reference points into the lower half.
        match unsafe { table.map_to_with_table_flags(page, frame, flags, parent, &mut TableFrames) }
        {
            Ok(flush) => {
                if self.is_active() {
                    flush.flush();
                } else {
                    flush.ignore();
                }
                Ok(())
            }
            Err(MapToError::FrameAllocationFailed) => Err(MapError::OutOfMemory),
            Err(_) => Err(MapError::AlreadyMapped),
        }
    }

    /// Unmaps the page at `virt` and returns its frame, which the caller now owns. A shared
    /// (ring) page is refused with `MapError::Shared`: only its ring may unmap it.
    pub fn unmap(&mut self, virt: u64) -> Result<PhysFrame, MapError> {
        self.unmap_with(virt, false)
    }

    /// Unmaps a shared (ring) page; the frame stays the ring's.
    pub fn unmap_shared(&mut self, virt: u64) -> Result<PhysFrame, MapError> {
        self.unmap_with(virt, true)
    }

    fn unmap_with(&mut self, virt: u64, shared: bool) -> Result<PhysFrame, MapError> {
        let page = Self::check_lower(virt)?;
        let mut table = self.table();
        let is_shared = match table.translate(page.start_address()) {
            TranslateResult::Mapped { flags, .. } => flags.contains(SHARED),
            _ => return Err(MapError::NotMapped),
        };
        if is_shared != shared {
            return Err(if is_shared {
                MapError::Shared
            } else {
                MapError::NotMapped
            });
        }
        match table.unmap(page) {
            Ok((frame, flush)) => {
                if self.is_active() {
                    flush.flush();
                } else {
                    flush.ignore();
                    self.needs_flush.store(true, Ordering::Relaxed);
                }
                Ok(frame)
            }
            Err(UnmapError::PageNotMapped) => Err(MapError::NotMapped),
            Err(_) => Err(MapError::NotMapped),
        }
    }

    /// The frame and rights of the page holding `virt`, if mapped.
    pub fn translate(&self, virt: u64) -> Option<(u64, PageRights)> {
        let addr = VirtAddr::try_new(virt).ok()?;
        match self.table().translate(addr) {
            TranslateResult::Mapped {
                frame,
                offset,
                flags,
            } => Some((
                frame.start_address().as_u64() + offset,
                PageRights {
                    write: flags.contains(PageTableFlags::WRITABLE),
                    execute: !flags.contains(PageTableFlags::NO_EXECUTE),
                    user: flags.contains(PageTableFlags::USER_ACCESSIBLE),
                },
            )),
            _ => None,
        }
    }

    /// Copies `bytes` into the frame behind `virt` (which must be mapped), at its page offset.
    /// Used by the ELF loader before the address space ever runs.
    pub fn write(&mut self, virt: u64, bytes: &[u8]) -> Result<(), MapError> {
        let (phys, _) = self.translate(virt).ok_or(MapError::NotMapped)?;
        let room = 4096 - (virt % 4096) as usize;
        assert!(bytes.len() <= room, "write crosses a page boundary");
        // SAFETY: `phys` is a frame owned by this address space (mapped above), reachable
        // through the direct map, and the write stays inside it (asserted).
        unsafe {
            core::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                phys_to_virt(phys) as *mut u8,
                bytes.len(),
            )
        };
        Ok(())
    }

    /// What the scheduler needs to switch to this address space without taking its lock.
    pub fn activation(&self) -> Activation {
        let root = self.pml4.start_address().as_u64();
        let (keep, flush) = match self.pcid {
            Some(pcid) => {
                let tagged = root | u64::from(pcid);
                (tagged | 1 << 63, tagged)
            }
            None => (root, root),
        };
        Activation {
            keep,
            flush,
            needs_flush: self.needs_flush.clone(),
        }
    }

    /// The physical address of the top-level table (what CR3 holds, without PCID bits).
    pub fn root(&self) -> u64 {
        self.pml4.start_address().as_u64()
    }
}

/// Switches to the kernel's own tables (for code about to free the active address space).
pub fn activate_kernel() {
    let frame = PhysFrame::containing_address(PhysAddr::new(paging::kernel_pml4_phys()));
    if Cr3::read().0 != frame {
        // SAFETY: the kernel tables map the whole higher half, where all kernel code runs.
        unsafe { Cr3::write(frame, Cr3Flags::empty()) };
    }
}

/// Frees every frame in the subtree of the page table `table` (level 4 = PML4), lower half only
/// at the top level.
fn free_tree(table: PhysFrame, level: u8) {
    let phys = table.start_address().as_u64();
    let entries = if level == 4 { 256 } else { 512 };
    for index in 0..entries {
        let entry = paging::read_phys_u64(phys + index * 8);
        if entry & 1 == 0 {
            continue;
        }
        let child = PhysFrame::containing_address(PhysAddr::new(entry & 0x000f_ffff_ffff_f000));
        if level > 1 {
            assert!(
                entry & (1 << 7) == 0,
                "huge pages are never mapped in the lower half"
            );
            free_tree(child, level - 1);
        } else if entry & SHARED.bits() != 0 {
            continue; // a ring frame: the ring frees it
        }
        frames::free(child);
    }
}

impl Drop for AddressSpace {
    fn drop(&mut self) {
        if self.is_active() {
            activate_kernel();
        }
        free_tree(self.pml4, 4);
        frames::free(self.pml4);
        if let Some(pcid) = self.pcid {
            // Entries tagged with this PCID may remain; the next owner flushes on activation.
            free_pcid(pcid);
        }
    }
}
