//! Loading a static x86_64 ELF executable into a fresh address space.
//!
//! Each `PT_LOAD` segment is mapped with the rights its flags give (never writable and
//! executable at once), its file bytes copied and the rest zeroed; the stack is mapped below
//! [`STACK_TOP`] with an unmapped guard page under it, and the argument string copied to its
//! top. Everything is checked against the file's length and the user half: a malformed file is
//! an error, never a crash.

use elf::ElfBytes;
use elf::abi::{EM_X86_64, ET_EXEC, PF_W, PF_X, PT_LOAD};
use elf::endian::LittleEndian;
use lux9_abi::Error;
use lux9_abi::syscall::{USER_END, USER_MIN};

use crate::arch::address_space::{AddressSpace, PageRights};
use crate::arch::paging::{self, MapError};
use crate::memory::frames;
use lux9_kernel_core::units::{PAGE_BYTES, PAGE_SIZE};

/// One past the highest stack address.
pub const STACK_TOP: u64 = 0x0000_7fff_ffff_f000;
/// Stack size of a new process.
pub const STACK_SIZE: u64 = 64 * 1024;
/// Segments must end below the stack region.
const IMAGE_END: u64 = 0x0000_1000_0000_0000;
/// Longest argument string.
pub const MAX_ARGS: usize = 4096;

/// Where a loaded program starts.
#[derive(Clone, Copy, Debug)]
pub struct Loaded {
    pub entry: u64,
    pub stack_pointer: u64,
    pub args: (u64, u64),
    pub pages: u64,
}

fn map_zeroed(space: &mut AddressSpace, virt: u64, rights: PageRights) -> Result<(), Error> {
    let frame = paging::alloc_zeroed_frame().ok_or(Error::NoMemory)?;
    space.map(virt, frame, rights).map_err(|error| {
        frames::free(frame);
        match error {
            MapError::OutOfMemory => Error::NoMemory,
            _ => Error::BadExecutable,
        }
    })
}

/// Copies `bytes` to `virt` in `space`, page by page.
fn copy_into(space: &mut AddressSpace, mut virt: u64, mut bytes: &[u8]) -> Result<(), Error> {
    while !bytes.is_empty() {
        let room = (PAGE_SIZE - virt % PAGE_SIZE) as usize;
        let (now, rest) = bytes.split_at(room.min(bytes.len()));
        space.write(virt, now).map_err(|_| Error::BadExecutable)?;
        virt += now.len() as u64;
        bytes = rest;
    }
    Ok(())
}

/// Maps `image` and a stack holding `args` into `space`.
pub fn load(space: &mut AddressSpace, image: &[u8], args: &[u8]) -> Result<Loaded, Error> {
    if args.len() > MAX_ARGS {
        return Err(Error::InvalidArgument);
    }
    let file = ElfBytes::<LittleEndian>::minimal_parse(image).map_err(|_| Error::BadExecutable)?;
    if file.ehdr.e_type != ET_EXEC
        || file.ehdr.e_machine != EM_X86_64
        || file.ehdr.class != elf::file::Class::ELF64
    {
        return Err(Error::BadExecutable);
    }
    let segments = file.segments().ok_or(Error::BadExecutable)?;
    let mut entry_ok = false;
    let mut pages = 0;
    for segment in segments.iter().filter(|s| s.p_type == PT_LOAD) {
        let start = segment.p_vaddr;
        let end = start
            .checked_add(segment.p_memsz)
            .ok_or(Error::BadExecutable)?;
        let file_end = segment
            .p_offset
            .checked_add(segment.p_filesz)
            .ok_or(Error::BadExecutable)?;
        let write = segment.p_flags & PF_W != 0;
        let execute = segment.p_flags & PF_X != 0;
        if start < USER_MIN
            || end > IMAGE_END
            || segment.p_filesz > segment.p_memsz
            || file_end > image.len() as u64
            || (write && execute)
        {
            return Err(Error::BadExecutable);
        }
        if execute && (start..end).contains(&file.ehdr.e_entry) {
            entry_ok = true;
        }
        let rights = PageRights {
            write,
            execute,
            user: true,
        };
        let first_page = start & !4095;
        for page in (first_page..end).step_by(PAGE_BYTES) {
            // Two segments may share a page (a segment's end and the next one's start) only if
            // they need the same rights.
            match space.translate(page) {
                Some((_, existing)) if existing == rights => continue,
                Some(_) => return Err(Error::BadExecutable),
                None => {}
            }
            map_zeroed(space, page, rights)?;
            pages += 1;
        }
        let bytes = &image[segment.p_offset as usize..file_end as usize];
        copy_into(space, start, bytes)?;
    }
    if !entry_ok {
        return Err(Error::BadExecutable);
    }

    let stack_bottom = STACK_TOP - STACK_SIZE;
    let rights = PageRights {
        write: true,
        execute: false,
        user: true,
    };
    for page in (stack_bottom..STACK_TOP).step_by(PAGE_BYTES) {
        map_zeroed(space, page, rights)?;
        pages += 1;
    }
    let args_at = (STACK_TOP - args.len() as u64) & !15;
    copy_into(space, args_at, args)?;
    // As if `_start` had been called: RSP + 8 is 16-byte aligned.
    let stack_pointer = args_at - 8;
    debug_assert!(stack_pointer < USER_END);
    Ok(Loaded {
        entry: file.ehdr.e_entry,
        stack_pointer,
        args: (args_at, args.len() as u64),
        pages,
    })
}
