//! Free stack slots and the promises on them: a small cache per processor in front of a
//! global pool per size.
//!
//! # Promises
//!
//! A green thread takes its slot at its first run, not at spawn (see `docs/stacks.md`),
//! yet a spawn that returned `Ok` must be able to run, and a spawn that cannot have a
//! stack must fail at the call. So a spawn takes a *promise*: one unit of free capacity,
//! backed by a free slot somewhere, that only the promised task may take. Per size:
//!
//! ```text
//!   free slots (pool lists + caches + being trimmed + carved, never used)
//!     = promised (spawned, not yet run)
//!     + credits  (promises a processor may make without asking the pool)
//!     + unpromised (the pool's count)
//! ```
//!
//! - spawn: a credit of its processor's [`Cache`] becomes a promise; without credits the
//!   cache takes a batch from `unpromised`; when that is 0, new slots are carved; when
//!   carving fails, every cache's credits are swept into the pool ([`Pool::sweep`]); only
//!   then does the spawn fail. Nothing fails while a free, unpromised slot exists.
//! - first run: the promised task takes a slot from its processor's cache, else from the
//!   pool; a slot exists somewhere by the equation, so if the pool has none the runner
//!   carves, sweeps the caches, or waits for the scavenger to give back what it is
//!   trimming. It never fails.
//! - exit: the slot goes to the cache of the processor it exits on, and one credit with
//!   it. Between publishing its result and giving the slot back a task counts as
//!   leaving ([`Cache::exit_begins`]); a spawn that would fail waits for those first,
//!   so that spawning again right after a `join` does not fail for a slot still being
//!   left.
//! - `stack::grow` segments: promise and take at once, from the pool.
//!
//! Caches and credits are the owner's alone on the hot path; a sweep claims them through
//! `claim.rs`, which costs the owner no locked instruction.
//!
//! # Reuse and trimming
//!
//! A green thread that exits gives its slot to its processor's cache; the next first run
//! there takes it back, top page still resident, without a system call. Caches trade
//! half their slots with the global [`Pool`] when they run full or empty, as Go's
//! `gfput`/`gfget` do with G structs. Pooled slots are kept in lists threaded through
//! the slots themselves (a word in their resident top page), so the pool never
//! allocates; slots never used stay in the carver, untouched.
//!
//! Returning a slot's deeper pages to the kernel costs a system call (0.8 µs for one
//! `madvise` on this project's machines — several times a whole spawn), so it is not
//! done on the hot path. Instead, slots that sat in the global pool for a whole
//! scavenge period (sysmon calls [`Pool::scavenge`]) are trimmed in batches, keeping
//! their top page. A batch being trimmed is out of reach for that long: at most
//! [`TRIM_BATCH`] slots, which a runner that needs one waits for. What a cache holds is
//! bounded (`CACHE_MAX` slots per processor) and is left as it is.

use super::claim::{self, Claim};
use super::reserve::{self, Carver, Exhausted};
use super::{PAGE, Stack};
use parking_lot::{Condvar, Mutex, MutexGuard};
use std::cell::UnsafeCell;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Slots a processor's cache holds at most.
const CACHE_MAX: usize = 64;
/// Slots moved between a cache and the pool at once; credits likewise.
const BATCH: usize = CACHE_MAX / 2;
/// Credits a processor holds at most.
const CREDIT_MAX: usize = 2 * BATCH;
/// New slots carved (and guarded) at once.
const CARVE_BATCH: usize = 256;
/// Top pages a trimmed slot keeps resident.
const KEEP_PAGES: usize = 1;
/// Slots the scavenger takes out of reach at once.
const TRIM_BATCH: usize = 256;

/// The process's stack pool.
pub(crate) static POOL: Pool = Pool::new();

/// The global pool: slots of every size, their promises, and the carvers that make new
/// ones.
pub(crate) struct Pool {
    inner: Mutex<Inner>,
    /// Signalled when the scavenger gives a batch back.
    trimmed: Condvar,
    /// Every processor's cache, for sweeps (taken after `inner` when both are) and for
    /// the exit counts. Caches are never freed.
    caches: Mutex<Vec<&'static Cache>>,
}

