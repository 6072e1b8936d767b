//! The P: a logical processor — its run queue, its timers, and the caches that let a
//! spawn and an exit touch no shared state: free G headers, free stacks, task ids.
//!
//! `procs` Ps are in play; `procs` Ms run Gs in parallel at most — plus one per P whose
//! M is stuck (see "Spare Ps" in `sysmon.rs`). When a cache runs dry or full it trades
//! half with the [`Central`] lists, as Go's `gfget`/`gfput` do.

use super::census;
use super::counters::PCounters;
use super::g::G;
use super::queue::RunQueue;
use super::syscall::Syscall;
use super::timer::Timers;
use crate::stack::{Stack, pool};
use parking_lot::Mutex;
use std::cell::UnsafeCell;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

/// G headers a processor keeps for reuse at most.
const GFREE_MAX: usize = 64;
/// G headers allocated at once when every free list is empty.
const SLAB: usize = 64;
/// Task ids a processor takes from the global counter at once.
const ID_BATCH: u64 = 16;

/// G headers allocated so far (they are never freed): for `gogreen::stats`.
pub(crate) static G_HEADERS: AtomicUsize = AtomicUsize::new(0);

/// A logical processor. Shared by reference; `local` belongs to the M that holds it.
pub(crate) struct P {
    pub(crate) id: usize,
    pub(crate) runq: RunQueue<G>,
    pub(crate) timers: Timers,
    /// Bumped by the owner at every G switch-in; sysmon reads it to spot a stuck P, and
    /// thieves to see whether the owner is getting to its ring (`steal.rs`), and
    /// `gogreen::stats` as the count of switches (64 bits: it never wraps). On a line
    /// of its own: the owner writes it at every switch, and others read it every few
    /// microseconds, which would otherwise cost the owner a miss on whatever shares it.
    pub(crate) schedtick: Line<AtomicU64>,
    /// What this P has done since the start, for `gogreen::stats`; its holder counts.
    pub(crate) counters: PCounters,
    /// Set by sysmon when the P has not scheduled for a while; `preempt_point` clears it
    /// and yields.
    pub(crate) preempt: AtomicBool,
    /// Set by sysmon when it put a spare P in play in this one's place, because this
    /// P's M was stuck in one G. The M gives the P up at its next scheduling point.
    pub(crate) retired: AtomicBool,
    /// The spare that replaced this P when it was retired: where its timers go.
    pub(crate) successor: AtomicUsize,
    /// In play (counted among the `procs`), as opposed to waiting in the spares.
    pub(crate) in_play: AtomicBool,
    /// Free stacks of the default size, and stack promises this P may make: the
    /// holder's, except during a sweep (`stack::pool`).
    stacks: &'static pool::Cache,
    /// Non-zero while a blocking call left this P with its M (`syscall.rs`).
    pub(crate) syscall: Syscall,
    /// On a line of its own: the owner writes it at every switch, and the fields above
    /// are read by every thief and by sysmon.
    local: Line<UnsafeCell<PLocal>>,
}

/// A value on a cache-line pair of its own (the adjacent-line prefetcher fetches two).
#[repr(align(128))]
pub(crate) struct Line<T>(T);

impl<T> std::ops::Deref for Line<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.0
    }
}

/// What only the P's owner touches.
pub(crate) struct PLocal {
    gfree: Vec<usize>,
    /// Next id to hand out, and the end of the batch.
    ids: (u64, u64),
    /// `runnext` picks in a row; capped so a ping-pong pair cannot starve the ring.
    pub(crate) runnext_streak: u32,
    /// The sequence number of the last blocking call made on this P (`syscall.rs`):
    /// odd, stepped by 2.
    pub(crate) syscalls: u32,
    /// Gs the owner took from its own ring (wrapping; `steal.rs`, L1).
    pub(crate) ring_pops: u32,
    /// `ring_pops`, `schedtick` and the time when a G was last pushed out of
    /// `runnext` onto the ring (`steal.rs`, L1).
    pub(crate) last_displaced: (u32, u64, Instant),
}

// SAFETY: `local` is only accessed by the M that holds the P (see `P::local`); all
// other fields are atomics or thread-safe.
unsafe impl Sync for P {}

impl P {
    pub(crate) fn new(id: usize, stack_size: usize, in_play: bool) -> Self {
        P {
            id,
            runq: RunQueue::new(),
            timers: Timers::new(),
            schedtick: Line(AtomicU64::new(0)),
            counters: PCounters::new(),
            preempt: AtomicBool::new(false),
            retired: AtomicBool::new(false),
            successor: AtomicUsize::new(0),
            in_play: AtomicBool::new(in_play),
            stacks: pool::POOL.new_cache(stack_size),
            syscall: Syscall::new(),
            local: Line(UnsafeCell::new(PLocal {
                gfree: Vec::with_capacity(GFREE_MAX),
                ids: (0, 0),
                runnext_streak: 0,
                syscalls: 1,
                ring_pops: 0,
                last_displaced: (0, 0, Instant::now()),
            })),
        }
    }

