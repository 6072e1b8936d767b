//! The coarse clock: milliseconds since the runtime started, as of sysmon's last look.
//! What a park stamps its G with, so that a task dump can say for how long it waited.
//!
//! Reading the real clock costs about 20 ns (a vDSO call): a fifth of a channel
//! hand-off, too much for every park. This one is a load of a word that changes at most
//! once a millisecond. sysmon sets it at every look — every 20 µs to 10 ms while any P
//! is busy — and whoever wakes a sleeping sysmon sets it first (`Runtime::wake_sysmon`),
//! so a G that parks right after a long idle stretch is not stamped with the time
//! sysmon fell asleep. While Gs wait on I/O sysmon is not woken, but sleeps at most
//! 10 ms. So a stamp is late by at most about 10 ms (plus however long sysmon waits
//! for a CPU on a loaded machine): ample for "waiting for 3 minutes".
//!
//! Go stamps a goroutine's wait lazily instead, at the first garbage collection that
//! finds it waiting; gogreen has no such pass over the Gs.

use std::sync::atomic::{AtomicU32, Ordering};

/// On a cache line of its own: it is read on every park, by every core, and written by
/// sysmon; nothing else may share the line and its invalidations.
#[repr(align(128))]
struct Padded(AtomicU32);

static NOW_MS: Padded = Padded(AtomicU32::new(0));

/// The coarse clock, in milliseconds since the runtime's epoch (wraps after 49 days).
#[inline]
pub(crate) fn coarse_ms() -> u32 {
    NOW_MS.0.load(Ordering::Relaxed)
}

/// Sets the coarse clock from `now_ns`, nanoseconds since the runtime's epoch
/// (`Runtime::now`). Writes only when the millisecond changed.
pub(crate) fn set(now_ns: u64) {
    let ms = (now_ns / 1_000_000) as u32;
    if NOW_MS.0.load(Ordering::Relaxed) != ms {
        NOW_MS.0.store(ms, Ordering::Relaxed);
    }
}
