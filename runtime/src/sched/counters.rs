//! Counters of scheduling events since the runtime started — spawns, parks, steals, ... —
//! kept per P where a P does the counting, and summed when `gogreen::stats` reads them.
//!
//! A P's counters are written only by the M that holds the P, so an increment is a
//! plain load and store of a Relaxed atomic — the same two `mov`s as a plain `u64`'s,
//! no locked instruction, no cache line shared with another core — and a reader on
//! another thread gets a snapshot without a data race. Events that happen off any P (a
//! spawn from a plain OS thread, sysmon's hand-offs) are counted in [`GLOBAL`], with
//! `fetch_add`: they are rare, and have no single writer.
//!
//! Switches are not counted here: every switch-in already bumps the P's `schedtick`
//! (for sysmon), and that is the count.

use std::sync::atomic::{AtomicU64, Ordering};

/// One counter with a single writer at a time (see the module docs).
pub(crate) struct Counter(AtomicU64);

impl Counter {
    pub(crate) const fn new() -> Self {
        Counter(AtomicU64::new(0))
    }

    /// Adds `n`. Only the single writer may call it: a load and a store, not an RMW.
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    #[inline]
    pub(crate) fn bump(&self) {
        self.add(1);
    }

    /// The count so far (a snapshot).
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// What one P counts; its holder is the single writer.
pub(crate) struct PCounters {
    /// Gs spawned by a G (or g0) running on this P.
    pub(crate) spawns: Counter,
    /// Parks of Gs running on this P that switched away (a park that found its
    /// wake-up already there does not count).
    pub(crate) parks: Counter,
    /// Gs readied by code running on this P: an unpark or a timer.
    pub(crate) unparks: Counter,
    /// Successful steals by this P's M, and the Gs they took.
    pub(crate) steals: Counter,
    pub(crate) stolen: Counter,
    /// Blocking calls (`gogreen::blocking`) entered by Gs running on this P.
    pub(crate) blocking_calls: Counter,
}

impl PCounters {
    pub(crate) const fn new() -> Self {
        PCounters {
            spawns: Counter::new(),
            parks: Counter::new(),
            unparks: Counter::new(),
            steals: Counter::new(),
            stolen: Counter::new(),
            blocking_calls: Counter::new(),
        }
    }
}

/// A counter with many writers: `fetch_add`.
pub(crate) struct Shared(AtomicU64);

impl Shared {
    pub(crate) const fn new() -> Self {
        Shared(AtomicU64::new(0))
    }

    #[inline]
    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// What is counted off any P.
pub(crate) struct Global {
    /// Spawns from plain OS threads (and from Gs inside a blocking call).
    pub(crate) spawns: Shared,
    /// Gs readied from off any P: an OS thread's send, a timer run by the idle M or
    /// sysmon.
    pub(crate) unparks: Shared,
    /// Ps that sysmon took back from a blocking call and gave away (`syscall.rs`, R2).
    pub(crate) retakes: Shared,
    /// Spare Ps that sysmon put in play for a P whose M was stuck (`sysmon.rs`).
    pub(crate) spares: Shared,
    /// Ps handed to another M at a blocking call's start, because Gs were waiting (E1).
    pub(crate) syscall_handoffs: Shared,
    /// Ms handed an idle P to look for work (step S6 of `idle.rs`): a futex wake-up
    /// or a new thread each.
    pub(crate) m_wakeups: Shared,
    /// Ms gone to sleep without a P (`worker::stop_m`): most after finding no work
    /// (step T5), a few after handing their P over (a retired P, a pinned G's M).
    pub(crate) m_sleeps: Shared,
}

pub(crate) static GLOBAL: Global = Global {
    spawns: Shared::new(),
    unparks: Shared::new(),
    retakes: Shared::new(),
    spares: Shared::new(),
    syscall_handoffs: Shared::new(),
    m_wakeups: Shared::new(),
    m_sleeps: Shared::new(),
};
