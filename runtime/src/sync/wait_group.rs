//! Go's `sync.WaitGroup`: wait until a counter of outstanding tasks drops to zero.
//!
//! # The protocol
//!
//! 1. `add` moves the counter with a CAS (so that an overflowing `add` can refuse
//!    without the count ever wrapping); so does a `done` that leaves it above zero.
//! 2. A waiter that sees a non-zero count takes the queue lock, looks again, and if the
//!    count is still not zero links a [`Waiter`] from its frame, tagged with the round
//!    (how many times the count has reached zero so far), and parks.
//! 3. A `done` that finds the count at one takes the queue lock and decrements *under
//!    it*; if that brings the count to zero it bumps the round in the same hold of the
//!    lock, and wakes every waiter of the old round, a batch of 32 per hold.
//!
//! A waiter's second look happens under the queue lock, and the count reaches zero only
//! under it: either that look sees zero, or the last `done` finds the waiter linked.
//! The round tag keeps a waiter that comes after the group is reused (`add` again) from
//! being woken by the previous round's last `done` — and since the round moves in the
//! same hold of the lock as the count's drop to zero, a waiter that saw zero, returned,
//! re-armed the group and waits again always links under the new round.
//!
//! Rejected: decrementing before taking the lock (as this file first did). The last
//! `done` then bumped the round some time after the count read zero, and a waiter that
//! returned on that zero without the lock, re-armed the group and waited again could
//! link under the old round and be woken by the old round's `done` with ten tasks
//! outstanding (`tests/wait_group.rs`, `a_wait_group_can_be_reused`, one run in a few
//! with `GOGREEN_PROCS=1`). Go keeps the waiters' count in the counter's word instead;
//! here the lock is taken by the last `done` anyway, so it only moves earlier.

use super::queue::{self, WaitQueue};
use super::waiter::Waiter;
use crate::loom::{AtomicUsize, Ordering};
use gogreen_channel::park::WaitReason;
use std::fmt;
use std::sync::Arc;

/// The token of a finished round.
const RELEASED: u32 = 1;

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

struct Inner {
    /// On a cache line of its own, away from the `Arc`'s reference counts: a spawner
    /// that clones the group for every task it starts must not fight over one line with
    /// the tasks that call `done` on other cores.
    count: Padded<AtomicUsize>,
    /// Waiters, with the round: how many times the count has dropped to zero.
    waiters: WaitQueue<usize>,
}

impl Default for Inner {
    fn default() -> Self {
        Inner {
            count: Padded(AtomicUsize::new(0)),
            waiters: WaitQueue::new(0),
        }
    }
}

/// Aligns its contents to a cache line pair (the adjacent-line prefetcher fetches two).
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
    ///
    /// # Panics
    ///
    /// If the count would pass `usize::MAX` (a wrapped-around `n`, say); the count is
    /// left as it was. It used to wrap, which let `wait` return with tasks outstanding.
    pub fn add(&self, n: usize) {
        // Relaxed, as a plain increment would be: what orders tasks' work before a
        // waiter's return is `done`'s Release and `wait`'s Acquire. A CAS, not a
        // `fetch_add` undone on overflow: a wrapped count must never be seen, even
        // for a moment, by a concurrent `wait` or `done`.
        let mut count = self.inner.count.load(Ordering::Relaxed);
        loop {
            let Some(next) = count.checked_add(n) else {
                panic!(
                    "gogreen: WaitGroup::add({n}) overflows the counter ({count} outstanding); \
                     add the number of tasks actually started"
                );
            };
            match self.inner.count.compare_exchange_weak(
                count,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(now) => count = now,
            }
        }
    }

    /// Marks one task as finished.
    ///
    /// # Panics
    ///
    /// If the count is already zero (more `done` than `add`), like Go's
    /// "negative WaitGroup counter".
    pub fn done(&self) {
        let mut count = self.inner.count.load(Ordering::Relaxed);
        loop {
            match count {
                0 => negative_counter(),
                1 => return self.done_last(),
                _ => {}
            }
            // Release: the task's work is visible to whoever sees the count reach zero
            // (through the release sequence that ends at the last `done`'s decrement).
            match self.inner.count.compare_exchange_weak(
                count,
                count - 1,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(now) => count = now,
            }
        }
    }

    /// Step 3: the count looked like one. Decrements under the queue lock, and if that
    /// was the last task, ends the round in the same hold of the lock and wakes it.
    #[cold]
    fn done_last(&self) {
        let mut batch: [_; queue::BATCH] = Default::default();
        let mut round = None;
        loop {
            let (n, more) = {
                let mut q = self.inner.waiters.lock();
                let round = match round {
                    Some(r) => r,
                    None => {
                        // AcqRel: Release for this task's work, as in `done`; Acquire
                        // so that the wake-ups (the tokens' Release) carry every
                        // earlier `done`'s work too.
                        let prev = self.inner.count.fetch_sub(1, Ordering::AcqRel);
                        if prev != 1 {
                            if prev == 0 {
                                self.inner.count.fetch_add(1, Ordering::Relaxed);
                                drop(q);
                                negative_counter();
                            }
                            // An `add` came in between: not the last task after all.
                            return;
                        }
                        let r = q.state;
                        q.state = r.wrapping_add(1);
                        *round.insert(r)
                    }
                };
                let n = q.wake_some(RELEASED, &mut batch, |r| r == round);
                (n, q.front() == Some(round))
            };
            queue::unpark_all(&mut batch[..n]);
            if !more {
                return;
            }
        }
    }

    /// Waits until the count is zero.
    pub fn wait(&self) {
        // Acquire pairs with `done`'s Release: the tasks' work is visible after.
        if self.inner.count.load(Ordering::Acquire) == 0 {
            return;
        }
        // Step 2.
        let me = Waiter::new(0, WaitReason::WaitGroup);
        {
            let mut q = self.inner.waiters.lock();
            // Acquire as above. Under the queue lock, which the last `done` takes after
            // its decrement: see the module docs.
            if self.inner.count.load(Ordering::Acquire) == 0 {
                return;
            }
            me.data.set(q.state);
            // SAFETY: `me` stays in this frame until step 3 unlinks it, and we return
            // only after its token; wait-group waiters never unlink themselves.
            unsafe { q.push_back(&me) };
        }
        // The token's Acquire pairs with the last `done`'s Release store of it, made
        // after its AcqRel decrement: every task's work is visible.
        me.wait(None);
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

// A panic cannot leave the counter or the waiter queue half-updated: the counter is an
// atomic and the queue is changed only under its lock, by code that does not panic.
impl std::panic::UnwindSafe for WaitGroup {}
impl std::panic::RefUnwindSafe for WaitGroup {}

/// A `done` past zero (Go's "negative WaitGroup counter"), after the count was left
/// (or put back) at zero.
#[cold]
fn negative_counter() -> ! {
    panic!("gogreen: WaitGroup::done called more times than add (negative counter)")
}
