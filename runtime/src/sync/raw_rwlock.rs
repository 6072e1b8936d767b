//! The reader-writer lock protocol: a state word, one FIFO of parked readers and
//! writers, and direct hand-over to whoever waited first.
//!
//! # The state word
//!
//! `readers * READER | WRITER | PARKED`: how many read guards are out, whether a write
//! guard is, and whether the queue holds anyone. `PARKED` changes only under the
//! queue's lock, so it agrees with the queue.
//!
//! # Locking
//!
//! 1. **Fast path**: a reader CASes `s` → `s + READER` if neither `WRITER` nor
//!    `PARKED` is set; a writer CASes `0` → `WRITER`.
//! 2. **Spin** while the lock is held and nobody is queued (the holder may be about to
//!    let go; `spin.rs`).
//! 3. **Park**: under the queue's lock, re-read the state. If the lock can be had now
//!    (reader: no `WRITER`, no `PARKED`; writer: `0`), take it by CAS. Otherwise CAS in
//!    `PARKED`, link a [`Waiter`] from this frame at the back (its `data` says read or
//!    write), release the queue's lock and park until a token arrives. The token means
//!    the lock was handed over: the caller holds it.
//!
//! While anyone is queued, newcomers queue behind them, readers included: a stream of
//! readers cannot starve a waiting writer, and the queue is served in order.
//!
//! # Unlocking, and handing over
//!
//! - A reader `fetch_sub`s `READER`. If it was the last one and `PARKED` was set, it
//!   hands over. A writer CASes `WRITER` → `0`; if that fails (`PARKED`), it hands over.
//! - **Hand-over**, under the queue's lock: if the front waiter is a writer, the state
//!   becomes `WRITER` (plus `PARKED` if more wait) and that writer is woken; if readers
//!   are at the front, all readers up to the first writer are counted in at once (state
//!   `k * READER`, plus `PARKED`) and woken, a batch of 32 per hold of the queue lock.
//!   Nobody else changes the state meanwhile: the fast paths fail on `PARKED` or on a
//!   held lock, the slow paths need the queue lock, and no other guard is out.
//! - `downgrade` turns `WRITER` into one `READER` and, if readers wait at the front,
//!   counts them in too.
//!
//! # Why no wake-up is lost
//!
//! As for the mutex: a waiter sets `PARKED` by CAS on the state word under the queue's
//! lock and links itself in the same hold; the releasing `fetch_sub` or CAS is on the
//! same word, so either the waiter saw the lock free, or the releaser sees `PARKED` and
//! reaches the waiter through the queue's lock.
//!
//! # Rejected designs
//!
//! - **Barging** as the mutex does: readers that keep coming would starve a waiting
//!   writer unless new readers checked for it, and then the fairness bookkeeping is the
//!   queue's anyway. Reader-writer locks guard longer sections than mutexes, where a
//!   hand-over's switch matters less.
//! - **Separate reader and writer queues** (Go's `RWMutex` counts readers to wait out,
//!   then wakes all readers that came during a write): one FIFO serves in arrival order
//!   and needs one lock.
//! - **No timed waits**: `std::sync::RwLock` has none, so a queued waiter never leaves
//!   by itself, which lets a hand-over wake a run of readers over several holds of the
//!   queue's lock.

use super::fatal;
use super::queue::{self, WaitQueue};
use super::spin::Spin;
use super::waiter::Waiter;
use crate::loom::{AtomicUsize, Ordering, fence};
use gogreen_channel::park::WaitReason;

const WRITER: usize = 1;
const PARKED: usize = 2;
const READER: usize = 4;

/// What a queued waiter wants (its `data`).
const WANT_READ: usize = 0;
const WANT_WRITE: usize = 1;

/// The token of a hand-over.
const GRANTED: u32 = 1;

/// A reader-writer lock without data; see the module docs for the protocol.
pub(crate) struct RawRwLock {
    state: AtomicUsize,
    /// Parked readers and writers, in arrival order. They never leave by themselves.
    waiters: WaitQueue<()>,
}

impl RawRwLock {
    super::loom_const_fn! {
        pub(crate) fn new() -> RawRwLock {
            RawRwLock {
                state: AtomicUsize::new(0),
                waiters: WaitQueue::new(()),
            }
        }
    }

    #[inline]
    pub(crate) fn read(&self) {
        if !self.try_read() {
            self.lock_slow(WANT_READ);
        }
    }

    #[inline]
    pub(crate) fn write(&self) {
        if !self.try_write() {
            self.lock_slow(WANT_WRITE);
        }
    }

    /// Takes a read lock if no writer holds it and nobody is queued.
    #[inline]
    pub(crate) fn try_read(&self) -> bool {
        let mut s = self.state.load(Ordering::Relaxed);
        while s & (WRITER | PARKED) == 0 {
            // Acquire pairs with the Release of the last writer's unlock. (A reader
            // count of `usize::MAX / 4` cannot be reached: each reader is a thread.)
            match self.state.compare_exchange_weak(
                s,
                s + READER,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(x) => s = x,
            }
        }
        false
    }