struct Inner {
    classes: Vec<Class>,
}

/// Free slots of one size.
struct Class {
    size: usize,
    /// Returned since the last scavenge: probably warm, handed out first.
    hot: List,
    /// Returned before the last scavenge.
    aging: List,
    /// Returned before the one before: being trimmed, a batch at a time.
    stale: List,
    /// Trimmed down to their top page.
    clean: List,
    /// Slots out of reach while the scavenger trims them.
    trimming: usize,
    /// Free capacity that is neither promised nor a processor's credit.
    unpromised: usize,
    carver: Carver,
}

impl Class {
    /// A free slot, warmest first.
    fn pop(&mut self) -> Option<Stack> {
        let size = self.size;
        self.hot
            .pop(size)
            .or_else(|| self.aging.pop(size))
            .or_else(|| self.stale.pop(size))
            .or_else(|| self.clean.pop(size))
            .or_else(|| self.carver.take_fresh())
    }

    /// Carves a batch of new, unpromised slots.
    fn carve(&mut self) -> Result<(), Exhausted> {
        let want = CARVE_BATCH.min(64 * 1024 * 1024 / self.size).max(1);
        let n = self.carver.carve(want)?;
        self.unpromised += n;
        Ok(())
    }
}

/// A list of free slots threaded through the slots: each holds the next one's base in
/// the word [`LINK`] bytes below its top, in the top page that stays resident.
struct List {
    /// The first slot's base, or 0.
    head: usize,
}

/// Where a pooled slot keeps its link: below the top, in the padding above a green
/// thread's first frame (`G::entry_sp`), which nothing else uses.
const LINK: usize = 16;

impl List {
    const fn new() -> Self {
        List { head: 0 }
    }

    fn push(&mut self, s: Stack) {
        // SAFETY: the slot is free and ours; its top page is mapped read-write.
        unsafe { ((s.base() + s.size - LINK) as *mut usize).write(self.head) };
        self.head = s.base();
    }

    fn pop(&mut self, size: usize) -> Option<Stack> {
        let base = std::num::NonZeroUsize::new(self.head)?;
        // SAFETY: `push` wrote the link of every slot in the list.
        self.head = unsafe { ((base.get() + size - LINK) as *const usize).read() };
        Some(Stack { base, size })
    }

    /// Detaches up to `n` slots from the front into `out`; returns how many.
    fn pop_into(&mut self, size: usize, out: &mut [usize]) -> usize {
        let mut k = 0;
        while k < out.len() {
            match self.pop(size) {
                Some(s) => {
                    out[k] = s.base();
                    k += 1;
                }
                None => break,
            }
        }
        k
    }
}

/// A processor's private stash: slots and credits of the runtime's default stack size.
/// Its owner is whoever holds the processor; others reach it only through a sweep.
#[repr(align(64))]
pub(crate) struct Cache {
    size: usize,
    claim: Claim,
    /// Tasks of this processor that published their result and began to leave their
    /// stack, and those that gave it back: written by the owner only (a plain store of
    /// one more), read by failing spawns (`Pool::take_unpromised`).
    exits_begun: AtomicUsize,
    exits_done: AtomicUsize,
    /// Owned per `claim`: by the owner inside [`Claim::enter`] or while it holds the
    /// pool's lock (claimants hold it throughout), by a claimant during its claim.
    state: UnsafeCell<CacheState>,
}

struct CacheState {
    /// Up to `CACHE_MAX`, allocated once.
    free: Vec<Stack>,
    credit: usize,
}

// SAFETY: `state` is reached per the claim protocol (see the field); the rest is
// immutable or atomic.
unsafe impl Sync for Cache {}

impl Pool {
    pub(crate) const fn new() -> Self {
        Pool {
            inner: Mutex::new(Inner {
                classes: Vec::new(),
            }),
            trimmed: Condvar::new(),
            caches: Mutex::new(Vec::new()),
        }
    }

