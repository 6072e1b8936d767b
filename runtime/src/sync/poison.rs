//! Poisoning as `std::sync` does it: a lock whose holder panicked says so to the next one.
//!
//! A guard remembers whether its thread was already panicking when it took the lock;
//! if the thread is panicking when the guard drops and was not before, the holder
//! panicked inside the critical section and the data may be half-updated: the flag is
//! set, and every later lock returns `Err(PoisonError)` (which still hands the guard
//! over) until [`Flag::clear`].
//!
//! `std::thread::panicking` counts per OS thread. It is right for green threads too:
//! the runtime never switches away from a panicking green thread, so the OS thread's
//! count is the green thread's own while its guards drop.

use std::sync::PoisonError;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether a holder panicked. Not a loom type: its accesses need no model, they only
/// carry a hint between holders that the lock already orders.
pub(crate) struct Flag {
    failed: AtomicBool,
}

/// What a guard remembers: whether its thread was panicking when it took the lock.
pub(crate) struct Guard {
    panicking: bool,
}

impl Flag {
    pub(crate) const fn new() -> Flag {
        Flag {
            failed: AtomicBool::new(false),
        }
    }

    /// Called right after taking the lock.
    #[inline]
    pub(crate) fn guard(&self) -> Result<Guard, PoisonError<Guard>> {
        let g = Guard {
            panicking: std::thread::panicking(),
        };
        if self.get() {
            Err(PoisonError::new(g))
        } else {
            Ok(g)
        }
    }

    /// Called right before releasing the lock.
    #[inline]
    pub(crate) fn done(&self, guard: &Guard) {
        if !guard.panicking && std::thread::panicking() {
            // Relaxed: the lock's release orders it before the next holder's check.
            self.failed.store(true, Ordering::Relaxed);
        }
    }

    #[inline]
    pub(crate) fn get(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    #[inline]
    pub(crate) fn clear(&self) {
        self.failed.store(false, Ordering::Relaxed);
    }
}

/// Maps the success or poisoned value of `r` through `f`.
#[inline]
pub(crate) fn map_result<T, U>(
    r: Result<T, PoisonError<T>>,
    f: impl FnOnce(T) -> U,
) -> Result<U, PoisonError<U>> {
    match r {
        Ok(t) => Ok(f(t)),
        Err(e) => Err(PoisonError::new(f(e.into_inner()))),
    }
}
