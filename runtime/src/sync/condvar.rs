//! `std::sync::Condvar` for green threads: wait for a condition under a [`Mutex`].
//!
//! # The protocol
//!
//! Waiting (`wait`, with the mutex held):
//!
//! 1. Under the condvar's queue lock, take the next ticket, link a [`Waiter`] from this
//!    frame at the back of the queue, and set `has_waiters`.
//! 2. Unlock the mutex. A notifier that changes the condition must hold the mutex, so
//!    it runs after step 1 and finds us in the queue: no notification is lost between
//!    the caller's check of the condition and its sleep.
//! 3. Park until a notify stores a token in the waiter — or until the deadline. Then,
//!    under the queue lock, unlink ourselves; if a notify got there first (we are no
//!    longer linked), we were notified after all, and say so.
//! 4. Lock the mutex again (parking as any locker), and report poisoning as std does.
//!
//! Notifying:
//!
//! - `notify_one`: if `has_waiters`, under the queue lock, unlink the front waiter and
//!   store its token; unpark it after the lock. A waiter that timed out has unlinked
//!   itself, so the notification goes to one that still waits.
//! - `notify_all`: the same, for every waiter whose ticket is older than the call, a
//!   batch of 32 per hold of the queue lock. The ticket bound keeps a waiter that was
//!   woken, relocked, and waits again from being woken twice by one `notify_all` (and
//!   a steady stream of such waiters from keeping the call going forever).
//!
//! `has_waiters` lets a notify with nobody waiting skip the queue lock. It is written
//! under the queue lock; step 2's unlock (Release) and the notifier's lock of the mutex
//! (Acquire) order a waiter's write before a notifier's read.
//!
//! Rejected: Go's `notifyList` keeps two ticket counters and no queue lock in the fast
//! path of `wait`; our waiters must unlink themselves on a timeout anyway, so one lock
//! around the queue is simpler, and a wait costs a park already.

use super::mutex::{Mutex, MutexGuard};
use super::queue::{self, WaitQueue};
use super::raw_mutex::RawMutex;
use super::waiter::Waiter;
use crate::loom::{AtomicBool, Ordering};
use gogreen_channel::park::WaitReason;
use std::fmt;
use std::sync::{LockResult, PoisonError};
use std::time::{Duration, Instant};

/// The token a notify leaves in a waiter.
const NOTIFIED: u32 = 1;

/// A condition variable, with `std::sync::Condvar`'s API, for [`Mutex`].
///
/// Waiting parks the calling green thread (or blocks the OS thread). Spurious wake-ups
/// do not happen here, but code should loop on its condition all the same — or use
/// [`wait_while`](Condvar::wait_while), which does.
///
/// ```
/// use gogreen::sync::{Condvar, Mutex};
/// use std::sync::Arc;
///
/// let pair = Arc::new((Mutex::new(false), Condvar::new()));
/// let pair2 = pair.clone();
/// gogreen::spawn(move || {
///     let (ready, cv) = &*pair2;
///     *ready.lock().unwrap() = true;
///     cv.notify_one();
/// });
/// let (ready, cv) = &*pair;
/// let guard = cv.wait_while(ready.lock().unwrap(), |ready| !*ready).unwrap();
/// assert!(*guard);
/// ```
pub struct Condvar {
    /// Whether the queue holds anyone; written under the queue lock, read by notifies
    /// without it (see the module docs).
    has_waiters: AtomicBool,
    /// Waiters, with the next ticket to hand out.
    waiters: WaitQueue<usize>,
}

/// Whether a timed wait returned because its time ran out.
#[derive(Debug, PartialEq, Eq, Copy, Clone)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// `true` if the wait ended because the time ran out, not because of a notify.
    #[must_use]
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

impl Condvar {
    super::loom_const_fn! {
        /// A condition variable nobody waits on.
        pub fn new() -> Condvar {
            Condvar {
                has_waiters: AtomicBool::new(false),
                waiters: WaitQueue::new(0),
            }
        }
    }

