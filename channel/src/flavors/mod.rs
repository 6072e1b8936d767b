//! The channel flavors: each one a way of storing and handing over messages.
//!
//! `Sender` and `Receiver` (in `channel.rs`) dispatch to one of these by an enum.

pub(crate) mod array;
pub(crate) mod at;
pub(crate) mod list;
pub(crate) mod never;
pub(crate) mod tick;
pub(crate) mod zero;

use std::mem::ManuallyDrop;
use std::time::Instant;

use crate::park::{self, WaitReason};

/// Sleeps until `deadline`, or forever: for the flavors that nobody wakes. `why` is what
/// the park seam is told.
pub(crate) fn sleep_until(deadline: Option<Instant>, why: WaitReason) {
    loop {
        if let Some(d) = deadline
            && Instant::now() >= d
        {
            return;
        }
        // Nobody holds our unparker; wake-ups are stale tokens or the deadline.
        park::park_for(deadline, why);
    }
}

/// Runs a closure when dropped.
///
/// How a flavor releases a slot or a packet *after* moving the message out into the
/// `Result` it returns: `let _release = defer(..); Ok(msg.read())`. The message then moves
/// straight into the caller's `Result`; with the release written between a `let` of that
/// `Result` and its return, the compiler builds the `Result` in a temporary of this frame
/// first, one more copy of the message on the stack.
pub(crate) struct Defer<F: FnOnce()>(ManuallyDrop<F>);

pub(crate) fn defer<F: FnOnce()>(f: F) -> Defer<F> {
    Defer(ManuallyDrop::new(f))
}

impl<F: FnOnce()> Drop for Defer<F> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: taken once, here, and `self` is not used again.
        let f = unsafe { ManuallyDrop::take(&mut self.0) };
        f();
    }
}
