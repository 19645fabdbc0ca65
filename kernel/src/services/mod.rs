//! File servers known to the kernel: where each runs (from the configuration), the isolated
//! ones' processes, and the standard name space every program attaches.
//!
//! A server runs **colocated** (a kernel-mode server in its own address space, called
//! directly from the `sys9p` system call) or **isolated** (a ring-3 process that registers
//! with `service(REGISTER)` and serves 9P over IPC). Programs ask `service(LOOKUP)` and pick
//! the transport; the 9P code on both sides is the same.

pub mod ext4;
pub mod sysserver;

/// One client connection of a colocated server: its 9P server state and reusable buffers.
pub struct Connection<F: lib9pclient::Filesystem> {
    pub server: lib9pclient::Server<F>,
    request: Vec<u8>,
    reply: Vec<u8>,
}

impl<F: lib9pclient::Filesystem> Connection<F> {
    pub fn new(server: lib9pclient::Server<F>) -> Self {
        Self {
            server,
            request: Vec::new(),
            reply: Vec::new(),
        }
    }

    /// `sys9p(conn, request, reply)`: copies the caller's request frames in, serves each in the
    /// server's address space `activation`, and copies the reply frames out; returns the reply
    /// bytes. The requests are all served before the replies are copied, so a reply buffer
    /// that is too small (`MessageTooLong`) loses replies: give room for each request's largest
    /// reply.
    pub fn call(
        &mut self,
        activation: &'static crate::arch::address_space::Activation,
        request: (usize, usize),
        reply: (usize, usize),
    ) -> Result<usize, Error> {
        use crate::uaccess::UserSlice;
        use lib9pclient::codec::frames;
        let reply_slice = UserSlice::new(reply.0, reply.1)?;
        let source = UserSlice::with_limit(request.0, request.1, sysserver::MAX_REQUEST)?;
        self.request.resize(request.1, 0);
        source.read_into(&mut self.request)?;
        // Whole frames only: check the framing before serving anything.
        let count = frames(&self.request).try_fold(0u64, |count, frame| {
            frame.map(|_| count + 1).map_err(|_| Error::InvalidArgument)
        })?;
        let Self {
            server,
            request,
            reply: replies,
        } = self;
        // `replies` keeps its high-water length: each reply overwrites what the last call left
        // there instead of growing a cleared vector (which zeroes every byte it adds).
        let end = crate::sched::in_borrowed_space(activation, || {
            frames(request)
                .flatten()
                .fold(0, |end, frame| server.handle_at(frame, replies, end))
        });
        sysserver::count_colocated_calls(count);
        let out = reply_slice.prefix(end).ok_or(Error::MessageTooLong)?;
        out.write_from(&replies[..end])?;
        Ok(end)
    }
}

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt::Write;

use lux9_abi::Error;
use lux9_abi::syscall::service;
use lux9_kernel_core::config::{Config, Placement};

use crate::arch::sync::IrqMutex;
use crate::process::Pid;
use lux9_kernel_core::units::PAGE_SIZE;

/// The boot configuration in force.
static CONFIG: spin::Once<Config> = spin::Once::new();
/// The kernel command line, for `/sys/kernel/cmdline`.
static CMDLINE: spin::Once<String> = spin::Once::new();
/// RAM the memory map calls available, and what was kept out of the allocator.
static MEMORY: spin::Once<(u64, u64)> = spin::Once::new();

struct Registry {
    /// Service name -> (placement, registered server process).
    services: BTreeMap<String, (Placement, Option<Pid>)>,
    /// The standard name space: (path, service, attach name), in mount order.
    mounts: Vec<(String, String, String)>,
}

static REGISTRY: IrqMutex<Registry> = IrqMutex::new(Registry {
    services: BTreeMap::new(),
    mounts: Vec::new(),
});

