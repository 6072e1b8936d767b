//! Stack reuse: a small cache per processor in front of a global pool per size.
//!
//! A green thread that exits gives its slot to its processor's [`Cache`]; the next spawn
//! there takes it back, top page still resident, without a system call. Caches trade
//! half their slots with the global [`Pool`] when they run full or empty, as Go's
//! `gfput`/`gfget` do with G structs.
//!
//! Returning a slot's deeper pages to the kernel costs a system call (0.8 µs for one
//! `madvise` on this project's machines — several times a whole spawn), so it is not
//! done on the hot path. Instead, slots that sat in the global pool for a whole
//! scavenge period (sysmon calls [`Pool::scavenge`]) are trimmed in one batch, keeping
//! their top page. What a cache holds is bounded (`CACHE_MAX` slots per processor) and
//! is left as it is.

use super::reserve::{self, Carver};
use super::{PAGE, Stack};
use parking_lot::Mutex;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

/// Slots a processor's cache holds at most.
const CACHE_MAX: usize = 64;
/// Slots moved between a cache and the pool at once.
const BATCH: usize = CACHE_MAX / 2;
/// New slots carved (and guarded, in one system call) at once.
const CARVE_BATCH: usize = 256;
/// Top pages a trimmed slot keeps resident.
const KEEP_PAGES: usize = 1;

/// The process's stack pool.
pub(crate) static POOL: Pool = Pool::new();

/// The global pool: slots of every size, and the carvers that make new ones.
pub(crate) struct Pool {
    classes: Mutex<Vec<Class>>,
    /// The last attempt to carve new slots failed (address space or mapping limit).
    exhausted: AtomicBool,
}

/// Free slots of one size.
struct Class {
    size: usize,
    /// Returned since the last scavenge: probably warm, handed out first.
    hot: Vec<Stack>,
    /// Returned before the last scavenge: trimmed at the next one.
    aging: Vec<Stack>,
    /// Trimmed down to their top page.
    clean: Vec<Stack>,
    carver: Carver,
}

impl Class {
    fn pop(&mut self) -> Option<Stack> {
        self.hot
            .pop()
            .or_else(|| self.aging.pop())
            .or_else(|| self.clean.pop())
    }
}

impl Pool {
    pub(crate) const fn new() -> Self {
        Pool {
            classes: Mutex::new(Vec::new()),
            exhausted: AtomicBool::new(false),
        }
    }

    fn with_class<R>(&self, size: usize, f: impl FnOnce(&mut Class) -> R) -> R {
        debug_assert!(size.is_multiple_of(PAGE));
        let mut classes = self.classes.lock();
        let i = match classes.iter().position(|c| c.size == size) {
            Some(i) => i,
            None => {
                classes.push(Class {
                    size,
                    hot: Vec::new(),
                    aging: Vec::new(),
                    clean: Vec::new(),
                    carver: Carver::new(size),
                });
                classes.len() - 1
            }
        };
        f(&mut classes[i])
    }

    /// One slot of `size` bytes (already validated and page-rounded).
    pub(crate) fn get(&self, size: usize) -> io::Result<Stack> {
        let mut out = Vec::with_capacity(1);
        self.refill(size, 1, &mut out)?;
        match out.pop() {
            Some(s) => Ok(s),
            None => crate::fatal!("the stack pool's refill returned no slot"),
        }
    }

    /// Appends up to `n` slots (at least one) to `out`: pooled ones first, then new ones.
    pub(crate) fn refill(&self, size: usize, n: usize, out: &mut Vec<Stack>) -> io::Result<()> {
        self.with_class(size, |class| {
            let before = out.len();
            while out.len() - before < n {
                match class.pop() {
                    Some(s) => out.push(s),
                    None => break,
                }
            }
            if out.len() == before {
                // Carving under the lock keeps one reservation's slots contiguous and
                // makes concurrent refills wait for the batch instead of each mapping
                // their own reservation.
                let want = n.max(CARVE_BATCH.min(64 * 1024 * 1024 / size).max(1));
                let r = class.carver.carve(want, &mut class.hot);
                self.exhausted.store(r.is_err(), Ordering::Relaxed);
                let have = class.hot.len().min(n);
                let at = class.hot.len() - have;
                out.extend(class.hot.drain(at..));
                if out.len() == before {
                    return r;
                }
            }
            Ok(())
        })
    }

    /// Whether the last attempt to make new slots failed: spawns then take their stack
    /// at once, so that they can report the failure.
    #[inline]
    pub(crate) fn exhausted(&self) -> bool {
        self.exhausted.load(Ordering::Relaxed)
    }

    /// Gives slots back.
    pub(crate) fn put_all(&self, slots: impl IntoIterator<Item = Stack>) {
        let mut slots = slots.into_iter().peekable();
        let Some(first) = slots.peek() else { return };
        let size = first.size;
        self.with_class(size, |class| {
            for s in slots {
                debug_assert_eq!(s.size, size);
                class.hot.push(s);
            }
        })
    }

    /// Trims the slots that sat in the pool since the previous call (see the module
    /// docs). Called by sysmon every few hundred milliseconds.
    pub(crate) fn scavenge(&self) {
        let mut to_trim = Vec::new();
        {
            let mut classes = self.classes.lock();
            for class in classes.iter_mut() {
                to_trim.append(&mut class.aging);
                std::mem::swap(&mut class.aging, &mut class.hot);
            }
        }
        if to_trim.is_empty() {
            return;
        }
        reserve::trim(&to_trim, KEEP_PAGES);
        let mut classes = self.classes.lock();
        for s in to_trim {
            if let Some(class) = classes.iter_mut().find(|c| c.size == s.size) {
                class.clean.push(s);
            }
        }
    }
}

/// A processor's private stash of slots of the default size. Only the processor's
/// owner touches it.
pub(crate) struct Cache {
    size: usize,
    free: Vec<Stack>,
}

impl Cache {
    pub(crate) fn new(size: usize) -> Self {
        Cache {
            size,
            free: Vec::with_capacity(CACHE_MAX),
        }
    }

    /// The slot size this cache serves.
    #[inline]
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    #[inline]
    pub(crate) fn get(&mut self, pool: &Pool) -> io::Result<Stack> {
        if let Some(s) = self.free.pop() {
            return Ok(s);
        }
        pool.refill(self.size, BATCH, &mut self.free)?;
        match self.free.pop() {
            Some(s) => Ok(s),
            None => crate::fatal!("the stack pool's refill returned no slot"),
        }
    }

    #[inline]
    pub(crate) fn put(&mut self, pool: &Pool, stack: Stack) {
        debug_assert_eq!(stack.size, self.size);
        if self.free.len() == CACHE_MAX {
            // Keep the most recently used half: their top pages are the warmest.
            pool.put_all(self.free.drain(..BATCH));
        }
        self.free.push(stack);
    }
}
