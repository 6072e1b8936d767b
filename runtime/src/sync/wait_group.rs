//! Go's `sync.WaitGroup`: wait until a counter of outstanding tasks drops to zero.

use gogreen_channel::park::{self, Unparker};
use parking_lot::Mutex;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Waits for a collection of tasks to finish. Clones share one counter.
///
/// `add(n)` before starting `n` tasks, `done()` as each finishes, `wait()` until the
/// count is zero. Waiting parks a green thread, or blocks an OS thread.
///
/// ```
/// let wg = gogreen::sync::WaitGroup::new();
/// for _ in 0..100 {
///     wg.add(1);
///     let wg = wg.clone();
///     gogreen::spawn(move || wg.done());
/// }
/// wg.wait();
/// ```
#[derive(Clone, Default)]
pub struct WaitGroup {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// On a cache line of its own, away from the `Arc`'s reference counts: a spawner
    /// that clones the group for every task it starts must not fight over one line with
    /// the tasks that call `done` on other cores.
    count: Padded<AtomicUsize>,
    /// Bumped, under the lock, each time the count drops to zero.
    epoch: AtomicUsize,
    waiters: Mutex<Vec<Unparker>>,
}

/// Aligns its contents to a cache line pair (the adjacent-line prefetcher fetches two).
#[derive(Default)]
#[repr(align(128))]
struct Padded<T>(T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl WaitGroup {
    pub fn new() -> Self {
        WaitGroup::default()
    }

    /// Adds `n` outstanding tasks.
    pub fn add(&self, n: usize) {
        self.inner.count.fetch_add(n, Ordering::Relaxed);
    }

    /// Marks one task as finished.
    ///
    /// # Panics
    ///
    /// If the count is already zero (more `done` than `add`), like Go's
    /// "negative WaitGroup counter".
    pub fn done(&self) {
        // Release: the task's work is visible to whoever sees the count reach zero.
        let prev = self.inner.count.fetch_sub(1, Ordering::AcqRel);
        if prev == 1 {
            let waiters = {
                let mut w = self.inner.waiters.lock();
                self.inner.epoch.fetch_add(1, Ordering::Release);
                std::mem::take(&mut *w)
            };
            for u in waiters {
                u.unpark();
            }
        } else if prev == 0 {
            self.inner.count.fetch_add(1, Ordering::Relaxed);
            panic!("gogreen: WaitGroup::done called more times than add (negative counter)");
        }
    }

    /// Waits until the count is zero.
    pub fn wait(&self) {
        // Acquire pairs with `done`'s Release: the tasks' work is visible after.
        if self.inner.count.load(Ordering::Acquire) == 0 {
            return;
        }
        let epoch = {
            let mut w = self.inner.waiters.lock();
            if self.inner.count.load(Ordering::Acquire) == 0 {
                return;
            }
            w.push(park::current());
            self.inner.epoch.load(Ordering::Relaxed)
        };
        while self.inner.epoch.load(Ordering::Acquire) == epoch {
            park::park(None);
        }
    }

    /// The current count (a snapshot).
    pub fn count(&self) -> usize {
        self.inner.count.load(Ordering::Relaxed)
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup")
            .field("count", &self.count())
            .finish()
    }
}

// A panic cannot leave the counter or the waiter list half-updated: the counter is an
// atomic and the list is only pushed to and drained under its lock.
impl std::panic::UnwindSafe for WaitGroup {}
impl std::panic::RefUnwindSafe for WaitGroup {}
