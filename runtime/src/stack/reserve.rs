//! Address-space reservations for stacks, carved into slots, and their guard pages.
//!
//! One `mmap(MAP_NORESERVE)` of 1 GiB holds 16,384 default-sized slots and costs no
//! memory until pages are touched. Each slot's lowest page becomes a guard:
//!
//! - `madvise(MADV_GUARD_INSTALL)` (Linux ≥ 6.13) marks the page in the page tables
//!   without splitting the mapping, so a million guarded slots stay a few dozen VMAs.
//!   Guards for a batch of new slots go in with a few `process_madvise` calls (0.5 µs per
//!   guard on this project's machines, against 1.4 µs for one `madvise` each).
//! - On an older kernel, `mprotect(PROT_NONE)` guards. Each splits the mapping, costing
//!   two of the `vm.max_map_count` mappings (65,530 by default), so they run out near
//!   32,000 stacks. Carving stops [`MAP_HEADROOM`] mappings short of the limit: the rest
//!   of the process (malloc, thread stacks, files) needs some too, and an error message
//!   needs malloc to work. Never an abort, never a stack without a guard.
//!
//! Nothing here allocates on the way to an error: when stacks run out, memory often has
//! too (the mapping limit stops malloc from growing as well). [`Exhausted::into_io`]
//! builds the error after checking that it can.

use super::{PAGE, Stack};
use std::fmt;
use std::io;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

/// Bytes reserved per `mmap`, unless a slot needs more.
const REGION: usize = 1 << 30;

/// The `madvise` advice that installs guard markers; the libc crate does not export it.
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// Guards installed at once when never-used slots are first handed out.
const GUARD_BATCH: usize = 256;

/// Ranges per `process_madvise` call. The kernel takes up to 1,024 (UIO_MAXIOV), but
/// the array lives on the caller's stack, which may be a green thread's: 32 ranges are
/// 512 bytes.
const IOV_BATCH: usize = 32;

/// Mappings left to the rest of the process when guards are `mprotect`ed.
pub(crate) const MAP_HEADROOM: usize = 1024;

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

/// Why no more slots can be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exhausted {
    /// The kernel's `vm.max_map_count` (mprotect guards), or our headroom below it.
    MapLimit,
    /// No address space for another reservation (`ulimit -v`).
    AddressSpace,
    /// No memory for the carver's bookkeeping.
    Memory,
}

impl Exhausted {
    /// The error a spawn returns. Allocates only after checking that it can: a failed
    /// allocation aborts the process, and the conditions that exhaust stacks exhaust
    /// malloc too. Without memory the error is a bare `OutOfMemory`.
    pub(crate) fn into_io(self) -> io::Error {
        let mut probe: Vec<u8> = Vec::new();
        if probe.try_reserve(4096).is_err() {
            return io::Error::from(io::ErrorKind::OutOfMemory);
        }
        drop(probe);
        io::Error::new(io::ErrorKind::OutOfMemory, self)
    }
}

impl fmt::Display for Exhausted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exhausted::MapLimit => {
                let limit = MAP_LIMIT.load(Ordering::Relaxed);
                write!(
                    f,
                    "gogreen: no stack for a new green thread: the kernel's limit on memory \
                     mappings, vm.max_map_count ({limit}), is nearly reached. Without \
                     MADV_GUARD_INSTALL (Linux < 6.13, or GOGREEN_GUARD=mprotect) each stack's \
                     guard page costs two mappings, so about {} stacks fit. Raise the limit \
                     (sysctl -w vm.max_map_count=2200000 allows a million stacks) or run fewer \
                     green threads at once",
                    limit.saturating_sub(MAP_HEADROOM) / 2
                )
            }
            Exhausted::AddressSpace => f.write_str(
                "gogreen: no stack for a new green thread: cannot reserve address space for \
                 more stacks (mmap failed); is the address space limited (ulimit -v)? Smaller \
                 stacks (Config::stack_size, Builder::stack_size) need less",
            ),
            Exhausted::Memory => {
                f.write_str("gogreen: no stack for a new green thread: out of memory")
            }
        }
    }
}

impl std::error::Error for Exhausted {}

