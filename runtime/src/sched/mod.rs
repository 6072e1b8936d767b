//! The G-P-M scheduler: the runtime object, its processors (P), and the entry points
//! the public API calls.
//!
//! - A **G** (`g.rs`) is a green thread: a header plus a stack slot.
//! - An **M** (`worker.rs`) is an OS thread. It runs Gs only while it holds a P.
//! - A **P** (here) is a logical processor: a local run queue with a `runnext` slot
//!   (`queue.rs`), a timer heap (`timer.rs`), and caches of free G headers and stacks.
//!   `procs` of them are in play; `procs` Ms run Gs in parallel at most — plus one
//!   per P whose M is stuck (see "Spare Ps" in `sysmon.rs`).
//!
//! The global queue (`inject.rs`) takes overflow and Gs readied from outside; the idle
//! lists and spinning counters (`idle.rs`) decide when to wake an M; sysmon
//! (`sysmon.rs`) watches for stuck processors and overdue work.

pub(crate) mod g;
pub(crate) mod idle;
pub(crate) mod inject;
mod parker;
pub(crate) mod queue;
pub(crate) mod state;
mod sysmon;
mod timer;
mod worker;

use crate::stack::{self, Stack, overflow, pool};
use g::G;
use idle::Idle;
use inject::Inject;
use parking_lot::Mutex;
use queue::RunQueue;
use std::cell::UnsafeCell;
use std::io;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;
use timer::Timers;
use worker::M;

pub(crate) use worker::{
    current_g, current_locals, in_green_thread, park_current, preempt_point, yield_current,
};

/// G headers a processor keeps for reuse at most.
const GFREE_MAX: usize = 64;
/// G headers allocated at once when every free list is empty.
const SLAB: usize = 64;
/// Task ids a processor takes from the global counter at once.
const ID_BATCH: u64 = 16;
/// Spare Ps, to replace Ps whose M is stuck in one G (`sysmon.rs`): at least this many,
/// at least `procs`.
const SPARES: usize = 32;

/// Settings fixed when the runtime starts.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    pub(crate) procs: usize,
    pub(crate) stack_size: usize,
}

/// The one runtime of the process.
pub(crate) struct Runtime {
    /// `procs` Ps in play, then the spares (`sysmon.rs`).
    pub(crate) ps: Box<[P]>,
    /// Spare Ps not in play: what sysmon takes to replace a P whose M is stuck.
    pub(crate) spares: Mutex<Vec<usize>>,
    pub(crate) inject: Inject<G>,
    pub(crate) idle: Idle<&'static M>,
    /// Every M ever started (they never exit), by id.
    ms: Mutex<Vec<&'static M>>,
    pub(crate) settings: Settings,
    epoch: Instant,
    next_id: AtomicU64,
    /// G headers not cached by any processor.
    gfree: Mutex<Vec<usize>>,
    /// The M (id + 1) sleeping until the earliest timer, or 0.
    timer_sleeper: AtomicUsize,
    /// The deadline that M sleeps until.
    sleep_until: AtomicU64,
    sysmon: sysmon::Sysmon,
}

/// A logical processor. Shared by reference; `local` belongs to the M that holds it.
pub(crate) struct P {
    pub(crate) id: usize,
    pub(crate) runq: RunQueue<G>,
    pub(crate) timers: Timers,
    /// Bumped by the owner at every G switch-in; sysmon reads it to spot a stuck P.
    pub(crate) schedtick: AtomicU32,
    /// Set by sysmon when the P has not scheduled for a while; `preempt_point` clears it
    /// and yields.
    pub(crate) preempt: AtomicBool,
    /// Set by sysmon when it put a spare P in play in this one's place, because this
    /// P's M was stuck in one G. The M gives the P up at its next scheduling point.
    pub(crate) retired: AtomicBool,
    /// The spare that replaced this P when it was retired: where its timers go.
    pub(crate) successor: AtomicUsize,
    /// In play (counted among the `procs`), as opposed to waiting in `spares`.
    pub(crate) in_play: AtomicBool,
    local: UnsafeCell<PLocal>,
}