    /// Unlocks the guard's mutex, waits for a notify, and locks it again.
    ///
    /// # Errors
    ///
    /// `Err`, holding the relocked guard, if the mutex is poisoned when relocked.
    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
        let mutex = MutexGuard::mutex(&guard);
        // SAFETY: the guard holds the mutex, and keeps "holding" it (it is not dropped)
        // while `wait_raw` unlocks and relocks it.
        unsafe { self.wait_raw(mutex.raw(), None) };
        relocked(mutex, guard)
    }

    /// Waits while `condition` holds for the data, as [`wait`](Condvar::wait) in a loop.
    ///
    /// # Errors
    ///
    /// As [`wait`](Condvar::wait).
    pub fn wait_while<'a, T, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: F,
    ) -> LockResult<MutexGuard<'a, T>>
    where
        F: FnMut(&mut T) -> bool,
    {
        while condition(&mut *guard) {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    /// As [`wait`](Condvar::wait), but for at most `dur`.
    ///
    /// # Errors
    ///
    /// As [`wait`](Condvar::wait).
    pub fn wait_timeout<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        dur: Duration,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        let deadline = Instant::now().checked_add(dur);
        let mutex = MutexGuard::mutex(&guard);
        // SAFETY: as in `wait`.
        let notified = unsafe { self.wait_raw(mutex.raw(), deadline) };
        let timed_out = WaitTimeoutResult(!notified);
        relocked(mutex, guard).map(|g| (g, timed_out)).map_err(|e| {
            let g = e.into_inner();
            PoisonError::new((g, timed_out))
        })
    }

    /// Waits while `condition` holds, for at most `dur` in all. The result says whether
    /// the time ran out with the condition still holding.
    ///
    /// # Errors
    ///
    /// As [`wait`](Condvar::wait).
    pub fn wait_timeout_while<'a, T, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        dur: Duration,
        mut condition: F,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)>
    where
        F: FnMut(&mut T) -> bool,
    {
        let deadline = Instant::now().checked_add(dur);
        loop {
            if !condition(&mut *guard) {
                return Ok((guard, WaitTimeoutResult(false)));
            }
            let left = match deadline {
                None => Duration::MAX,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left,
                    _ => return Ok((guard, WaitTimeoutResult(true))),
                },
            };
            guard = self.wait_timeout(guard, left)?.0;
        }
    }

    /// Wakes one waiter, if any waits.
    pub fn notify_one(&self) {
        // Relaxed: see the module docs for what orders a waiter's write before this.
        if !self.has_waiters.load(Ordering::Relaxed) {
            return;
        }
        let woken = {
            let mut q = self.waiters.lock();
            let u = q.wake_front(NOTIFIED);
            self.has_waiters.store(!q.is_empty(), Ordering::Relaxed);
            u
        };
        if let Some(u) = woken {
            u.unpark();
        }
    }

    /// Wakes every waiter.
    pub fn notify_all(&self) {
        if !self.has_waiters.load(Ordering::Relaxed) {
            return;
        }
        let mut batch: [_; queue::BATCH] = Default::default();
        let mut limit = None;
        loop {
            let (n, more) = {
                let mut q = self.waiters.lock();
                let limit = *limit.get_or_insert(q.state);
                // Tickets wrap: "older" is "less, in wrapping distance".
                let older = |ticket: usize| ticket.wrapping_sub(limit) > usize::MAX / 2;
                let n = q.wake_some(NOTIFIED, &mut batch, older);
                self.has_waiters.store(!q.is_empty(), Ordering::Relaxed);
                (n, q.front().is_some_and(older))
            };
            queue::unpark_all(&mut batch[..n]);
            if !more {
                return;
            }
        }
    }

    /// Steps 1–4: queues the caller, unlocks `mutex`, parks until notified or until
    /// `deadline`, relocks. Returns whether a notify woke us.
    ///
    /// # Safety
    ///
    /// The caller holds `mutex`; it holds it again when this returns.
    unsafe fn wait_raw(&self, mutex: &RawMutex, deadline: Option<Instant>) -> bool {
        let me = Waiter::new(0, WaitReason::Condvar);
        {
            let mut q = self.waiters.lock();
            me.data.set(q.state);
            q.state = q.state.wrapping_add(1);
            // SAFETY: `me` stays in this frame until it is unlinked: by a notify, or by
            // us below, under the queue lock, before we return.
            unsafe { q.push_back(&me) };
            self.has_waiters.store(true, Ordering::Relaxed);
        }
        // SAFETY: the caller holds the mutex.
        unsafe { mutex.unlock() };
        let notified = match me.wait(deadline) {
            Some(_) => true,
            None => {
                let mut q = self.waiters.lock();
                // SAFETY: if linked, `me` is linked into this queue.
                let still_waiting = unsafe { q.remove(&me) };
                self.has_waiters.store(!q.is_empty(), Ordering::Relaxed);
                !still_waiting
            }
        };
        mutex.lock();
        notified
    }
}

/// The result of a wait, once the guard's mutex is relocked: std's poisoning rules.
fn relocked<'a, T: ?Sized>(
    mutex: &Mutex<T>,
    guard: MutexGuard<'a, T>,
) -> LockResult<MutexGuard<'a, T>> {
    if mutex.is_poisoned() {
        Err(PoisonError::new(guard))
    } else {
        Ok(guard)
    }
}

impl Default for Condvar {
    fn default() -> Condvar {
        Condvar::new()
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar").finish_non_exhaustive()
    }
}

// A panic cannot leave the queue half-linked: it is changed only under its lock, by
// code that does not panic.
impl std::panic::UnwindSafe for Condvar {}
impl std::panic::RefUnwindSafe for Condvar {}
