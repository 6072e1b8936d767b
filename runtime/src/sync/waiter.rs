//! A blocked caller's record, on its own stack: how to wake it, and what a waker did for it.
//!
//! Every primitive of this module blocks the same way. The caller builds one [`Waiter`]
//! in its own frame, links it into the primitive's [`WaitQueue`](super::queue::WaitQueue)
//! under the queue's lock, releases that lock, and [`Waiter::wait`]s. Nothing is
//! allocated per wait, and a green thread's stack never moves, so the record stays put.
//!
//! # Who may touch a record
//!
//! - The owner creates it, sets [`Waiter::data`] before linking it, and is the only one
//!   who frees it (by returning).
//! - While it is linked, whoever holds the queue's lock may read it and may *wake* it:
//!   unlink it, clone its unparker, then store a nonzero token in `token` (Release).
//!   After that store the waker touches the record no more: the owner may see the token,
//!   return, and free the frame. The waker wakes the owner through its clone.
//! - The owner does not return while the record is linked. It leaves either because a
//!   waker stored a token, or — for waits that can time out — by taking the queue's lock
//!   and unlinking the record itself; if it finds it already unlinked, a waker won the
//!   race, and the token is there (the waker stored it before releasing the lock).

use crate::loom::{AtomicU32, Cell, Ordering};
use gogreen_channel::park::{self, Unparker, WaitReason};
use std::ptr;
use std::time::Instant;

/// The token of a record nobody has woken yet. Wakers store anything else.
pub(crate) const WAITING: u32 = 0;

/// One blocked caller.
pub(crate) struct Waiter {
    /// [`WAITING`] until a waker stores its token, once, under the queue's lock.
    token: AtomicU32,
    /// Set at creation, never changed; wakers clone it.
    unparker: Unparker,
    /// What the owner waits for, told to the park seam (task dumps).
    why: WaitReason,
    /// What the owner asks for (a semaphore's permit count, a read or a write, a
    /// ticket), for wakers to read under the queue's lock. Written by the owner before
    /// linking, or under the lock.
    pub(crate) data: Cell<usize>,
    /// Links, under the queue's lock.
    pub(super) prev: Cell<*const Waiter>,
    pub(super) next: Cell<*const Waiter>,
    pub(super) linked: Cell<bool>,
}

impl Waiter {
    /// A record for the calling context (a green thread, an OS thread or a loom
    /// thread), which waits for `why`.
    #[inline]
    pub(crate) fn new(data: usize, why: WaitReason) -> Waiter {
        Waiter {
            token: AtomicU32::new(WAITING),
            unparker: park::current(),
            why,
            data: Cell::new(data),
            prev: Cell::new(ptr::null()),
            next: Cell::new(ptr::null()),
            linked: Cell::new(false),
        }
    }

    /// What a waker stored, or [`WAITING`].
    #[inline]
    pub(crate) fn token(&self) -> u32 {
        // Acquire pairs with the waker's Release store in `wake`: what the waker (and
        // whoever it synchronised with: an unlocking holder) wrote is visible now.
        self.token.load(Ordering::Acquire)
    }

    /// Parks until a waker stores a token, and returns it; or returns `None` once
    /// `deadline` has passed. The caller must then unlink the record itself, under the
    /// queue's lock — or find that a waker beat it to it.
    ///
    /// Under loom, which does not model time, a timed wait parks once (a yield) and then
    /// counts as expired: the models explore the time-out races deterministically.
    #[inline(never)]
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> Option<u32> {
        loop {
            let t = self.token();
            if t != WAITING {
                return Some(t);
            }
            if let Some(end) = deadline
                && !cfg!(loom)
                && Instant::now() >= end
            {
                return None;
            }
            // A wake-up may come before we park (it leaves a token) or be stale (from an
            // earlier wait of this context): either way the loop re-checks.
            park::park_for(deadline, self.why);
            if cfg!(loom) && deadline.is_some() {
                let t = self.token();
                return (t != WAITING).then_some(t);
            }
        }
    }

    /// Wakes the owner of a record that the caller has just unlinked: stores `token`,
    /// and returns the handle the caller must unpark the owner with (after releasing the
    /// queue's lock, preferably).
    ///
    /// # Safety
    ///
    /// `this` points to a live record that the caller unlinked under the queue's lock,
    /// which it still holds, and that no waker has woken yet.
    #[inline]
    pub(super) unsafe fn wake(this: *const Waiter, token: u32) -> Unparker {
        debug_assert_ne!(token, WAITING);
        // SAFETY: live until the store below, per the contract.
        let unparker = unsafe { (*this).unparker.clone() };
        // Not through `&Waiter`: once the store lands the owner may return and free the
        // record while this function still runs, and a reference argument would promise
        // the whole record stays valid until then. `&AtomicU32` promises nothing of the
        // sort (the same reasoning as `Arc`'s drop).
        // SAFETY: live until this store, per the contract.
        let token_word: &AtomicU32 = unsafe { &(*this).token };
        // Release pairs with the Acquire in `token`.
        token_word.store(token, Ordering::Release);
        unparker
    }
}