/// What only the P's owner touches.
pub(crate) struct PLocal {
    gfree: Vec<usize>,
    stacks: pool::Cache,
    /// Next id to hand out, and the end of the batch.
    ids: (u64, u64),
    /// `runnext` picks in a row; capped so a ping-pong pair cannot starve the ring.
    pub(crate) runnext_streak: u32,
}

// SAFETY: `local` is only accessed by the M that holds the P (see `P::local`); all
// other fields are atomics or thread-safe.
unsafe impl Sync for P {}

impl P {
    fn new(id: usize, stack_size: usize, in_play: bool) -> Self {
        P {
            id,
            runq: RunQueue::new(),
            timers: Timers::new(),
            schedtick: AtomicU32::new(0),
            preempt: AtomicBool::new(false),
            retired: AtomicBool::new(false),
            successor: AtomicUsize::new(0),
            in_play: AtomicBool::new(in_play),
            local: UnsafeCell::new(PLocal {
                gfree: Vec::with_capacity(GFREE_MAX),
                stacks: pool::Cache::new(stack_size),
                ids: (0, 0),
                runnext_streak: 0,
            }),
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

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// G headers allocated so far (they are never freed): for `gogreen::stats`.
pub(crate) static G_HEADERS: AtomicUsize = AtomicUsize::new(0);

/// Ms started so far (they never exit): for `gogreen::stats`.
pub(crate) fn threads() -> usize {
    RUNTIME.get().map_or(0, |rt| rt.ms.lock().len())
}

/// The runtime, started on first use.
#[inline]
pub(crate) fn runtime() -> &'static Runtime {
    match RUNTIME.get() {
        Some(rt) => rt,
        None => start(None).expect("gogreen: the runtime could not start"),
    }
}

/// Whether the runtime has started.
pub(crate) fn started() -> bool {
    RUNTIME.get().is_some()
}

/// Starts the runtime with `settings` (or the environment's and the defaults). Returns
/// `Err` if it was already started by someone else with other settings.
pub(crate) fn start(settings: Option<Settings>) -> io::Result<&'static Runtime> {
    let mut fresh = false;
    let rt = RUNTIME.get_or_init(|| {
        fresh = true;
        Runtime::new(settings.unwrap_or_else(crate::config::from_env))
    });
    if !fresh && settings.is_some() {
        return Err(io::Error::other(
            "gogreen: the runtime is already running (it starts on first use: spawn, run, sleep, a channel \
             wait inside a green thread); call Config::apply before anything else",
        ));
    }
    Ok(rt)
}

impl Runtime {
    fn new(settings: Settings) -> Self {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        assert_eq!(
            page as usize,
            stack::PAGE,
            "gogreen: fatal: only 4 KiB pages are supported so far"
        );
        // The hooks only ever run inside green threads, which exist only after this
        // runtime is published; installing them first means no G can miss them.
        let _ = gogreen_channel::park::install(&worker::PARK_HOOKS);
        overflow::install(worker::overflow_lookup);
        stack::grow::install(&worker::BOUNDS_HOOKS);
        let all = settings.procs + settings.procs.max(SPARES);
        Runtime {
            ps: (0..all)
                .map(|i| P::new(i, settings.stack_size, i < settings.procs))
                .collect(),
            spares: Mutex::new((settings.procs..all).rev().collect()),
            inject: Inject::new(),
            idle: Idle::new(settings.procs),
            ms: Mutex::new(Vec::new()),
            settings,
            epoch: Instant::now(),
            next_id: AtomicU64::new(1),
            gfree: Mutex::new(Vec::new()),
            timer_sleeper: AtomicUsize::new(0),
            sleep_until: AtomicU64::new(timer::NEVER),
            sysmon: sysmon::Sysmon::new(),
        }
    }

    /// Nanoseconds since the runtime started: the timers' clock.
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        self.instant_to_ns(Instant::now())
    }

