//! A primitive's queue of blocked callers: an intrusive FIFO of stack records under a
//! lock, with whatever state the primitive keeps beside it under the same lock.
//!
//! The records live on the waiters' stacks (`waiter.rs` says who may touch them when);
//! the queue only links them, so linking, waking and unlinking cost O(1) and never
//! allocate, with one waiter or a million.
//!
//! The lock is `parking_lot`'s (loom's under loom). Its critical sections are a few
//! dozen instructions that never park a green thread, so a holder is always running
//! unless the OS preempted it; contenders spin a moment, then block their OS thread.

use super::waiter::Waiter;
use crate::loom::{Mutex, MutexGuard};
use gogreen_channel::park::Unparker;
use std::ptr;

/// Blocked callers, and the state `S` their primitive keeps under the same lock.
pub(crate) struct WaitQueue<S> {
    inner: Mutex<Locked<S>>,
}

/// The queue with its lock held.
pub(crate) struct Locked<S> {
    head: *const Waiter,
    tail: *const Waiter,
    /// The primitive's own state, under the queue's lock.
    pub(crate) state: S,
}

// SAFETY: the queue holds pointers to records on other threads' stacks; they are only
// dereferenced under the lock that owns the queue, while the records are linked and so
// alive (`waiter.rs`). Their unparkers are `Send + Sync`.
unsafe impl<S: Send> Send for Locked<S> {}

impl<S> WaitQueue<S> {
    super::loom_const_fn! {
        pub(crate) fn new(state: S) -> Self {
            WaitQueue {
                inner: Mutex::new(Locked {
                    head: ptr::null(),
                    tail: ptr::null(),
                    state,
                }),
            }
        }
    }

    #[inline]
    pub(crate) fn lock(&self) -> MutexGuard<'_, Locked<S>> {
        self.inner.lock()
    }
}

impl<S> Locked<S> {
    /// Whether exactly one record is linked.
    #[inline]
    pub(crate) fn has_one(&self) -> bool {
        !self.head.is_null() && ptr::eq(self.head, self.tail)
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_null()
    }

    /// Links `w` at the back.
    ///
    /// # Safety
    ///
    /// `w` is unlinked and stays alive and in place until it is unlinked again: by a
    /// waker, or by its owner through [`remove`](Locked::remove).
    #[inline]
    pub(crate) unsafe fn push_back(&mut self, w: &Waiter) {
        debug_assert!(!w.linked.get());
        w.prev.set(self.tail);
        w.next.set(ptr::null());
        if self.tail.is_null() {
            self.head = w;
        } else {
            // SAFETY: linked records are alive (the contract, for each of them).
            unsafe { (*self.tail).next.set(w) };
        }
        self.tail = w;
        w.linked.set(true);
    }

    /// Links `w` at the front: a waiter that already waited and lost goes first.
    ///
    /// # Safety
    ///
    /// As for [`push_back`](Locked::push_back).
    #[inline]
    pub(crate) unsafe fn push_front(&mut self, w: &Waiter) {
        debug_assert!(!w.linked.get());
        w.prev.set(ptr::null());
        w.next.set(self.head);
        if self.head.is_null() {
            self.tail = w;
        } else {
            // SAFETY: linked records are alive.
            unsafe { (*self.head).prev.set(w) };
        }
        self.head = w;
        w.linked.set(true);
    }

    /// Unlinks `w` if no waker has; returns whether it was still linked.
    ///
    /// # Safety
    ///
    /// `w`, if linked, is linked into this queue.
    #[inline]
    pub(crate) unsafe fn remove(&mut self, w: &Waiter) -> bool {
        if !w.linked.get() {
            return false;
        }
        // SAFETY: the contract.
        unsafe { self.unlink(w) };
        true
    }

    /// # Safety
    ///
    /// `w` is linked into this queue.
    #[inline]
    unsafe fn unlink(&mut self, w: *const Waiter) {
        // SAFETY: linked records are alive.
        let w = unsafe { &*w };
        debug_assert!(w.linked.get());
        let (prev, next) = (w.prev.get(), w.next.get());
        if prev.is_null() {
            debug_assert!(ptr::eq(self.head, w));
            self.head = next;
        } else {
            // SAFETY: linked records are alive.
            unsafe { (*prev).next.set(next) };
        }
        if next.is_null() {
            debug_assert!(ptr::eq(self.tail, w));
            self.tail = prev;
        } else {
            // SAFETY: linked records are alive.
            unsafe { (*next).prev.set(prev) };
        }
        w.linked.set(false);
    }

    /// The `data` of the record at the front.
    #[inline]
    pub(crate) fn front(&self) -> Option<usize> {
        // SAFETY: linked records are alive while we hold the lock.
        unsafe { self.head.as_ref() }.map(|w| w.data.get())
    }

    /// How many records from the front in a row satisfy `pred` on their `data`, and
    /// whether any record follows them.
    pub(crate) fn count_front(&self, pred: impl Fn(usize) -> bool) -> (usize, bool) {
        let (mut n, mut cur) = (0, self.head);
        // SAFETY: linked records are alive while we hold the lock.
        while let Some(w) = unsafe { cur.as_ref() } {
            if !pred(w.data.get()) {
                return (n, true);
            }
            n += 1;
            cur = w.next.get();
        }
        (n, false)
    }

    /// Unlinks the front record and wakes it with `token`. The caller **must** unpark
    /// the returned handle, preferably after releasing the lock.
    #[inline]
    pub(crate) fn wake_front(&mut self, token: u32) -> Option<Unparker> {
        let w = self.head;
        if w.is_null() {
            return None;
        }
        // SAFETY: `w` is the head, linked into this queue.
        unsafe { self.unlink(w) };
        // SAFETY: we just unlinked the live record under the lock, and an unlinked
        // record is never woken twice: only whoever unlinks it wakes it.
        Some(unsafe { Waiter::wake(w, token) })
    }

    /// Wakes up to `out.len()` records from the front with `token`, while `pred` holds
    /// for their `data`; puts their handles in `out` and returns how many. The caller
    /// unparks them after releasing the lock, and calls again while more are left: a
    /// million waiters are then woken a batch per hold of the lock, and the first ones
    /// run while the rest are woken.
    pub(crate) fn wake_some(
        &mut self,
        token: u32,
        out: &mut [Option<Unparker>],
        pred: impl Fn(usize) -> bool,
    ) -> usize {
        let mut n = 0;
        while n < out.len() {
            match self.front() {
                Some(data) if pred(data) => {}
                _ => break,
            }
            out[n] = self.wake_front(token);
            n += 1;
        }
        n
    }
}

/// Waiters a batch wake-up frees per hold of a queue's lock.
pub(crate) const BATCH: usize = 32;

/// Unparks a batch filled by [`Locked::wake_some`].
pub(crate) fn unpark_all(batch: &mut [Option<Unparker>]) {
    for u in batch.iter_mut() {
        if let Some(u) = u.take() {
            u.unpark();
        }
    }
}

impl<S> Drop for Locked<S> {
    fn drop(&mut self) {
        // A waiter does not return while linked, and a primitive is dropped only when
        // nobody can reach it, so nobody waits on it.
        debug_assert!(
            self.head.is_null(),
            "gogreen: fatal: a wait queue dropped with waiters"
        );
    }
}
