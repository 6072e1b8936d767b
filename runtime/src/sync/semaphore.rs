//! A weighted semaphore, after Go's `x/sync/semaphore` and tokio's: acquire `n` permits
//! at once, waiters served in order; permits go back when their guard drops.
//!
//! # The protocol
//!
//! The state word is `permits * ONE | PARKED`: the free permits, and whether the queue
//! holds anyone. `PARKED` changes only under the queue's lock, so it agrees with it.
//!
//! 1. **Fast path**: if `PARKED` is clear and enough permits are free, CAS them out.
//!    While anyone waits, newcomers queue behind even if permits are free: a large
//!    request at the front is not starved by a stream of small ones (Go's choice).
//! 2. **Park**: under the queue's lock, re-read the state; if step 1 would succeed now,
//!    do it. Otherwise CAS in `PARKED`, link a [`Waiter`] from this frame (its `data` is
//!    how many permits it wants) at the back, release the lock, park until its token —
//!    or its deadline.
//! 3. **Release**: `fetch_add` the permits. If `PARKED` was set, take the queue's lock
//!    and *grant*: while the front waiter's request fits, CAS its permits out on its
//!    behalf (clearing `PARKED` with the last waiter), unlink it and store its token; the
//!    handles are unparked a batch of 32 per hold of the lock.
//! 4. **Time-out**: under the queue's lock, unlink ourselves. If we were already
//!    unlinked, a grant beat the deadline: we hold the permits after all, and say so.
//!    Otherwise grant as in step 3 — if we were at the front, the waiters behind us may
//!    fit now — and report the time-out.
//!
//! A waiter sets `PARKED` by CAS under the queue's lock and links itself in the same
//! hold; a release's `fetch_add` is on the same word, so either the waiter's CAS saw
//! the permits (and took them), or the release sees `PARKED` and reaches the waiter
//! through the queue's lock.

use super::queue::{self, Locked, WaitQueue};
use super::waiter::Waiter;
use crate::loom::{AtomicUsize, Ordering};
use gogreen_channel::park::Unparker;
use gogreen_channel::park::WaitReason;
use std::fmt;
use std::time::{Duration, Instant};

const PARKED: usize = 1;
/// One permit in the state word.
const ONE: usize = 2;

/// The token of a granted request.
const GRANTED: u32 = 1;

/// A counting semaphore of a fixed size, whose callers acquire one or more permits at a
/// time and give them back by dropping the [`SemaphorePermit`]. Waiters are served in
/// arrival order. Waiting parks a green thread, or blocks an OS thread.
///
/// ```
/// use gogreen::sync::Semaphore;
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// // At most 3 of the 20 tasks inside at once.
/// let sem = Arc::new(Semaphore::new(3));
/// let inside = Arc::new(AtomicUsize::new(0));
/// let tasks: Vec<_> = (0..20)
///     .map(|_| {
///         let (sem, inside) = (sem.clone(), inside.clone());
///         gogreen::spawn(move || {
///             let _permit = sem.acquire().unwrap();
///             assert!(inside.fetch_add(1, Ordering::SeqCst) < 3);
///             gogreen::yield_now();
///             inside.fetch_sub(1, Ordering::SeqCst);
///         })
///     })
///     .collect();
/// for t in tasks {
///     t.join().unwrap();
/// }
/// assert_eq!(sem.available_permits(), 3);
/// ```
pub struct Semaphore {
    /// Permits in all: free ones, held ones and forgotten ones.
    size: usize,
    /// `permits * ONE | PARKED`; see the module docs.
    state: AtomicUsize,
    /// Waiters in arrival order, each wanting its `data` permits.
    waiters: WaitQueue<()>,
}

/// Permits taken from a [`Semaphore`]; they go back when this drops.
#[must_use = "the permits go back at once if the guard is not kept"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
    permits: usize,
}

/// Why a blocking acquire failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcquireError {
    /// More permits were asked for than the semaphore has in all: the wait could never
    /// end.
    TooMany { requested: usize, size: usize },
    /// The timeout passed before the permits were free.
    Timeout,
}

/// Why a non-blocking acquire failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryAcquireError {
    /// Not enough free permits right now, or others wait ahead of us.
    NoPermits,
    /// More permits were asked for than the semaphore has in all.
    TooMany { requested: usize, size: usize },
}

impl Semaphore {
    /// The largest size a semaphore can have.
    pub const MAX_PERMITS: usize = usize::MAX / ONE;