/// Carves slots of one size out of reservations, and keeps the slots that were never
/// handed out. Used under the pool's lock.
///
/// What counts as a slot of capacity depends on the guards. Guard markers cannot fail
/// for lack of mappings, so a whole new reservation counts at once and its guards go in
/// a batch at a time as its slots are first handed out ([`Carver::take_fresh`]): a
/// spawn costs no system call, a queued task no more than address space. `mprotect`
/// guards can fail, so a slot counts only once its guard is in ([`Carver::carve`]).
pub(crate) struct Carver {
    size: usize,
    /// Counted slots never handed out, never written to: they cost nothing until
    /// touched, so they stay here rather than in a free list (which would write to
    /// them). Several ranges when reservations were counted while earlier ones still
    /// had slots promised to queued tasks.
    fresh: Vec<Fresh>,
    /// `mprotect` guards: the rest of the reservation being guarded, not counted yet.
    spare: (usize, usize),
}

/// Slots `[next, end)` of a reservation, counted and never used; those below `guarded`
/// have their guard page.
struct Fresh {
    next: usize,
    guarded: usize,
    end: usize,
}

impl Carver {
    pub(crate) const fn new(size: usize) -> Self {
        Carver {
            size,
            fresh: Vec::new(),
            spare: (0, 0),
        }
    }

    /// A counted slot that was never used, with its guard page, if one is left.
    #[inline]
    pub(crate) fn take_fresh(&mut self) -> Option<Stack> {
        let size = self.size;
        let f = self.fresh.last_mut()?;
        if f.next == f.guarded {
            let n = ((f.end - f.guarded) / size).min(GUARD_BATCH);
            match install_guards(f.guarded, n, size) {
                (done, _) if done > 0 => {
                    SLOTS_CARVED.fetch_add(done, Ordering::Relaxed);
                    f.guarded += done * size;
                }
                // Only guard markers are installed here, and they need no new mappings:
                // the kernel refusing one (out of memory for page tables) leaves a slot
                // promised to a task that cannot be guarded.
                (_, e) => crate::fatal!(
                    "cannot install the guard page of a promised stack ({:?})",
                    e.err()
                ),
            }
        }
        let base = f.next;
        f.next += size;
        if f.next == f.end {
            self.fresh.pop();
        }
        Some(Stack {
            base: std::num::NonZeroUsize::new(base)?,
            size,
        })
    }

    /// Counts more slots as capacity and returns how many (at least one on success): a
    /// new reservation's worth with guard markers, up to `n` newly guarded ones with
    /// `mprotect`.
    pub(crate) fn carve(&mut self, n: usize) -> Result<usize, Exhausted> {
        if self.fresh.try_reserve(1).is_err() {
            return Err(Exhausted::Memory);
        }
        if guard_mode() != GuardMode::Mprotect {
            let (start, end) = self.reserve()?;
            self.fresh.push(Fresh {
                next: start,
                guarded: start,
                end,
            });
            return Ok((end - start) / self.size);
        }
        if self.spare.0 == self.spare.1 {
            self.spare = self.reserve()?;
        }
        let (start, end) = self.spare;
        let n = n.min((end - start) / self.size);
        let (done, result) = install_guards(start, n, self.size);
        SLOTS_CARVED.fetch_add(done, Ordering::Relaxed);
        if done == 0 {
            // `n` is at least one: a reservation holds at least 16 slots.
            return Err(result.err().unwrap_or(Exhausted::MapLimit));
        }
        let guarded = start + done * self.size;
        self.spare.0 = guarded;
        match self.fresh.last_mut() {
            Some(last) if last.end == start => {
                last.end = guarded;
                last.guarded = guarded;
            }
            _ => self.fresh.push(Fresh {
                next: start,
                guarded,
                end: guarded,
            }),
        }
        // A failure after some were guarded comes back at the next carve.
        Ok(done)
    }

    /// Maps a new reservation; returns its whole slots' range.
    fn reserve(&mut self) -> Result<(usize, usize), Exhausted> {
        let len = REGION.max(self.size * 16);
        // Read while memory is not short yet: telling the two failures below apart
        // needs it.
        map_limit();
        if guard_mode() == GuardMode::Mprotect && mprotect_room() == 0 {
            return Err(Exhausted::MapLimit);
        }
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
            return Err(if near_mapping_limit() {
                Exhausted::MapLimit
            } else {
                Exhausted::AddressSpace
            });
        }
        RESERVATIONS.fetch_add(1, Ordering::Relaxed);
        MAPS_ESTIMATE.fetch_add(1, Ordering::Relaxed);
        // Huge pages would turn a one-page stack into 2 MiB of memory.
        // SAFETY: the range is the mapping just made. Failure only loses the hint.
        unsafe { libc::madvise(p, len, libc::MADV_NOHUGEPAGE) };
        let start = p as usize;
        Ok((start, start + len / self.size * self.size))
    }
}