    /// Takes the write lock if nobody holds it and nobody is queued.
    #[inline]
    pub(crate) fn try_write(&self) -> bool {
        // Acquire pairs with the Release of the previous holders' unlocks.
        self.state
            .compare_exchange(0, WRITER, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Releases a read lock.
    ///
    /// # Safety
    ///
    /// The caller holds a read lock.
    #[inline]
    pub(crate) unsafe fn read_unlock(&self) {
        // Release: a writer handed the lock later must see this reader done.
        let prev = self.state.fetch_sub(READER, Ordering::Release);
        debug_assert!(prev >= READER && prev & WRITER == 0);
        if prev == READER | PARKED {
            // Acquire pairs with the other readers' Release: their reads happen before
            // whatever the writer we may hand over to writes.
            fence(Ordering::Acquire);
            self.hand_over(0);
        }
    }

    /// Releases the write lock.
    ///
    /// # Safety
    ///
    /// The caller holds the write lock.
    #[inline]
    pub(crate) unsafe fn write_unlock(&self) {
        // Release pairs with the next holders' Acquire.
        if self
            .state
            .compare_exchange(WRITER, 0, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            self.hand_over(0);
        }
    }

    /// Turns the caller's write lock into a read lock, letting queued readers at the
    /// front in with it.
    ///
    /// # Safety
    ///
    /// The caller holds the write lock.
    pub(crate) unsafe fn downgrade(&self) {
        // Release: readers let in later see what the writer wrote.
        if self
            .state
            .compare_exchange(WRITER, READER, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            self.hand_over(READER);
        }
    }

    #[cold]
    #[inline(never)]
    fn lock_slow(&self, want: usize) {
        let mut spin = Spin::new();
        loop {
            let s = self.state.load(Ordering::Relaxed);
            let free = if want == WANT_WRITE {
                s == 0
            } else {
                s & (WRITER | PARKED) == 0
            };
            if free {
                let got = if want == WANT_WRITE {
                    self.try_write()
                } else {
                    self.try_read()
                };
                if got {
                    return;
                }
                continue;
            }
            // Step 2: spin while the holder may be about to let go.
            if s & PARKED == 0 && spin.spin() {
                continue;
            }
            // Step 3.
            if self.park(want) {
                return;
            }
        }
    }

    /// Step 3: returns `true` once the caller holds the lock (taken here, or handed
    /// over), `false` if it should try again.
    fn park(&self, want: usize) -> bool {
        let why = if want == WANT_WRITE {
            WaitReason::RwLockWrite
        } else {
            WaitReason::RwLockRead
        };
        let me = Waiter::new(want, why);
        {
            let mut q = self.waiters.lock();
            let mut s = self.state.load(Ordering::Relaxed);
            loop {
                let (free, taken) = if want == WANT_WRITE {
                    (s == 0, WRITER)
                } else {
                    (s & (WRITER | PARKED) == 0, s + READER)
                };
                let (new, success) = if free {
                    (taken, Ordering::Acquire)
                } else {
                    (s | PARKED, Ordering::Relaxed)
                };
                // Acquire if we take the lock, as in the fast paths. Relaxed to queue:
                // the word's modification order orders us with the releasers.
                match self
                    .state
                    .compare_exchange_weak(s, new, success, Ordering::Relaxed)
                {
                    Ok(_) if free => return true,
                    Ok(_) => break,
                    Err(x) => s = x,
                }
            }
            // SAFETY: `me` stays in this frame until a hand-over unlinks it, and we
            // return only after its token; rwlock waiters never unlink themselves.
            unsafe { q.push_back(&me) };
        }
        match me.wait(None) {
            Some(GRANTED) => true,
            _ => fatal("an rwlock waiter woken with an unknown token"),
        }
    }

    /// Hands the lock to the front of the queue; `base` is what the caller keeps (one
    /// `READER` when downgrading, else nothing). Only readers join a kept read lock.
    #[cold]
    #[inline(never)]
    fn hand_over(&self, base: usize) {
        let mut batch: [_; queue::BATCH] = Default::default();
        let mut left;
        {
            let mut q = self.waiters.lock();
            let Some(front) = q.front() else {
                fatal("an rwlock had PARKED set with nobody queued")
            };
            let (k, granted, more) = if front == WANT_WRITE && base == 0 {
                (1, WRITER, !q.has_one())
            } else {
                let (k, more) = q.count_front(|w| w == WANT_READ);
                (k, base + k * READER, more)
            };
            let more = if more { PARKED } else { 0 };
            // Nobody else changes the word while a hand-over runs (module docs), so a
            // plain swap will do. The new holders learn of the hand-over through their
            // tokens (Release/Acquire), but readers that come later through the fast
            // path read this value: Release, so that they see what a writer handing
            // over wrote (the loom model found this one).
            let old = self.state.swap(granted | more, Ordering::Release);
            debug_assert!(old == PARKED || old == WRITER | PARKED);
            left = k;
            let n = q.wake_some(GRANTED, &mut batch[..left.min(queue::BATCH)], |_| true);
            left -= n;
            drop(q);
            queue::unpark_all(&mut batch[..n]);
        }
        // The rest of a run of readers: they are still at the front (newcomers queue
        // behind them, and nobody else unlinks), already counted in the state.
        while left > 0 {
            let n = {
                let mut q = self.waiters.lock();
                q.wake_some(GRANTED, &mut batch[..left.min(queue::BATCH)], |_| true)
            };
            debug_assert!(n > 0);
            left -= n;
            queue::unpark_all(&mut batch[..n]);
        }
    }
}
