//! Address-space reservations for stacks, carved into slots, and their guard pages.
//!
//! One `mmap(MAP_NORESERVE)` of 1 GiB holds 16,384 default-sized slots and costs no
//! memory until pages are touched. Each slot's lowest page becomes a guard:
//!
//! - `madvise(MADV_GUARD_INSTALL)` (Linux ≥ 6.13) marks the page in the page tables
//!   without splitting the mapping, so a million guarded slots stay a few dozen VMAs.
//!   Guards for a batch of new slots go in with one `process_madvise` call (0.5 µs per
//!   guard on this project's machines, against 1.4 µs for one `madvise` each).
//! - On an older kernel, `mprotect(PROT_NONE)` guards. Each splits the mapping, costing
//!   two of the `vm.max_map_count` mappings (65,530 by default), so they run out near
//!   32,000 stacks; then the spawn fails with an error that says so — never an abort,
//!   never a stack without a guard.

use super::{PAGE, Stack};
use std::io;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

/// Bytes reserved per `mmap`, unless a slot needs more.
const REGION: usize = 1 << 30;

/// The `madvise` advice that installs guard markers; the libc crate does not export it.
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// At most this many ranges go into one `process_madvise` call (the kernel's UIO_MAXIOV).
const MAX_IOV: usize = 1024;

/// How guard pages are made on this kernel, decided on first use.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum GuardMode {
    /// `process_madvise(MADV_GUARD_INSTALL)` for a batch, one syscall.
    Batched = 1,
    /// `madvise(MADV_GUARD_INSTALL)` for each guard.
    Madvise = 2,
    /// `mprotect(PROT_NONE)` for each guard: older kernels.
    Mprotect = 3,
}

static GUARD_MODE: AtomicU8 = AtomicU8::new(0);

/// Slots carved (and guarded) so far, and reservations mapped: for `gogreen::stats`.
pub(crate) static SLOTS_CARVED: AtomicUsize = AtomicUsize::new(0);
pub(crate) static RESERVATIONS: AtomicUsize = AtomicUsize::new(0);

/// Carves slots of one size out of reservations, one reservation at a time.
pub(crate) struct Carver {
    size: usize,
    /// Next unused slot of the current reservation.
    next: usize,
    end: usize,
}

impl Carver {
    pub(crate) const fn new(size: usize) -> Self {
        Carver {
            size,
            next: 0,
            end: 0,
        }
    }

    /// Appends up to `n` fresh guarded slots to `out`, all from one reservation
    /// (fewer when the current one runs out). On error, `out` gets the slots guarded
    /// before the failure; the others stay uncarved, to be tried again later.
    pub(crate) fn carve(&mut self, n: usize, out: &mut Vec<Stack>) -> io::Result<()> {
        if self.next == self.end {
            self.reserve()?;
        }
        let n = n.min((self.end - self.next) / self.size);
        let fresh: Vec<Stack> = (0..n)
            .map(|i| Stack {
                base: std::num::NonZeroUsize::new(self.next + i * self.size)
                    .expect("mmap never returns address 0"),
                size: self.size,
            })
            .collect();
        let (guarded, result) = match install_guards(&fresh) {
            Ok(()) => (n, Ok(())),
            Err((done, e)) => (done, Err(e)),
        };
        self.next += guarded * self.size;
        SLOTS_CARVED.fetch_add(guarded, Ordering::Relaxed);
        out.extend(fresh.into_iter().take(guarded));
        result
    }

    fn reserve(&mut self) -> io::Result<()> {
        let len = REGION.max(self.size * 16);
        // SAFETY: an anonymous private mapping at an address of the kernel's choosing
        // touches no existing memory.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            let e = io::Error::last_os_error();
            if near_mapping_limit() {
                return Err(mapping_limit_error(e));
            }
            return Err(io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!(
                    "gogreen: cannot reserve {} MiB of address space for green-thread stacks ({e}); \
                     is the address space limited (ulimit -v)? Smaller stacks \
                     (Config::stack_size, Builder::stack_size) need less",
                    len >> 20
                ),
            ));
        }
        RESERVATIONS.fetch_add(1, Ordering::Relaxed);
        // Huge pages would turn a one-page stack into 2 MiB of memory.
        // SAFETY: the range is the mapping just made. Failure only loses the hint.
        unsafe { libc::madvise(p, len, libc::MADV_NOHUGEPAGE) };
        self.next = p as usize;
        self.end = self.next + len / self.size * self.size;
        Ok(())
    }
}

fn guard_mode() -> GuardMode {
    match GUARD_MODE.load(Ordering::Relaxed) {
        1 => GuardMode::Batched,
        2 => GuardMode::Madvise,
        3 => GuardMode::Mprotect,
        _ => {
            // GOGREEN_GUARD=mprotect forces the old-kernel path, to test it.
            let forced = std::env::var("GOGREEN_GUARD").is_ok_and(|v| v == "mprotect");
            let mode = if forced {
                GuardMode::Mprotect
            } else {
                GuardMode::Batched
            };
            GUARD_MODE.store(mode as u8, Ordering::Relaxed);
            mode
        }
    }
}

fn set_guard_mode(mode: GuardMode) {
    GUARD_MODE.store(mode as u8, Ordering::Relaxed);
}