    /// The owner's private state.
    ///
    /// # Safety
    ///
    /// The caller's M holds this P, and does not keep another reference from `local`
    /// alive across the call.
    #[allow(clippy::mut_from_ref)]
    #[inline]
    pub(crate) unsafe fn local(&self) -> &mut PLocal {
        // SAFETY: per the contract, only the holder reaches here, one borrow at a time.
        unsafe { &mut *self.local.get() }
    }
}

/// What the Ps' caches fall back on: the global list of free G headers and the task-id
/// counter. (Stacks fall back on `stack::pool::POOL`.)
pub(crate) struct Central {
    /// G headers not cached by any processor.
    gfree: Mutex<Vec<usize>>,
    next_id: AtomicU64,
}

impl Central {
    pub(crate) fn new() -> Self {
        Central {
            gfree: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
        }
    }

    /// Takes a G header: from `p`'s cache, else the global list, else a new slab.
    /// `p`, if given, is held by the caller's M.
    pub(crate) fn alloc_g(&self, p: Option<&P>) -> &'static G {
        let addr = match p {
            Some(p) => {
                // SAFETY: the caller holds `p`.
                let local = unsafe { p.local() };
                match local.gfree.pop() {
                    Some(g) => g,
                    None => {
                        let mut global = self.gfree.lock();
                        let take = global.len().min(GFREE_MAX / 2);
                        let at = global.len() - take;
                        local.gfree.extend(global.drain(at..));
                        drop(global);
                        match local.gfree.pop() {
                            Some(g) => g,
                            None => new_slab(&mut local.gfree),
                        }
                    }
                }
            }
            None => {
                let mut global = self.gfree.lock();
                match global.pop() {
                    Some(g) => g,
                    None => new_slab(&mut global),
                }
            }
        };
        // SAFETY: free lists hold addresses of leaked, never-freed G headers.
        unsafe { &*(addr as *const G) }
    }

    /// Returns a finished task's header to a free list.
    ///
    /// # Safety
    /// The task and its handle are gone (`G::release_*` returned `true`); `p`, if
    /// given, is held by the caller's M.
    pub(crate) unsafe fn free_g(&self, g: &G, p: Option<&P>) {
        // SAFETY: per the contract.
        unsafe { g.reset() };
        let addr = g as *const G as usize;
        match p {
            Some(p) => {
                // SAFETY: the caller holds `p`.
                let local = unsafe { p.local() };
                if local.gfree.len() == GFREE_MAX {
                    self.gfree.lock().extend(local.gfree.drain(..GFREE_MAX / 2));
                }
                local.gfree.push(addr);
            }
            None => self.gfree.lock().push(addr),
        }
    }

    /// A task id, from `p`'s batch if given (held by the caller's M).
    pub(crate) fn new_id(&self, p: Option<&P>) -> u64 {
        match p {
            Some(p) => {
                // SAFETY: the caller holds `p`.
                let local = unsafe { p.local() };
                if local.ids.0 == local.ids.1 {
                    let first = self.next_id.fetch_add(ID_BATCH, Ordering::Relaxed);
                    local.ids = (first, first + ID_BATCH);
                }
                local.ids.0 += 1;
                local.ids.0 - 1
            }
            None => self.next_id.fetch_add(1, Ordering::Relaxed),
        }
    }
}

/// Allocates `SLAB` headers, keeps them forever, puts all but one in `free`.
#[cold]
fn new_slab(free: &mut Vec<usize>) -> usize {
    G_HEADERS.fetch_add(SLAB, Ordering::Relaxed);
    let slab: &'static [G] = Box::leak((0..SLAB).map(|_| G::new()).collect());
    census::add_slab(slab);
    free.extend(slab[1..].iter().map(|g| g as *const G as usize));
    &slab[0] as *const G as usize
}

/// Promises a stack of `size` bytes (validated) to a task about to be spawned: from
/// `p`'s credits for the default size. `p`, if given, is held by the caller's M.
#[inline]
pub(crate) fn promise_stack(p: Option<&P>, size: usize) -> io::Result<()> {
    match p {
        Some(p) if p.stacks.size() == size => p.stacks.promise(&pool::POOL),
        _ => pool::POOL.promise(size),
    }
}

/// The stack promised to a task, at its first run: from `p`'s cache for the default
/// size. The caller's M holds `p`.
#[inline]
pub(crate) fn take_stack(p: &P, size: usize) -> Stack {
    if p.stacks.size() == size {
        p.stacks.take(&pool::POOL)
    } else {
        pool::POOL.take(size)
    }
}

/// A G on `p` is about to publish its result and then leave its stack: until
/// [`free_stack`] gives the stack back here, a spawn that finds no stack waits for it
/// (a spawn right after a join must not fail for a stack still being left). The
/// caller's M holds `p`.
#[inline]
pub(crate) fn exit_begins(p: &P) {
    p.stacks.exit_begins();
}

/// Gives a dead G's stack back, and its promise with it: the G announced its exit on
/// `p` ([`exit_begins`]), which the caller's M holds.
#[inline]
pub(crate) fn free_stack(p: &P, stack: Stack) {
    if p.stacks.size() == stack.size() {
        p.stacks.put(&pool::POOL, stack);
    } else {
        pool::POOL.put(stack);
    }
    p.stacks.exit_done();
}
