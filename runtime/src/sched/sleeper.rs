//! The timer sleeper: the one idle M that sleeps until the earliest timer, and how a
//! timer added meanwhile with an earlier deadline wakes it to re-plan.
//!
//! # The problem
//!
//! Timers live in per-P heaps. When every M is idle, one of them must wake when the
//! earliest deadline passes, or a sleeping green thread oversleeps (sysmon would catch
//! it only a millisecond or more late). A timer can be added at any moment — by a G on a
//! busy P while the idle M is deciding how long to sleep — and an idle M that read the
//! heaps just before the add would sleep past it.
//!
//! Rejected designs: every idle M sleeping until the earliest deadline wakes them all
//! for each timer (a thundering herd of futex calls); waking an idle M on every timer
//! add costs a system call per timed park; publishing the deadline without a fence on
//! either side loses the race below on x86 (store buffer: each side's read passes its
//! own earlier write).
//!
//! # The protocol
//!
//! The sleeper role is one word, `who` (the sleeping M's token, or 0), and the deadline
//! it sleeps until, `until`. All accesses are SeqCst.
//!
//! Sleeper — an idle M with nothing to do:
//!
//! - W1. Claim the role ([`Sleeper::claim`]): CAS `who` 0 → me. If another M holds it,
//!   sleep without a deadline: that one watches the timers.
//! - W2. Read the earliest deadline `d` over every heap.
//! - W3. Publish `until = d`, then `fence(SeqCst)` ([`Sleeper::publish`]).
//! - W4. Read the earliest deadline again; if it is earlier than `d`, go back to W3
//!   with it.
//! - W5. Sleep until `d` (or until woken) — in `epoll_wait`, so that the sleeper also
//!   catches I/O reports while every M is idle (`netpoll/poller.rs`). A wake-up
//!   interrupts the wait through an eventfd (`parker.rs`, "Sleeping in `epoll_wait`").
//! - W6. Give the role up ([`Sleeper::release`]) and look for work: a P handed over, or
//!   Gs its poll made runnable, which it runs on an idle P it takes itself.
//!
//! Adder — whoever adds a timer at `when`:
//!
//! - A1. Insert it into a heap and publish that heap's earliest deadline.
//! - A2. `fence(SeqCst)` ([`Sleeper::timer_added`]).
//! - A3. If `when < until`: lower `until` to `when` and, if it was higher and `who` is
//!   set, wake that M (it re-plans from W2; a stale wake-up costs one spurious loop).
//!
//! Why no sleeper oversleeps: say the sleeper's W4 missed the adder's A1. SeqCst fences
//! are totally ordered; had A2 come before W3's fence, W4 (after it) would see A1. So
//! W3's fence came first, and A3 (after A2) reads `until = d` or a later value, and
//! `who` = the sleeper (claimed at W1, before W3); `when < d`, or W4 would not have
//! missed it — so the adder wakes the sleeper. The parker keeps a wake-up that comes
//! before W5 as a token, so it is not lost either.
//!
//! `loom-tests/tests/sched_sleeper.rs` models it; `loom-tests/tests/netpoll_sleep.rs`
//! models it again with the parker's `epoll_wait` sleep and its interrupt.

use crate::loom::{AtomicU64, AtomicUsize, Ordering, fence};

/// No deadline.
pub const NEVER: u64 = u64::MAX;

/// Who sleeps until the earliest timer, and until when. A token names an M (never 0).
pub struct Sleeper {
    /// The M sleeping for the timers, or 0.
    who: AtomicUsize,
    /// The deadline that M sleeps until; lowered by adders (A3).
    until: AtomicU64,
}

impl Sleeper {
    pub fn new() -> Self {
        Sleeper {
            who: AtomicUsize::new(0),
            until: AtomicU64::new(NEVER),
        }
    }

    /// W1: makes `me` the timer sleeper, if nobody else is. Returns whether it is now.
    pub fn claim(&self, me: usize) -> bool {
        debug_assert_ne!(me, 0);
        match self.who.load(Ordering::SeqCst) {
            0 => self
                .who
                .compare_exchange(0, me, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok(),
            cur => cur == me,
        }
    }

    /// W3: publishes the deadline the sleeper is about to sleep until. The caller
    /// **must** then re-read the heaps (W4) before it sleeps.
    pub fn publish(&self, deadline: u64) {
        self.until.store(deadline, Ordering::SeqCst);
        // Pairs with the adder's fence in `timer_added` (A2): one of the two sides
        // sees the other's write.
        fence(Ordering::SeqCst);
    }

    /// W6: `me` gives the role up.
    pub fn release(&self, me: usize) {
        let _ = self
            .who
            .compare_exchange(me, 0, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// A2–A3, after the caller published a timer at `when` in a heap (A1). Returns the
    /// token of the M the caller **must** wake, if any.
    #[inline]
    pub fn timer_added(&self, when: u64) -> Option<usize> {
        fence(Ordering::SeqCst); // A2
        if when >= self.until.load(Ordering::SeqCst) {
            return None;
        }
        // Lowered so that the next timers between `when` and the old deadline do not
        // wake the sleeper again.
        if self.until.fetch_min(when, Ordering::SeqCst) <= when {
            return None;
        }
        match self.who.load(Ordering::SeqCst) {
            0 => None,
            m => Some(m),
        }
    }
}

impl Default for Sleeper {
    fn default() -> Self {
        Sleeper::new()
    }
}
