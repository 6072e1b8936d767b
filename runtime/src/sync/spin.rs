//! How long a caller that finds a lock held spins before it parks.
//!
//! Spinning pays only while the holder is running on another core and about to let go.
//! A green thread cannot know whether its holder runs: it may sit in the run queue of
//! this very processor, where spinning burns the time slice it needs. So a green thread
//! spins a few short rounds, and only when there is another processor for the holder to
//! run on (Go's `sync_runtime_canSpin` asks the same, and also whether the local run
//! queue is empty, which the park seam does not say); then it parks — which costs a
//! switch to the next green thread, not a system call. An OS thread parks with a futex
//! wait, and its waker pays a futex wake, so it spins longer: rounds of 2, 4, ... 64
//! pause hints, a few microseconds in all.
//!
//! Rejected: yielding the OS thread between rounds (`parking_lot`'s `SpinWait` ends
//! with `sched_yield`s). On a loaded machine each yield can cost a whole time slice of
//! another process — milliseconds — during which the waiter has not queued, so a
//! writer waiting on an `RwLock` saw readers come and go for tens of milliseconds.
//!
//! Under loom a caller "spins" one round, a yield, once per acquisition: every retry
//! is another branch to explore, and one round is enough to reach what spinning does
//! to the protocol (a spinner claiming `WOKEN`).

use gogreen_channel::park;

/// Rounds a green thread spins, of [`GREEN_PAUSES`] pause hints each.
const GREEN_ROUNDS: u32 = 4;
/// Pause hints per round of a green thread: about a microsecond in all on current
/// x86 cores, well over a short critical section.
const GREEN_PAUSES: u32 = 30;
/// Rounds an OS thread spins, of 2, 4, 8, ... 64 pause hints.
const OS_ROUNDS: u32 = 6;

/// Backoff for one blocked acquisition; make a new one for each.
pub(crate) struct Spin {
    round: u32,
    /// Who is spinning; asked of the park seam once, on the first round, so
    /// uncontended paths never pay for it.
    who: Option<Who>,
}

#[derive(Clone, Copy)]
#[allow(dead_code)] // `Loom` only under loom, the others only without it.
enum Who {
    /// A green thread, and another processor exists for the holder to run on.
    Green,
    /// A green thread on a one-processor runtime: its holder cannot be running.
    GreenAlone,
    Os,
    /// A loom thread: one round, a yield.
    Loom,
}

impl Who {
    #[cfg(not(loom))]
    fn caller() -> Who {
        if !park::in_green_thread() {
            Who::Os
        } else if crate::sched::procs() > 1 {
            Who::Green
        } else {
            Who::GreenAlone
        }
    }

    #[cfg(loom)]
    fn caller() -> Who {
        Who::Loom
    }
}

impl Spin {
    #[inline]
    pub(crate) fn new() -> Spin {
        Spin {
            round: 0,
            who: None,
        }
    }

    /// Starts over: a waiter that was woken and lost the lock again may spin again.
    /// Not under loom, where a woken waiter that loses parks at once: the models then
    /// reach starvation within their preemption bound.
    #[inline]
    pub(crate) fn reset(&mut self) {
        if !cfg!(loom) {
            self.round = 0;
        }
    }

    /// Spins one round and returns `true`, or returns `false`: park instead.
    #[inline]
    pub(crate) fn spin(&mut self) -> bool {
        match *self.who.get_or_insert_with(Who::caller) {
            Who::GreenAlone => return false,
            Who::Green => {
                if self.round >= GREEN_ROUNDS {
                    return false;
                }
                for _ in 0..GREEN_PAUSES {
                    std::hint::spin_loop();
                }
            }
            Who::Loom => {
                if self.round >= 1 {
                    return false;
                }
                park::snooze();
            }
            Who::Os => {
                if self.round >= OS_ROUNDS {
                    return false;
                }
                for _ in 0..2u32 << self.round {
                    std::hint::spin_loop();
                }
            }
        }
        self.round += 1;
        true
    }
}
