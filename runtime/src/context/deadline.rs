//! The contexts' deadline timer: one green thread for the whole process, parked until
//! the earliest deadline, ends the contexts whose time has come.
//!
//! # Protocol
//!
//! 1. `register` pushes (deadline, weak node) on a heap under the heap's lock. If the
//!    timer thread sleeps until later than the new deadline (or without one), the
//!    registrar lowers the recorded wake-up time to the new deadline and, after
//!    unlocking, unparks the timer thread.
//! 2. The timer thread, under the lock, pops every entry that is due, records the next
//!    deadline as the time it sleeps until, and unlocks. It ends the due contexts
//!    (`DeadlineExceeded`) outside the lock, and parks until the next deadline
//!    (through the park seam: the scheduler's own per-processor timers wake it).
//! 3. An unpark that arrives between the unlock and the park leaves a token, so the
//!    park returns at once and the thread goes round again: a new earlier deadline is
//!    never slept through. Spurious returns just go round again too.
//!
//! A context that is cancelled or dropped before its deadline does not look for its
//! entry: the entry goes stale (its node is gone or has ended), and is skipped when it
//! comes due, or swept out once the heap has taken as many entries again as it held
//! after the last sweep (the scheduler's timers do the same). So the heap holds at
//! most about twice the pending deadlines, and a cancelled context costs neither a
//! parked green thread nor a wake-up.
//!
//! Rejected: a green thread per context sleeping until its deadline (a parked stack
//! per context, kept after the context is cancelled unless it is woken to exit); a
//! clock check in `err()` (a `select!` on `done()` would still sleep through the
//! deadline, and children would not be ended).

use crate::task::Builder;
use gogreen_channel::park::{self, Unparker, WaitReason};
use parking_lot::Mutex;
use std::cmp::{Ordering as Order, Reverse};
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

/// What the timer ends: a context node. (A trait, so that this file does not reach back
/// into the tree that uses it.)
pub(super) trait Expire: Send + Sync {
    /// The deadline passed: end the context (`DeadlineExceeded`).
    fn expire(&self);
    /// Whether the context has ended already (its entry is stale).
    fn is_done(&self) -> bool;
}

/// Heaps smaller than this are never swept.
const SWEEP_MIN: usize = 256;

static TIMER: Mutex<Heap> = Mutex::new(Heap {
    entries: BinaryHeap::new(),
    next_seq: 0,
    added: 0,
    sleeps_until: None,
    waker: None,
});

/// Whether a timer thread has been started (or is being started).
static STARTED: AtomicBool = AtomicBool::new(false);

struct Heap {
    entries: BinaryHeap<Reverse<Entry>>,
    /// Breaks ties between equal deadlines (the node cannot be compared).
    next_seq: u64,
    /// Entries pushed since the last sweep.
    added: usize,
    /// Until when the timer thread sleeps, `None` for "until woken". A registration
    /// earlier than this must wake it. Written by the timer thread before it parks, and
    /// lowered by the registrar that wakes it.
    sleeps_until: Option<Instant>,
    /// Wakes the timer thread; `None` until it has started.
    waker: Option<Unparker>,
}

struct Entry {
    when: Instant,
    seq: u64,
    node: Weak<dyn Expire>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Order::Equal
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Order> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Order {
        (self.when, self.seq).cmp(&(other.when, other.seq))
    }
}

/// Ends `node` with `DeadlineExceeded` at `when` (step 1).
///
/// # Panics
///
/// If the timer's green thread has to be started and cannot be (no stack can be had).
/// The entry stays registered and fires once a later registration starts the thread.
pub(super) fn register<N: Expire + 'static>(when: Instant, node: &Arc<N>) {
    if !STARTED.load(Ordering::Acquire) {
        start();
    }
    // Nodes upgraded by a sweep, dropped after the lock: the last reference's `Drop`
    // takes parent locks, which must not nest inside this one.
    let mut swept = Vec::new();
    let wake = {
        let mut heap = TIMER.lock();
        heap.added += 1;
        if heap.entries.len() >= SWEEP_MIN && heap.added > heap.entries.len() / 2 {
            heap.entries.retain(|e| match e.0.node.upgrade() {
                Some(n) => {
                    let live = !n.is_done();
                    swept.push(n);
                    live
                }
                None => false,
            });
            heap.added = 0;
        }
        let seq = heap.next_seq;
        heap.next_seq += 1;
        heap.entries.push(Reverse(Entry {
            when,
            seq,
            node: Arc::downgrade(node) as Weak<dyn Expire>,
        }));
        match &heap.waker {
            Some(w) if heap.sleeps_until.is_none_or(|t| when < t) => {
                let w = w.clone();
                heap.sleeps_until = Some(when);
                Some(w)
            }
            _ => None,
        }
    };
    drop(swept);
    if let Some(w) = wake {
        w.unpark();
    }
}

/// Starts the timer's green thread, unless someone else has.
#[cold]
fn start() {
    // AcqRel: one winner; the others see it started (or being started: their entries
    // are in the heap, which the thread reads under the lock when it begins).
    if STARTED.swap(true, Ordering::AcqRel) {
        return;
    }
    if let Err(e) = Builder::new().name("gogreen-deadlines").spawn(timer_main) {
        STARTED.store(false, Ordering::Release);
        panic!("gogreen: could not start the context deadline timer: {e}");
    }
}

/// The timer's green thread (steps 2 and 3).
fn timer_main() {
    TIMER.lock().waker = Some(park::current());
    let mut due = Vec::new();
    loop {
        let now = Instant::now();
        let next = {
            let mut heap = TIMER.lock();
            while heap.entries.peek().is_some_and(|e| e.0.when <= now) {
                if let Some(Reverse(e)) = heap.entries.pop() {
                    due.push(e.node);
                }
            }
            let next = heap.entries.peek().map(|e| e.0.when);
            heap.sleeps_until = next;
            next
        };
        if due.is_empty() {
            park::park_for(next, WaitReason::Idle);
            continue;
        }
        for node in due.drain(..) {
            if let Some(node) = node.upgrade() {
                node.expire();
            }
        }
    }
}