    #[inline]
    pub(crate) fn instant_to_ns(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.epoch)
            .as_nanos()
            .min(u128::from(timer::NEVER - 1)) as u64
    }

    pub(crate) fn ns_to_instant(&self, ns: u64) -> Instant {
        self.epoch + std::time::Duration::from_nanos(ns)
    }

    /// The earliest timer deadline over all processors.
    pub(crate) fn earliest_timer(&self) -> u64 {
        self.ps
            .iter()
            .map(|p| p.timers.next())
            .min()
            .unwrap_or(timer::NEVER)
    }

    /// The Ps in play (a snapshot): the ones that can hold queued Gs.
    pub(crate) fn in_play(&self) -> impl Iterator<Item = &P> {
        self.ps.iter().filter(|p| p.in_play.load(Ordering::Relaxed))
    }

    fn m_by_id(&self, id: usize) -> Option<&'static M> {
        self.ms.lock().get(id).copied()
    }

    /// Takes a G header: from `p`'s cache, else the global list, else a new slab.
    fn alloc_g(&self, p: Option<&P>) -> &'static G {
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
                            None => self.new_slab(&mut local.gfree),
                        }
                    }
                }
            }
            None => {
                let mut global = self.gfree.lock();
                match global.pop() {
                    Some(g) => g,
                    None => self.new_slab(&mut global),
                }
            }
        };
        // SAFETY: free lists hold addresses of leaked, never-freed G headers.
        unsafe { &*(addr as *const G) }
    }

    /// Allocates `SLAB` headers, keeps them forever, puts all but one in `free`.
    #[cold]
    fn new_slab(&self, free: &mut Vec<usize>) -> usize {
        G_HEADERS.fetch_add(SLAB, Ordering::Relaxed);
        let slab: &'static mut [G] = Box::leak((0..SLAB).map(|_| G::new()).collect());
        free.extend(slab[1..].iter().map(|g| g as *const G as usize));
        &slab[0] as *const G as usize
    }

    /// Returns a finished task's header to a free list.
    ///
    /// # Safety
    /// The task and its handle are gone (`G::release_*` returned `true`).
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

    /// A task id.
    fn new_id(&self, p: Option<&P>) -> u64 {
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

    /// A stack of `size` bytes (validated): from `p`'s cache for the default size.
    fn alloc_stack(&self, p: Option<&P>, size: usize) -> io::Result<Stack> {
        if let Some(p) = p {
            // SAFETY: the caller holds `p`.
            let local = unsafe { p.local() };
            if local.stacks.size() == size {
                return local.stacks.get(&pool::POOL);
            }
        }
        pool::POOL.get(size)
    }

    /// Gives a dead G's stack back.
    pub(crate) fn free_stack(&self, p: Option<&P>, stack: Stack) {
        if let Some(p) = p {
            // SAFETY: the caller holds `p`.
            let local = unsafe { p.local() };
            if local.stacks.size() == stack.size() {
                local.stacks.put(&pool::POOL, stack);
                return;
            }
        }
        pool::POOL.put_all([stack]);
    }
}

/// Returns a header whose task and handle are both gone to a free list.
pub(crate) fn free_g(g: &'static G) {
    let rt = runtime();
    // SAFETY: the caller saw both release bits go (`G::release_*` returned `true`).
    worker::with_p(|p| unsafe { rt.free_g(g, p) });
}

/// Spawns a task: the scheduler's half of `Builder::spawn`. Returns the queued G.
pub(crate) fn spawn<F, T>(
    f: F,
    name: Option<Arc<str>>,
    stack_size: Option<usize>,
) -> io::Result<&'static G>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let rt = runtime();
    let size = match stack_size {
        Some(s) => stack::validate_size(s)?,
        None => rt.settings.stack_size,
    };
    worker::with_p(|p| {
        // A G gets its stack when it first runs, from the cache of the P that runs it:
        // queued Gs cost no stack, and a G that exits on a P leaves its (resident) stack
        // for the next G there. Once making new stacks has failed, spawns take theirs
        // now instead, so the failure is reported to the spawner.
        let stack = if pool::POOL.exhausted() {
            Some(rt.alloc_stack(p, size)?)
        } else {
            None
        };
        let g = rt.alloc_g(p);
        let id = rt.new_id(p);
        // SAFETY: `g` came off a free list: nobody else can reach it.
        unsafe { g.prepare(f, size, stack, id, name) };
        worker::submit_new(rt, p, g);
        Ok(g)
    })
}
