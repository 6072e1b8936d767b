//! Synchronisation for green threads and OS threads alike: `std::sync`'s locks, Go's
//! `WaitGroup` and a weighted semaphore.
//!
//! Every type here blocks the same way: inside a green thread it parks only the green
//! thread, and its OS thread runs other green threads meanwhile; on a plain OS thread it
//! blocks the thread. Green threads and OS threads can share one lock. The types follow
//! `std::sync` (names, signatures, guards, poisoning — `PoisonError`, `TryLockError` and
//! `LockResult` are std's own), so that porting is an import change.
//!
//! How it works: a blocked caller links a record from its own stack into the
//! primitive's wait queue (`waiter.rs`, `queue.rs`) and parks through the park seam of
//! the channel crate; an unlock, a notify or a release unlinks it, stores a token in it
//! and unparks it. Nothing is allocated per wait. `docs/sync.md` tells the whole story.

mod barrier;
mod condvar;
mod mutex;
mod once;
mod once_lock;
mod poison;
mod queue;
mod raw_mutex;
mod raw_rwlock;
mod rwlock;
mod semaphore;
mod spin;
mod wait_group;
mod waiter;

pub use barrier::{Barrier, BarrierWaitResult};
pub use condvar::{Condvar, WaitTimeoutResult};
pub use mutex::{Mutex, MutexGuard};
pub use once::{Once, OnceState};
pub use once_lock::OnceLock;
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{AcquireError, Semaphore, SemaphorePermit, TryAcquireError};
pub use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};
pub use wait_group::WaitGroup;

/// Declares a function `const`, except under loom, whose atomics cannot be built in a
/// const context.
macro_rules! loom_const_fn {
    ($(#[$attr:meta])* $vis:vis fn $name:ident $($rest:tt)*) => {
        $(#[$attr])*
        #[cfg(not(loom))]
        $vis const fn $name $($rest)*

        $(#[$attr])*
        #[cfg(loom)]
        $vis fn $name $($rest)*
    };
}
use loom_const_fn;

/// A broken invariant of a primitive: abort with the runtime's fatal prefix (under loom,
/// panic, so the model reports the execution).
#[cold]
#[inline(never)]
fn fatal(what: &str) -> ! {
    if cfg!(loom) {
        panic!("gogreen: fatal: {what}");
    }
    eprintln!("gogreen: fatal: {what}");
    std::process::abort()
}
