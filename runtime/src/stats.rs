//! Counters of what the runtime has allocated, for tests and curious users.

use crate::sched;
use crate::stack::reserve;
use std::sync::atomic::Ordering;

/// What the runtime has allocated since the process started. Headers and stacks are
/// kept and reused, never returned, so those figures only grow — and stop growing once
/// the runtime has what the program's peak needs. Threads are the ones running now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stats {
    /// G headers (one per green thread alive at once, at the peak).
    pub g_headers: usize,
    /// Stack slots carved and guarded.
    pub stacks: usize,
    /// Address-space reservations the slots were carved from.
    pub stack_reservations: usize,
    /// OS threads running green threads (Ms) right now. Ms are kept when idle; one ends
    /// only with a thread-locked green thread that exits locked.
    pub threads: usize,
}

/// A snapshot of the counters.
pub fn stats() -> Stats {
    Stats {
        g_headers: sched::G_HEADERS.load(Ordering::Relaxed),
        stacks: reserve::SLOTS_CARVED.load(Ordering::Relaxed),
        stack_reservations: reserve::RESERVATIONS.load(Ordering::Relaxed),
        threads: sched::threads(),
    }
}