    super::loom_const_fn! {
        /// A semaphore with `permits` permits, all free.
        ///
        /// # Panics
        ///
        /// If `permits` exceeds [`Semaphore::MAX_PERMITS`].
        #[must_use]
        pub fn new(permits: usize) -> Semaphore {
            assert!(
                permits <= Semaphore::MAX_PERMITS,
                "gogreen::sync::Semaphore::new: more permits than Semaphore::MAX_PERMITS"
            );
            Semaphore {
                size: permits,
                state: AtomicUsize::new(permits * ONE),
                waiters: WaitQueue::new(()),
            }
        }
    }

    /// Acquires one permit, waiting for it if needed.
    ///
    /// # Errors
    ///
    /// [`AcquireError::TooMany`] if the semaphore has no permits at all.
    pub fn acquire(&self) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.acquire_many(1)
    }

    /// Acquires `n` permits at once, waiting for them if needed, behind earlier waiters.
    ///
    /// # Errors
    ///
    /// [`AcquireError::TooMany`] if `n` exceeds the semaphore's size.
    pub fn acquire_many(&self, n: usize) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.acquire_until(n, None)
    }

    /// As [`acquire_many`](Semaphore::acquire_many), giving up after `timeout`.
    ///
    /// # Errors
    ///
    /// [`AcquireError::TooMany`] if `n` exceeds the semaphore's size;
    /// [`AcquireError::Timeout`] if the permits did not come in time.
    pub fn acquire_many_timeout(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.acquire_until(n, Instant::now().checked_add(timeout))
    }

    /// Acquires one permit if one is free and nobody waits ahead.
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::NoPermits`] if not; [`TryAcquireError::TooMany`] if the
    /// semaphore has no permits at all.
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_many(1)
    }

    /// Acquires `n` permits if they are free and nobody waits ahead.
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::NoPermits`] if not; [`TryAcquireError::TooMany`] if `n`
    /// exceeds the semaphore's size.
    pub fn try_acquire_many(&self, n: usize) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        if n > self.size {
            return Err(TryAcquireError::TooMany {
                requested: n,
                size: self.size,
            });
        }
        if self.take_fast(n) {
            Ok(self.permit(n))
        } else {
            Err(TryAcquireError::NoPermits)
        }
    }

    /// Gives back `n` permits taken earlier and [`forgotten`](SemaphorePermit::forget)
    /// (Go's `Release`); waiters whose requests now fit are woken.
    ///
    /// # Panics
    ///
    /// If that would leave more permits free than the semaphore's size: more were
    /// released than were taken.
    pub fn release(&self, n: usize) {
        if n == 0 {
            return;
        }
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            // Free permits never exceed the size, so this does not underflow.
            let out = self.size - s / ONE;
            if n > out {
                panic!(
                    "gogreen::sync::Semaphore::release: {n} permits released, but only {out} \
                     are out; release only what was acquired and forgotten"
                );
            }
            // Release: what the holder did is visible to whoever takes the permits next.
            match self.state.compare_exchange_weak(
                s,
                s + n * ONE,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(x) => s = x,
            }
        }
        if s & PARKED != 0 {
            self.grant();
        }
    }

    /// Free permits right now (a snapshot).
    pub fn available_permits(&self) -> usize {
        self.state.load(Ordering::Relaxed) / ONE
    }

    /// Permits in all, as given to [`new`](Semaphore::new).
    pub fn size(&self) -> usize {
        self.size
    }

    fn permit(&self, permits: usize) -> SemaphorePermit<'_> {
        SemaphorePermit { sem: self, permits }
    }

    /// Step 1.
    #[inline]
    fn take_fast(&self, n: usize) -> bool {
        let mut s = self.state.load(Ordering::Relaxed);
        while s & PARKED == 0 && s / ONE >= n {
            // Acquire pairs with the Release of the releases that freed these permits.
            match self.state.compare_exchange_weak(
                s,
                s - n * ONE,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(x) => s = x,
            }
        }
        false
    }

    fn acquire_until(
        &self,
        n: usize,
        deadline: Option<Instant>,
    ) -> Result<SemaphorePermit<'_>, AcquireError> {
        if n > self.size {
            return Err(AcquireError::TooMany {
                requested: n,
                size: self.size,
            });
        }
        if self.take_fast(n) {
            return Ok(self.permit(n));
        }
        // Step 2.
        let me = Waiter::new(n, WaitReason::Semaphore);
        {
            let mut q = self.waiters.lock();
            let mut s = self.state.load(Ordering::Relaxed);
            loop {
                let (new, success) = if s & PARKED == 0 && s / ONE >= n {
                    (s - n * ONE, Ordering::Acquire)
                } else {
                    (s | PARKED, Ordering::Relaxed)
                };
                // Acquire if we take the permits, as in step 1. Relaxed to queue: the
                // word's modification order orders us with releases.
                match self
                    .state
                    .compare_exchange_weak(s, new, success, Ordering::Relaxed)
                {
                    Ok(_) if new & PARKED == 0 => return Ok(self.permit(n)),
                    Ok(_) => break,
                    Err(x) => s = x,
                }
            }
            // SAFETY: `me` stays in this frame until it is unlinked: by a grant, or by
            // us in step 4, under the queue's lock, before we return.
            unsafe { q.push_back(&me) };
        }
        if me.wait(deadline).is_some() {
            return Ok(self.permit(n));
        }
        // Step 4.
        let mut batch: [_; queue::BATCH] = Default::default();
        let (granted, n_woken, more) = {
            let mut q = self.waiters.lock();
            // SAFETY: if linked, `me` is linked into this queue.
            if unsafe { q.remove(&me) } {
                let (n_woken, more) = self.grant_locked(&mut q, &mut batch);
                (false, n_woken, more)
            } else {
                (true, 0, false)
            }
        };
        queue::unpark_all(&mut batch[..n_woken]);
        if more {
            self.grant();
        }
        if granted {
            Ok(self.permit(n))
        } else {
            Err(AcquireError::Timeout)
        }
    }

    /// Step 3, from the top: grants requests at the front while they fit.
    #[cold]
    #[inline(never)]
    fn grant(&self) {
        let mut batch: [_; queue::BATCH] = Default::default();
        loop {
            let (n, more) = {
                let mut q = self.waiters.lock();
                self.grant_locked(&mut q, &mut batch)
            };
            queue::unpark_all(&mut batch[..n]);
            if !more {
                return;
            }
        }
    }

    /// Step 3 under the queue's lock, for up to a batch of waiters. Returns how many
    /// handles it put in `batch`, and whether to call again (the batch filled up).
    fn grant_locked(&self, q: &mut Locked<()>, batch: &mut [Option<Unparker>]) -> (usize, bool) {
        let mut n = 0;
        while n < batch.len() {
            let Some(want) = q.front() else {
                // Granting the last waiter clears `PARKED` in its CAS below; a waiter that
                // timed out and left the queue empty leaves it to us.
                self.state.fetch_and(!PARKED, Ordering::Relaxed);
                return (n, false);
            };
            let mut s = self.state.load(Ordering::Relaxed);
            loop {
                if s / ONE < want {
                    return (n, false);
                }
                let mut new = s - want * ONE;
                if q.has_one() {
                    new &= !PARKED;
                }
                // Acquire pairs with the Release of every release whose permits we hand
                // on; the waiter's token then passes them on (Release/Acquire).
                match self
                    .state
                    .compare_exchange_weak(s, new, Ordering::Acquire, Ordering::Relaxed)
                {
                    Ok(_) => break,
                    Err(x) => s = x,
                }
            }
            batch[n] = q.wake_front(GRANTED);
            n += 1;
        }
        (n, q.front().is_some())
    }
}