    /// A new processor cache for slots of `size` bytes (validated), registered for
    /// sweeps. It lives for ever.
    pub(crate) fn new_cache(&self, size: usize) -> &'static Cache {
        claim::init();
        let cache: &'static Cache = Box::leak(Box::new(Cache {
            size,
            claim: Claim::new(),
            exits_begun: AtomicUsize::new(0),
            exits_done: AtomicUsize::new(0),
            state: UnsafeCell::new(CacheState {
                free: Vec::with_capacity(CACHE_MAX),
                credit: 0,
            }),
        }));
        self.caches.lock().push(cache);
        let mut inner = self.inner.lock();
        // Room for the sizes a program uses, so that a spawn does not have to allocate
        // (when memory may be what ran out) to make a new one's list.
        let _ = inner.classes.try_reserve(16);
        cache
    }

    /// Promises one slot of `size` bytes (validated) to a task about to be spawned.
    pub(crate) fn promise(&self, size: usize) -> io::Result<()> {
        let mut inner = self.inner.lock();
        self.take_unpromised(&mut inner, size, 1).map(drop)
    }

    /// Takes up to `want` (at least one) units of unpromised capacity of `size`:
    /// carving, then sweeping the caches' credits, when there are none; and when that
    /// finds none either but tasks are leaving their stacks, waiting for them.
    fn take_unpromised(
        &self,
        inner: &mut MutexGuard<'_, Inner>,
        size: usize,
        want: usize,
    ) -> io::Result<usize> {
        loop {
            let class = inner.class(size);
            if class.unpromised > 0 {
                let n = class.unpromised.min(want);
                class.unpromised -= n;
                return Ok(n);
            }
            let Err(e) = class.carve() else { continue };
            self.sweep(inner, size);
            if inner.class(size).unpromised > 0 {
                continue;
            }
            // A task whose join already returned may still be switching away from its
            // stack; its unit comes back within a few hundred instructions of its M's
            // time. A program that joined its tasks and spawns as many again must not
            // fail for that, so wait for the exits under way to finish. Nothing they do
            // waits for this spawn (it holds no lock meanwhile and is inside no claim),
            // so they do finish; only their M may have to be scheduled first.
            let (begun, done) = self.exits();
            if begun == done {
                return Err(e.into_io());
            }
            MutexGuard::unlocked(inner, || {
                while self.exits().1 < begun {
                    std::thread::yield_now();
                }
            });
        }
    }

    /// The slot promised to a task, at its first run. Never fails: a promise is backed.
    pub(crate) fn take(&self, size: usize) -> Stack {
        let mut inner = self.inner.lock();
        self.take_promised(&mut inner, size)
    }

    /// A slot for a `stack::grow` segment: a promise and its slot at once.
    pub(crate) fn get(&self, size: usize) -> io::Result<Stack> {
        let mut inner = self.inner.lock();
        self.take_unpromised(&mut inner, size, 1)?;
        Ok(self.take_promised(&mut inner, size))
    }

    /// Like [`get`](Self::get), but `None` instead of waiting for the pool's lock or
    /// returning an error: for the panic hook, which must not block on a lock its own
    /// thread may hold, nor build an error.
    pub(crate) fn try_get(&self, size: usize) -> Option<Stack> {
        let mut inner = self.inner.try_lock()?;
        let class = inner.class(size);
        if class.unpromised == 0 && class.carve().is_err() {
            return None;
        }
        inner.class(size).unpromised -= 1;
        Some(self.take_promised(&mut inner, size))
    }

    /// Gives a slot back, with its unit of capacity: unpromised again.
    pub(crate) fn put(&self, stack: Stack) {
        let mut inner = self.inner.lock();
        let class = inner.class(stack.size);
        class.hot.push(stack);
        class.unpromised += 1;
    }

    /// A free slot for a promised task, from the pool: new ones carved if it has none,
    /// else the caches swept, else a trimmed batch waited for.
    fn take_promised(&self, inner: &mut MutexGuard<'_, Inner>, size: usize) -> Stack {
        loop {
            let class = inner.class(size);
            if let Some(s) = class.pop() {
                return s;
            }
            if class.carve().is_ok() {
                continue;
            }
            if self.sweep(inner, size) > 0 {
                continue;
            }
            if inner.class(size).trimming > 0 {
                self.trimmed.wait(inner);
                continue;
            }
            crate::fatal!("a stack was promised but no free slot of {size} bytes exists");
        }
    }

    /// Σ over the caches of tasks that began to exit, and of those that finished (see
    /// [`Cache::exit_begins`]).
    fn exits(&self) -> (usize, usize) {
        self.caches.lock().iter().fold((0, 0), |(b, d), c| {
            // Finished first: a count of begun read later is never below it.
            let done = c.exits_done.load(Ordering::Relaxed);
            (b + c.exits_begun.load(Ordering::Relaxed), d + done)
        })
    }

    /// Claims every cache of `size` and moves its slots and credits into the pool.
    /// Returns how many slots moved. The caller holds the pool's lock (`inner`) and is
    /// inside no cache's claim.
    fn sweep(&self, inner: &mut Inner, size: usize) -> usize {
        let Some(class) = inner.classes.iter_mut().find(|c| c.size == size) else {
            return 0;
        };
        let caches = self.caches.lock();
        let mut moved = 0;
        let ours = caches.iter().copied().filter(|c| c.size == size);
        claim::claim_all(
            ours,
            |c: &Cache| &c.claim,
            |c| {
                // SAFETY: claimed, and its owner is out (`claim_all`).
                let state = unsafe { &mut *c.state.get() };
                moved += state.free.len();
                for s in state.free.drain(..) {
                    class.hot.push(s);
                }
                class.unpromised += std::mem::take(&mut state.credit);
            },
        );
        moved
    }

    /// Trims the slots that sat in the pool since the call before the previous one (see
    /// the module docs). Called by sysmon every few hundred milliseconds.
    pub(crate) fn scavenge(&self) {
        let mut bases = [0usize; TRIM_BATCH];
        let mut inner = self.inner.lock();
        for class in inner.classes.iter_mut() {
            // What was aging becomes stale (to trim now), what was hot ages. The
            // previous call trimmed every stale slot, so `stale` is empty.
            let hot = std::mem::replace(&mut class.hot, List::new());
            let mut stale = std::mem::replace(&mut class.aging, hot);
            while let Some(s) = class.stale.pop(class.size) {
                stale.push(s);
            }
            class.stale = stale;
        }
        for i in 0..inner.classes.len() {
            loop {
                let class = &mut inner.classes[i];
                let size = class.size;
                let n = class.stale.pop_into(size, &mut bases);
                if n == 0 {
                    break;
                }
                class.trimming += n;
                MutexGuard::unlocked(&mut inner, || reserve::trim(&bases[..n], size, KEEP_PAGES));
                let class = &mut inner.classes[i];
                for &b in &bases[..n] {
                    class.clean.push(Stack {
                        base: std::num::NonZeroUsize::new(b)
                            .unwrap_or_else(|| crate::fatal!("a pooled slot at address 0")),
                        size,
                    });
                }
                class.trimming -= n;
                self.trimmed.notify_all();
            }
        }
    }
}

