//! The global run queue: overflow of full local queues, Gs readied from outside the
//! runtime (an OS thread sending to a green thread), and Gs that lost their processor.
//!
//! A FIFO of G pointers under a mutex, with its length mirrored in an atomic so the
//! scheduler can look without locking — every 61 ticks, and in the idle protocol, where
//! the length is the "is there global work" half of the no-lost-wake-up argument (see
//! `idle.rs`).
//!
//! Rejected: an intrusive list through the G headers (Go's `gQueue`), which costs no
//! memory of its own. Taking a batch then walks the list, one dependent cache miss per G
//! — the headers of Gs just spawned on another core — and that walk was the hottest
//! instruction of `spawn_join`. A ring of pointers is read in a few cache lines. It costs
//! 8 bytes per queued G, and gives its memory back when it drains.

use crate::loom::{AtomicUsize, Mutex, Ordering};
use std::collections::VecDeque;

/// A drained queue keeps at most this much capacity.
const KEEP_CAPACITY: usize = 4096;

pub struct Inject<T> {
    queue: Mutex<VecDeque<*mut T>>,
    /// Mirror of the queue's length, written under the lock, read without it.
    len: AtomicUsize,
    /// How many items were ever taken: tells sysmon whether the queue is being drained.
    taken: AtomicUsize,
}

// SAFETY: the queue is only touched under the mutex; items move between threads with
// their ownership.
unsafe impl<T> Send for Inject<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for Inject<T> {}

impl<T> Inject<T> {
    pub fn new() -> Self {
        Inject {
            queue: Mutex::new(VecDeque::new()),
            len: AtomicUsize::new(0),
            taken: AtomicUsize::new(0),
        }
    }

    /// Number of queued items. SeqCst: one side of the idle protocol's Dekker pattern.
    #[inline]
    pub fn len(&self) -> usize {
        self.len.load(Ordering::SeqCst)
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends one item.
    pub fn push(&self, item: *mut T) {
        self.push_batch(std::iter::once(item));
    }

    /// Appends items in order, under one lock.
    pub fn push_batch(&self, items: impl IntoIterator<Item = *mut T>) {
        let mut queue = self.queue.lock();
        queue.extend(items);
        // SeqCst: publishes the new length for the idle protocol (submit, then check).
        self.len.store(queue.len(), Ordering::SeqCst);
    }

    /// Takes up to `max` items from the front, handing each to `f` in order. `f` runs
    /// under the queue's lock: it must not touch this queue.
    pub fn pop_n(&self, max: usize, f: impl FnMut(*mut T)) -> usize {
        if self.is_empty() {
            return 0;
        }
        let mut queue = self.queue.lock();
        let n = max.min(queue.len());
        queue.drain(..n).for_each(f);
        if queue.is_empty() && queue.capacity() > KEEP_CAPACITY {
            queue.shrink_to(KEEP_CAPACITY);
        }
        self.len.store(queue.len(), Ordering::SeqCst);
        self.taken.fetch_add(n, Ordering::Relaxed);
        n
    }

    /// How many items were ever taken (wrapping). A snapshot.
    #[allow(dead_code)] // sysmon's; not in the loom build
    pub fn taken(&self) -> usize {
        self.taken.load(Ordering::Relaxed)
    }

    /// Takes the front item.
    pub fn pop(&self) -> Option<*mut T> {
        let mut out = None;
        self.pop_n(1, |item| out = Some(item));
        out
    }
}

impl<T> Default for Inject<T> {
    fn default() -> Self {
        Inject::new()
    }
}
