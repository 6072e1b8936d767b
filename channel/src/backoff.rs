//! How a thread waits a moment for another one: a few spins, then `park::snooze`.
//!
//! Two kinds of waiting happen on the lock-free paths. After a lost race (a failed CAS) the
//! winner is running right now, so a short spin is enough: [`Spin::spin`]. While waiting
//! for another thread to finish a step it has started (a slot being written, a block being
//! installed, a packet being filled) that thread may not be running at all — inside a green
//! thread it may sit on the run queue of our own processor — so after a few spins we give
//! way with [`park::snooze`], which yields to the scheduler in a green thread and to the OS
//! on a plain thread: [`Spin::snooze`]. Spinning with `spin_loop` hints for long would only
//! burn the time slice the other side needs.

use crate::loom::LOOM;
use crate::park;

/// Steps that spin with `spin_loop` hints (1, 2, 4, 8 of them): short, because in a green
/// thread the thread we wait for may need our processor.
const SPIN_LIMIT: u32 = 6;

/// The step after which [`Spin::is_completed`] says: stop trying, block.
const SNOOZE_LIMIT: u32 = 10;

/// Exponential backoff for one waiting episode; make a new one for each.
pub(crate) struct Spin {
    step: u32,
}

impl Spin {
    #[inline]
    pub(crate) fn new() -> Self {
        // Under loom every retry is another branch to explore: try once, then block.
        Spin {
            step: if LOOM { SNOOZE_LIMIT + 1 } else { 0 },
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
        if self.step <= SPIN_LIMIT && !LOOM {
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
}
