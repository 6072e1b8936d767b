//! Deadlines: `sleep` and the timeouts of channel operations, in a heap per processor.
//!
//! A green thread that parks until a deadline adds an entry (deadline, G, generation,
//! park sequence) to its processor's heap and parks. Whoever looks for work — the
//! processor's own M, a thief looking at other processors, an idle M woken by the
//! earliest deadline, or sysmon — runs the expired entries: each unparks its G, unless
//! the G has moved on since (its park sequence changed because it was woken earlier).
//! Such stale entries are not searched for and removed; they are skipped when they
//! expire, and swept out when they make up half of a large heap.
//!
//! The earliest deadline of each heap is mirrored in an atomic, so the scheduler can
//! decide whether to look without taking the lock, and an idle M can compute how long
//! it may sleep.

use super::g::G;
use parking_lot::Mutex;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, Ordering};

/// No deadline.
pub(crate) use super::sleeper::NEVER;

/// Heaps smaller than this are never swept.
const SWEEP_MIN: usize = 256;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    /// Nanoseconds since the runtime's epoch.
    when: u64,
    g: usize,
    generation: u32,
    seq: u32,
}

impl Entry {
    fn g(&self) -> &'static G {
        // SAFETY: G headers are never freed (they are pooled), so the address stays a G.
        unsafe { &*(self.g as *const G) }
    }

    /// Whether the G still waits in the park this entry was made for.
    fn is_live(&self) -> bool {
        let g = self.g();
        g.state.generation() == self.generation && g.park_seq.load(Ordering::Acquire) == self.seq
    }
}

pub(crate) struct Timers {
    heap: Mutex<Heap>,
    /// Earliest deadline in the heap, or `NEVER`. Written under the lock.
    next: AtomicU64,
    /// Entries that woke their G, since the start (`gogreen::stats`).
    fired: AtomicU64,
}

struct Heap {
    entries: BinaryHeap<Reverse<Entry>>,
    /// Entries added since the last sweep.
    added: usize,
}

impl Timers {
    pub(crate) fn new() -> Self {
        Timers {
            heap: Mutex::new(Heap {
                entries: BinaryHeap::new(),
                added: 0,
            }),
            next: AtomicU64::new(NEVER),
            fired: AtomicU64::new(0),
        }
    }

    /// The earliest deadline, or `NEVER`.
    #[inline]
    pub(crate) fn next(&self) -> u64 {
        self.next.load(Ordering::Acquire)
    }

    /// Adds a deadline for `g`'s current park (`generation`, `seq`).
    pub(crate) fn add(&self, when: u64, g: &G, generation: u32, seq: u32) {
        let mut heap = self.heap.lock();
        heap.added += 1;
        if heap.entries.len() >= SWEEP_MIN && heap.added > heap.entries.len() / 2 {
            heap.entries.retain(|e| e.0.is_live());
            heap.added = 0;
        }
        heap.entries.push(Reverse(Entry {
            when,
            g: g as *const G as usize,
            generation,
            seq,
        }));
        let first = heap.entries.peek().map_or(NEVER, |e| e.0.when);
        self.next.store(first, Ordering::Release);
    }

    /// Moves every entry to `other` (a retired P's timers to its successor).
    pub(crate) fn move_to(&self, other: &Timers) {
        let entries = {
            let mut heap = self.heap.lock();
            self.next.store(NEVER, Ordering::Release);
            std::mem::take(&mut heap.entries)
        };
        if entries.is_empty() {
            return;
        }
        let mut heap = other.heap.lock();
        heap.entries.extend(entries);
        let first = heap.entries.peek().map_or(NEVER, |e| e.0.when);
        other.next.store(first, Ordering::Release);
    }

    /// Runs every entry due at `now`: `wake(g, generation)` for those whose G still waits.
    /// Returns how many Gs were woken.
    pub(crate) fn run(&self, now: u64, mut wake: impl FnMut(&'static G, u32) -> bool) -> usize {
        if self.next() > now {
            return 0;
        }
        let mut due = Vec::new();
        {
            let mut heap = self.heap.lock();
            while heap.entries.peek().is_some_and(|e| e.0.when <= now) {
                if let Some(Reverse(e)) = heap.entries.pop() {
                    due.push(e);
                }
            }
            let first = heap.entries.peek().map_or(NEVER, |e| e.0.when);
            self.next.store(first, Ordering::Release);
        }
        // Unparking outside the lock: it may take run-queue and idle locks.
        let woken = due
            .iter()
            .filter(|e| e.is_live() && wake(e.g(), e.generation))
            .count();
        // Not an owner-only counter: whoever runs the timers counts, and there is a
        // lock and a batch of wake-ups around it already.
        self.fired.fetch_add(woken as u64, Ordering::Relaxed);
        woken
    }

    /// Timers that woke their G, since the start (a snapshot).
    pub(crate) fn fired(&self) -> u64 {
        self.fired.load(Ordering::Relaxed)
    }

    /// Entries in the heap, stale ones included (a snapshot, under the lock).
    pub(crate) fn len(&self) -> usize {
        self.heap.lock().entries.len()
    }
}