/// Installs the guard page of every slot; on failure returns how many slots (from the
/// front) are guarded.
fn install_guards(slots: &[Stack]) -> Result<(), (usize, io::Error)> {
    let mut done = 0;
    while done < slots.len() {
        match guard_mode() {
            GuardMode::Batched => {
                let chunk = &slots[done..slots.len().min(done + MAX_IOV)];
                match process_madvise_guards(chunk) {
                    Ok(()) => done += chunk.len(),
                    // The kernel or its sandbox refuses process_madvise for this advice:
                    // fall back to one madvise per guard, for good.
                    Err(_) => set_guard_mode(GuardMode::Madvise),
                }
            }
            GuardMode::Madvise => {
                // SAFETY: the guard page lies inside a mapping this module owns.
                let r = unsafe {
                    libc::madvise(slots[done].base() as *mut _, PAGE, MADV_GUARD_INSTALL)
                };
                if r == 0 {
                    done += 1;
                } else {
                    // EINVAL: a kernel older than 6.13.
                    set_guard_mode(GuardMode::Mprotect);
                }
            }
            GuardMode::Mprotect => {
                // SAFETY: as above; the page is not in use by anyone.
                let r =
                    unsafe { libc::mprotect(slots[done].base() as *mut _, PAGE, libc::PROT_NONE) };
                if r != 0 {
                    return Err((done, mapping_limit_error(io::Error::last_os_error())));
                }
                done += 1;
            }
        }
    }
    Ok(())
}

fn process_madvise_guards(slots: &[Stack]) -> io::Result<()> {
    let iov: Vec<libc::iovec> = slots
        .iter()
        .map(|s| libc::iovec {
            iov_base: s.base() as *mut _,
            iov_len: PAGE,
        })
        .collect();
    let mut first = 0;
    while first < iov.len() {
        // A short count means the kernel stopped part-way: continue after the last
        // whole range it did.
        let advised = process_madvise(&iov[first..], MADV_GUARD_INSTALL)? / PAGE;
        if advised == 0 {
            return Err(io::Error::from_raw_os_error(libc::EAGAIN));
        }
        first += advised;
    }
    Ok(())
}

/// `process_madvise` on our own process: one system call for many ranges. Returns the
/// number of bytes advised.
fn process_madvise(iov: &[libc::iovec], advice: libc::c_int) -> io::Result<usize> {
    static PIDFD: OnceLock<libc::c_int> = OnceLock::new();
    // SAFETY: pidfd_open on our own pid has no effect but a new descriptor.
    let pidfd = *PIDFD.get_or_init(|| unsafe {
        libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) as libc::c_int
    });
    if pidfd < 0 {
        return Err(io::Error::from_raw_os_error(libc::ENOSYS));
    }
    // SAFETY: callers pass ranges inside stack mappings they own and do not use; the
    // iovec array outlives the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_process_madvise,
            pidfd,
            iov.as_ptr(),
            iov.len(),
            advice,
            0,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

fn max_map_count() -> Option<usize> {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Whether this process has (nearly) as many mappings as the kernel allows: then an
/// `mmap` failing with ENOMEM is the mapping limit, not the address space.
fn near_mapping_limit() -> bool {
    let Some(limit) = max_map_count() else {
        return false;
    };
    let maps = std::fs::read_to_string("/proc/self/maps").map_or(0, |m| m.lines().count());
    maps + 64 >= limit
}

fn mapping_limit_error(e: io::Error) -> io::Error {
    let limit = max_map_count().map_or_else(|| "?".to_string(), |n| n.to_string());
    io::Error::new(
        io::ErrorKind::OutOfMemory,
        format!(
            "gogreen: the kernel refused another stack guard page ({e}): vm.max_map_count ({limit}) \
             is reached. Guards here are mprotect'ed pages (no MADV_GUARD_INSTALL: Linux < 6.13, \
             or GOGREEN_GUARD=mprotect), each costing two mappings; raise the limit \
             (sysctl -w vm.max_map_count=2200000) or run fewer green threads at once"
        ),
    )
}

/// Returns every page of each slot except its guard and its top `keep` pages to the
/// kernel (`MADV_DONTNEED`), so a slot that once ran deep does not keep that memory
/// while it waits in a pool. Batched like the guards.
pub(crate) fn trim(slots: &[Stack], keep: usize) {
    let ranges: Vec<(usize, usize)> = slots
        .iter()
        .filter(|s| s.size > PAGE * (1 + keep))
        .map(|s| (s.base() + PAGE, s.size - PAGE * (1 + keep)))
        .collect();
    for chunk in ranges.chunks(MAX_IOV) {
        if guard_mode() == GuardMode::Batched && process_madvise_dontneed(chunk).is_ok() {
            continue;
        }
        for &(start, len) in chunk {
            // SAFETY: the range lies inside a slot owned by the caller, below its top
            // pages and above its guard; nothing references it (the slot is pooled).
            unsafe { libc::madvise(start as *mut _, len, libc::MADV_DONTNEED) };
        }
    }
}

fn process_madvise_dontneed(ranges: &[(usize, usize)]) -> io::Result<()> {
    let iov: Vec<libc::iovec> = ranges
        .iter()
        .map(|&(b, l)| libc::iovec {
            iov_base: b as *mut _,
            iov_len: l,
        })
        .collect();
    let total: usize = ranges.iter().map(|r| r.1).sum();
    if process_madvise(&iov, libc::MADV_DONTNEED)? != total {
        return Err(io::Error::from_raw_os_error(libc::EAGAIN));
    }
    Ok(())
}