impl SemaphorePermit<'_> {
    /// How many permits this guard holds.
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// Keeps the permits out of the semaphore: dropping the guard no longer gives them
    /// back. [`Semaphore::release`] can give them back later.
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.sem.release(self.permits);
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.permits)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("size", &self.size)
            .field("available", &self.available_permits())
            .finish_non_exhaustive()
    }
}

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcquireError::TooMany { requested, size } => write!(
                f,
                "asked for {requested} permits of a semaphore of {size}: the wait could never \
                 end; ask for at most {size}, or make the semaphore larger"
            ),
            AcquireError::Timeout => f.write_str("timed out waiting for semaphore permits"),
        }
    }
}

impl std::error::Error for AcquireError {}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryAcquireError::NoPermits => f.write_str("not enough free semaphore permits"),
            TryAcquireError::TooMany { requested, size } => write!(
                f,
                "asked for {requested} permits of a semaphore of {size}; ask for at most {size}, \
                 or make the semaphore larger"
            ),
        }
    }
}

impl std::error::Error for TryAcquireError {}

// A panic cannot leave the state word or the queue half-updated: they change by single
// atomic steps, and under the queue's lock by code that does not panic (`release`
// panics before it changes anything).
impl std::panic::UnwindSafe for Semaphore {}
impl std::panic::RefUnwindSafe for Semaphore {}