/// How guard pages are made here: decided once, on first use, by trying the best way
/// on a scratch page.
fn guard_mode() -> GuardMode {
    match GUARD_MODE.load(Ordering::Relaxed) {
        1 => GuardMode::Batched,
        2 => GuardMode::Madvise,
        3 => GuardMode::Mprotect,
        _ => {
            let mode = detect_guard_mode();
            GUARD_MODE.store(mode as u8, Ordering::Relaxed);
            mode
        }
    }
}

fn detect_guard_mode() -> GuardMode {
    // GOGREEN_GUARD=mprotect forces the old-kernel path, to test it. Any other value
    // is reported, as the other GOGREEN_ variables' bad values are: a misspelling
    // must not leave someone believing they tested the old-kernel path.
    match std::env::var_os("GOGREEN_GUARD") {
        Some(v) if v == "mprotect" => return GuardMode::Mprotect,
        Some(v) => eprintln!(
            "gogreen: ignoring GOGREEN_GUARD={v:?}: the one value is \"mprotect\" (guard \
             pages by mprotect, as on kernels without MADV_GUARD_INSTALL)"
        ),
        None => {}
    }
    // SAFETY: a scratch anonymous mapping of two pages, unmapped below.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            2 * PAGE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return GuardMode::Mprotect;
    }
    let iov = [libc::iovec {
        iov_base: p,
        iov_len: PAGE,
    }];
    let mode = if process_madvise(&iov, MADV_GUARD_INSTALL).is_ok_and(|n| n == PAGE) {
        GuardMode::Batched
    // SAFETY: advice on the scratch mapping.
    } else if unsafe { libc::madvise(p, PAGE, MADV_GUARD_INSTALL) } == 0 {
        GuardMode::Madvise
    } else {
        // EINVAL: a kernel older than 6.13.
        GuardMode::Mprotect
    };
    // SAFETY: the scratch mapping is ours and unused.
    unsafe { libc::munmap(p, 2 * PAGE) };
    mode
}

/// Installs the guard pages of the `n` slots of `size` bytes from `first` on. Returns
/// how many (from the front) are guarded, and the error that stopped it, if any.
fn install_guards(first: usize, n: usize, size: usize) -> (usize, Result<(), Exhausted>) {
    let mut done = 0;
    while done < n {
        let at = first + done * size;
        match guard_mode() {
            GuardMode::Batched => {
                let chunk = (n - done).min(IOV_BATCH);
                if process_madvise_guards(at, chunk, size).is_err() {
                    return (done, Err(Exhausted::Memory));
                }
                done += chunk;
            }
            GuardMode::Madvise => {
                // SAFETY: the guard page lies inside a mapping this module owns.
                if unsafe { libc::madvise(at as *mut _, PAGE, MADV_GUARD_INSTALL) } != 0 {
                    return (done, Err(Exhausted::Memory));
                }
                done += 1;
            }
            GuardMode::Mprotect => {
                let room = mprotect_room().min(n - done);
                if room == 0 {
                    return (done, Err(Exhausted::MapLimit));
                }
                for i in 0..room {
                    let page = (at + i * size) as *mut libc::c_void;
                    // SAFETY: as above; the page is not in use by anyone.
                    if unsafe { libc::mprotect(page, PAGE, libc::PROT_NONE) } != 0 {
                        return (done, Err(Exhausted::MapLimit));
                    }
                    MAPS_ESTIMATE.fetch_add(2, Ordering::Relaxed);
                    done += 1;
                }
            }
        }
    }
    (done, Ok(()))
}

