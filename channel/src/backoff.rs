//! How a thread waits a moment for another one: a few spins, then `park::snooze`.
//!
//! Two kinds of waiting happen on the lock-free paths. After a lost race (a failed CAS) the
//! winner is running right now, so a short spin is enough: [`Spin::spin`]. While waiting
//! for another thread to finish a step it has started (a slot being written, a block being
//! installed, a packet being filled), or for a message to arrive before blocking, that
//! thread may not be running at all: [`Spin::snooze`] spins briefly, then gives way with
//! [`park::snooze`] — to the scheduler in a green thread, to the OS on a plain thread.
//!
//! How long to spin depends on who waits. Two OS threads usually run on two cores, and
//! spinning a few microseconds saves a futex sleep and wake-up (crossbeam's limits). A
//! green thread's peer may sit on the run queue of the very same processor, where
//! spinning only burns the time slice it needs: after two short rounds it yields.

use crate::loom::LOOM;
use crate::park;

/// Spin rounds (1, 2, 4, ... 64 hints) before an OS thread starts yielding.
const SPIN_LIMIT: u32 = 6;

/// Spin rounds (1, 2 hints) before a green thread starts yielding.
const GREEN_SPIN_LIMIT: u32 = 1;

/// The step after which [`Spin::is_completed`] says: stop trying, block.
const SNOOZE_LIMIT: u32 = 10;

/// Exponential backoff for one waiting episode; make a new one for each.
pub(crate) struct Spin {
    step: u32,
    /// Whether the caller is a green thread; asked of the park seam at the first long
    /// wait only, so fast paths never pay for it.
    green: Option<bool>,
}

impl Spin {
    #[inline]
    pub(crate) fn new() -> Self {
        Spin {
            // Under loom every retry is another branch to explore: try once, then block.
            step: if LOOM { SNOOZE_LIMIT + 1 } else { 0 },
            green: None,
        }
    }

    /// Backs off after a lost race, or while another thread finishes a step it has
    /// just begun: that thread is running, so this never yields (except under loom,
    /// which runs one thread at a time and must be told to switch).
    #[inline]
    pub(crate) fn spin(&mut self) {
        if LOOM {
            park::snooze();
            return;
        }
        for _ in 0..1u32 << self.step.min(SPIN_LIMIT) {
            std::hint::spin_loop();
        }
        if self.step <= SPIN_LIMIT {
            self.step += 1;
        }
    }

    /// Waits for another thread to finish what it started: spins briefly, then snoozes.
    #[inline]
    pub(crate) fn snooze(&mut self) {
        if !LOOM && self.step <= self.spin_limit() {
            for _ in 0..1u32 << self.step {
                std::hint::spin_loop();
            }
        } else {
            park::snooze();
        }
        if self.step <= SNOOZE_LIMIT {
            self.step += 1;
        }
    }

    /// Whether waiting longer is pointless and the caller should block instead.
    #[inline]
    pub(crate) fn is_completed(&self) -> bool {
        self.step > SNOOZE_LIMIT
    }

    #[inline]
    fn spin_limit(&mut self) -> u32 {
        if self.step <= GREEN_SPIN_LIMIT {
            return GREEN_SPIN_LIMIT;
        }
        match self.green {
            Some(true) => GREEN_SPIN_LIMIT,
            Some(false) => SPIN_LIMIT,
            None => {
                let green = park::in_green_thread();
                self.green = Some(green);
                if green { GREEN_SPIN_LIMIT } else { SPIN_LIMIT }
            }
        }
    }
}