impl Inner {
    fn class(&mut self, size: usize) -> &mut Class {
        debug_assert!(size.is_multiple_of(PAGE));
        let i = match self.classes.iter().position(|c| c.size == size) {
            Some(i) => i,
            None => {
                // Room for 16 sizes is reserved (`new_cache`); beyond, this allocates.
                self.classes.push(Class {
                    size,
                    hot: List::new(),
                    aging: List::new(),
                    stale: List::new(),
                    clean: List::new(),
                    trimming: 0,
                    unpromised: 0,
                    carver: Carver::new(size),
                });
                self.classes.len() - 1
            }
        };
        &mut self.classes[i]
    }
}

impl Cache {
    /// A task on this processor is about to publish its result, and then leave its
    /// stack (a stack of any size): from now until [`exit_done`](Self::exit_done), a
    /// spawn that finds no capacity waits for it.
    #[inline]
    pub(crate) fn exit_begins(&self) {
        let n = self.exits_begun.load(Ordering::Relaxed);
        self.exits_begun.store(n + 1, Ordering::Relaxed);
    }

    /// The task that announced its exit here gave its stack back.
    #[inline]
    pub(crate) fn exit_done(&self) {
        let n = self.exits_done.load(Ordering::Relaxed);
        self.exits_done.store(n + 1, Ordering::Relaxed);
    }