fn process_madvise_guards(first: usize, n: usize, size: usize) -> io::Result<()> {
    let mut iov = [libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    }; IOV_BATCH];
    for (i, v) in iov.iter_mut().take(n).enumerate() {
        v.iov_base = (first + i * size) as *mut _;
        v.iov_len = PAGE;
    }
    let mut at = 0;
    while at < n {
        // A short count means the kernel stopped part-way: continue after the last
        // whole range it did.
        let advised = process_madvise(&iov[at..n], MADV_GUARD_INSTALL)? / PAGE;
        if advised == 0 {
            return Err(io::Error::from_raw_os_error(libc::EAGAIN));
        }
        at += advised;
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

/// `vm.max_map_count`, read once (0 until then, or if it cannot be read).
static MAP_LIMIT: AtomicUsize = AtomicUsize::new(0);
/// This process's mappings as last counted, plus what carving added since (0: never
/// counted). Only changed under the pool's lock.
static MAPS_ESTIMATE: AtomicUsize = AtomicUsize::new(0);

fn map_limit() -> usize {
    let mut limit = MAP_LIMIT.load(Ordering::Relaxed);
    if limit == 0 {
        // First use: memory is not short yet, std may allocate.
        limit = std::fs::read_to_string("/proc/sys/vm/max_map_count")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(usize::MAX);
        MAP_LIMIT.store(limit, Ordering::Relaxed);
    }
    limit
}

/// How many more `mprotect` guards fit below the mapping limit, headroom kept. Counts
/// the process's mappings afresh when the estimate comes near the limit (others make
/// mappings too: threads, malloc) — but once it found no room, only every 64th call:
/// a count reads all of `/proc/self/maps`, and spawns that keep failing ask each time.
fn mprotect_room() -> usize {
    static REFUSED: AtomicUsize = AtomicUsize::new(0);
    let limit = map_limit();
    let mut maps = MAPS_ESTIMATE.load(Ordering::Relaxed);
    let refused = REFUSED.load(Ordering::Relaxed);
    if !refused.is_multiple_of(64) {
        REFUSED.store(refused + 1, Ordering::Relaxed);
        return 0;
    }
    if maps == 0 || maps.saturating_add(4 * MAP_HEADROOM) >= limit {
        // Without a count (no memory for the buffer), assume the worst.
        maps = count_maps().unwrap_or(usize::MAX);
        MAPS_ESTIMATE.store(maps, Ordering::Relaxed);
    }
    let room = limit.saturating_sub(maps.saturating_add(MAP_HEADROOM)) / 2;
    REFUSED.store(if room == 0 { refused + 1 } else { 0 }, Ordering::Relaxed);
    room
}

/// Whether this process has (nearly) as many mappings as the kernel allows: then an
/// `mmap` failing with ENOMEM is the mapping limit, not the address space.
fn near_mapping_limit() -> bool {
    let limit = map_limit();
    limit != usize::MAX && count_maps().is_some_and(|n| n.saturating_add(64) >= limit)
}

/// The number of lines of `/proc/self/maps`: this process's mappings. `None` if it
/// cannot be read — near the limit, a buffer may not be had either.
fn count_maps() -> Option<usize> {
    const CHUNK: usize = 64 * 1024;
    let mut buf: Vec<u8> = Vec::new();
    if buf.try_reserve_exact(CHUNK).is_err() {
        return None;
    }
    // SAFETY: opening a file by a NUL-terminated path.
    let fd = unsafe {
        libc::open(
            c"/proc/self/maps".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return None;
    }
    let mut lines = Some(0);
    loop {
        // SAFETY: reads into the buffer's spare capacity, CHUNK bytes.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), CHUNK) };
        if n <= 0 {
            if n < 0 {
                lines = None;
            }
            break;
        }
        // SAFETY: `read` initialised the first `n` bytes.
        let read = unsafe { std::slice::from_raw_parts(buf.as_ptr(), n as usize) };
        lines = lines.map(|l| l + read.iter().filter(|&&b| b == b'\n').count());
    }
    // SAFETY: `fd` is ours.
    unsafe { libc::close(fd) };
    lines
}

/// Returns every page of each slot (at `bases`, `size` bytes each) except its guard and
/// its top `keep` pages to the kernel (`MADV_DONTNEED`), so a slot that once ran deep
/// does not keep that memory while it waits in a pool. Batched like the guards.
pub(crate) fn trim(bases: &[usize], size: usize, keep: usize) {
    if size <= PAGE * (1 + keep) {
        return;
    }
    let len = size - PAGE * (1 + keep);
    for chunk in bases.chunks(IOV_BATCH) {
        let mut iov = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; IOV_BATCH];
        for (v, &b) in iov.iter_mut().zip(chunk) {
            v.iov_base = (b + PAGE) as *mut _;
            v.iov_len = len;
        }
        let iov = &iov[..chunk.len()];
        if guard_mode() == GuardMode::Batched
            && process_madvise(iov, libc::MADV_DONTNEED).is_ok_and(|n| n == len * iov.len())
        {
            continue;
        }
        for v in iov {
            // SAFETY: the range lies inside a slot owned by the caller, below its top
            // pages and above its guard; nothing references it (the slot is pooled).
            unsafe { libc::madvise(v.iov_base, len, libc::MADV_DONTNEED) };
        }
    }
}