/// Whether `name` is an ext4 volume's service (`ext4.` and a device name of letters and
/// digits), which ext4srv declares when it registers.
fn is_volume_service(name: &str) -> bool {
    name.strip_prefix("ext4.").is_some_and(|device| {
        !device.is_empty()
            && device.len() <= 32
            && device.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// Most services known at once (the configured ones and the volumes' ext4srv).
const SERVICES_MAX: usize = 64;

/// Most entries in the standard name space.
const MOUNTS_MAX: usize = 32;
/// Longest mount path or spec.
pub const MOUNT_TEXT_MAX: usize = 256;

/// Records the configuration and facts for `/sys` and `/proc`, and declares the servers.
pub fn init(config: Config, cmdline: &str, available_bytes: u64, reserved_bytes: u64) {
    let sysserver = config.sysserver;
    CONFIG.call_once(|| config);
    CMDLINE.call_once(|| cmdline.to_string());
    MEMORY.call_once(|| (available_bytes, reserved_bytes));
    REGISTRY
        .lock()
        .services
        .insert(service::SYSSERVER.to_string(), (sysserver, None));
    if sysserver == Placement::Colocated {
        sysserver::start();
    }
}

pub fn config() -> Config {
    CONFIG.get().cloned().unwrap_or_default()
}

pub fn kernel_cmdline() -> String {
    CMDLINE.get().cloned().unwrap_or_default()
}

/// (RAM available, bytes kept out of the allocator).
pub fn memory_facts() -> (u64, u64) {
    MEMORY.get().copied().unwrap_or((0, 0))
}

/// The figures of `/proc/meminfo` now.
pub fn memory_info() -> lux9_abi::sysinfo::MemInfo {
    let (total, reserved) = memory_facts();
    let heap = crate::arch::heap::stats();
    lux9_abi::sysinfo::MemInfo {
        total,
        free: crate::memory::frames::free_count() * PAGE_SIZE,
        kernel_heap: heap.mapped_bytes,
        kernel_heap_in_use: heap.in_use_bytes,
        reserved,
    }
}

/// `service(LOOKUP)`: (placement code, pid).
pub fn lookup(name: &str) -> Result<(usize, usize), Error> {
    let registry = REGISTRY.lock();
    let &(placement, pid) = registry.services.get(name).ok_or(Error::NotFound)?;
    Ok(match (placement, pid) {
        (Placement::Colocated, _) => (service::COLOCATED, 0),
        (Placement::Isolated, Some(pid)) => (service::ISOLATED, pid.raw()),
        (Placement::Isolated, None) => (service::STARTING, 0),
    })
}

/// `service(REGISTER)`: `pid` becomes the isolated server for `name`.
pub fn register(name: &str, pid: Pid) -> Result<(), Error> {
    let mut registry = REGISTRY.lock();
    if is_volume_service(name) && !registry.services.contains_key(name) {
        // One ext4srv per mounted volume, each under a name of its own (`ext4.sd0p1`): the
        // first to ask declares it, isolated.
        if registry.services.len() >= SERVICES_MAX {
            return Err(Error::LimitReached);
        }
        registry
            .services
            .insert(name.to_string(), (Placement::Isolated, None));
    }
    let entry = registry.services.get_mut(name).ok_or(Error::NotFound)?;
    match *entry {
        // The configuration runs it colocated: a process may not take its name.
        (Placement::Colocated, _) => Err(Error::InvalidArgument),
        (Placement::Isolated, Some(owner)) if owner != pid => Err(Error::LimitReached),
        (Placement::Isolated, _) => {
            entry.1 = Some(pid);
            Ok(())
        }
    }
}

/// Forgets the services process `pid` served (it ended); clients then see `STARTING` until a
/// new server registers.
pub fn process_exiting(pid: Pid) {
    for entry in REGISTRY.lock().services.values_mut() {
        if entry.1 == Some(pid) {
            entry.1 = None;
        }
    }
    sysserver::process_exiting(pid);
    ext4::process_exiting(pid);
}

/// `service(PLACEMENT)`: where the configuration runs server `name` (`sysserver` or
/// `ext4srv`).
pub fn configured_placement(name: &str) -> Result<usize, Error> {
    let config = config();
    let placement = match name {
        "sysserver" => config.sysserver,
        "ext4srv" => config.ext4srv,
        _ => return Err(Error::NotFound),
    };
    Ok(match placement {
        Placement::Colocated => service::COLOCATED,
        Placement::Isolated => service::ISOLATED,
    })
}

/// `service(START_VOLUME, "DISK PART")`: serves the ext4 volume on partition PART of DISK
/// (0: the whole disk) colocated, under the isolated ext4srv's service name. Refused (with
/// `LimitReached`) when that name is already served, colocated or isolated.
pub fn start_volume(text: &str) -> Result<(), ext4::StartError> {
    let bad = || (Error::InvalidArgument, format!("bad volume '{text}'"));
    let (disk, part) = text.split_once(' ').ok_or_else(bad)?;
    let part: u32 = part.parse().map_err(|_| bad())?;
    let service = ext4::service_name(disk, part);
    if !is_volume_service(&service) {
        return Err(bad());
    }
    if config().ext4srv != Placement::Colocated {
        return Err((
            Error::InvalidArgument,
            "the configuration runs ext4srv isolated".into(),
        ));
    }
    {
        let registry = REGISTRY.lock();
        if registry.services.contains_key(&service) {
            return Err((
                Error::LimitReached,
                format!("already mounted (served as {service})"),
            ));
        }
        if registry.services.len() >= SERVICES_MAX {
            return Err((Error::LimitReached, "too many file servers".into()));
        }
    }
    // Opening reads the disk: no registry lock meanwhile.
    ext4::start(disk, part)?;
    REGISTRY
        .lock()
        .services
        .insert(service, (Placement::Colocated, None));
    Ok(())
}

/// `service(STOP_VOLUME, SERVICE)`: stops serving a colocated volume (`mount -u` after its last
/// mount went). Mounts that still name it are removed.
pub fn stop_volume(service: &str) -> Result<(), Error> {
    if !ext4::serves(service) {
        return Err(Error::NotFound);
    }
    {
        let mut registry = REGISTRY.lock();
        registry.services.remove(service);
        registry.mounts.retain(|(_, s, _)| s != service);
    }
    ext4::stop(service)
}

/// `mount(path, spec)`: sets (or with an empty spec removes) a standard name-space entry.
pub fn mount(path: &str, spec: &str) -> Result<(), Error> {
    if !path.starts_with('/') || path.contains(char::is_whitespace) {
        return Err(Error::InvalidArgument);
    }
    let path = lib9pclient::mount::clean_path(path);
    let mut registry = REGISTRY.lock();
    let spec = spec.trim();
    if spec.is_empty() {
        let before = registry.mounts.len();
        registry.mounts.retain(|(p, _, _)| *p != path);
        return if registry.mounts.len() < before {
            Ok(())
        } else {
            Err(Error::NotFound)
        };
    }
    let mut words = spec.split_whitespace();
    let service = words.next().ok_or(Error::InvalidArgument)?;
    let aname = match words.next() {
        None | Some("-") => "",
        Some(aname) => aname,
    };
    if words.next().is_some() {
        return Err(Error::InvalidArgument);
    }
    if !registry.services.contains_key(service) {
        return Err(Error::NotFound);
    }
    let entry = (path.clone(), service.to_string(), aname.to_string());
    match registry.mounts.iter().position(|(p, _, _)| *p == path) {
        Some(index) => registry.mounts[index] = entry,
        None if registry.mounts.len() >= MOUNTS_MAX => return Err(Error::LimitReached),
        None => registry.mounts.push(entry),
    }
    Ok(())
}

/// The standard name space, one `path service aname placement` line per mount (`-` for an
/// empty attach name).
pub fn mounts_text() -> String {
    let registry = REGISTRY.lock();
    let mut text = String::new();
    for (path, service, aname) in &registry.mounts {
        let placement = match registry.services.get(service) {
            Some((Placement::Colocated, _)) => "colocated".to_string(),
            Some((Placement::Isolated, Some(pid))) => format!("isolated:{pid}"),
            Some((Placement::Isolated, None)) => "isolated:starting".to_string(),
            None => "unknown".to_string(),
        };
        let aname = if aname.is_empty() {
            "-"
        } else {
            aname.as_str()
        };
        let _ = writeln!(text, "{path} {service} {aname} {placement}");
    }
    text
}