    /// The slot size this cache serves.
    #[inline]
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// Promises a slot to a task about to be spawned on this processor.
    ///
    /// Only the processor's holder may call this (and the other `Cache` methods).
    #[inline]
    pub(crate) fn promise(&self, pool: &Pool) -> io::Result<()> {
        {
            let _own = self.claim.enter();
            // SAFETY: inside the owner's claim.
            let state = unsafe { &mut *self.state.get() };
            if state.credit > 0 {
                state.credit -= 1;
                return Ok(());
            }
        }
        self.promise_slow(pool)
    }

    #[cold]
    fn promise_slow(&self, pool: &Pool) -> io::Result<()> {
        let mut inner = pool.inner.lock();
        let n = pool.take_unpromised(&mut inner, self.size, BATCH)?;
        // SAFETY: the owner, holding the pool's lock: no claim can be in progress.
        unsafe { (*self.state.get()).credit += n - 1 };
        Ok(())
    }

    /// The slot promised to a task, at its first run on this processor.
    #[inline]
    pub(crate) fn take(&self, pool: &Pool) -> Stack {
        {
            let _own = self.claim.enter();
            // SAFETY: inside the owner's claim.
            if let Some(s) = unsafe { (*self.state.get()).free.pop() } {
                return s;
            }
        }
        self.take_slow(pool)
    }

    #[cold]
    fn take_slow(&self, pool: &Pool) -> Stack {
        let mut inner = pool.inner.lock();
        let first = pool.take_promised(&mut inner, self.size);
        // Take a batch while at it: the next first runs here need no lock.
        let class = inner.class(self.size);
        // SAFETY: the owner, holding the pool's lock: no claim can be in progress.
        let state = unsafe { &mut *self.state.get() };
        while state.free.len() < BATCH {
            match class.pop() {
                Some(s) => state.free.push(s),
                None => break,
            }
        }
        first
    }

    /// Gives back the slot of a task that exited on this processor, with its unit of
    /// capacity, which becomes a credit here.
    #[inline]
    pub(crate) fn put(&self, pool: &Pool, stack: Stack) {
        debug_assert_eq!(stack.size, self.size);
        {
            let _own = self.claim.enter();
            // SAFETY: inside the owner's claim.
            let state = unsafe { &mut *self.state.get() };
            if state.free.len() < CACHE_MAX && state.credit < CREDIT_MAX {
                state.free.push(stack);
                state.credit += 1;
                return;
            }
        }
        self.put_slow(pool, stack);
    }

    #[cold]
    fn put_slow(&self, pool: &Pool, stack: Stack) {
        let mut inner = pool.inner.lock();
        let class = inner.class(self.size);
        // SAFETY: the owner, holding the pool's lock: no claim can be in progress.
        let state = unsafe { &mut *self.state.get() };
        if state.free.len() == CACHE_MAX {
            // Keep the most recently used half: their top pages are the warmest.
            for s in state.free.drain(..BATCH) {
                class.hot.push(s);
            }
        }
        if state.credit == CREDIT_MAX {
            state.credit -= BATCH;
            class.unpromised += BATCH;
        }
        state.free.push(stack);
        state.credit += 1;
    }
}
