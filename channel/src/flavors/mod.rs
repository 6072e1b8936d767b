//! The channel flavors: each one a way of storing and handing over messages.
//!
//! `Sender` and `Receiver` (in `channel.rs`) dispatch to one of these by an enum.

pub(crate) mod array;
pub(crate) mod at;
pub(crate) mod list;
pub(crate) mod never;
pub(crate) mod tick;
pub(crate) mod zero;

use std::time::Instant;

use crate::park;

/// Sleeps until `deadline`, or forever: for the flavors that nobody wakes.
pub(crate) fn sleep_until(deadline: Option<Instant>) {
    loop {
        if let Some(d) = deadline
            && Instant::now() >= d
        {
            return;
        }
        // Nobody holds our unparker; wake-ups are stale tokens or the deadline.
        park::park(deadline);
    }
}
