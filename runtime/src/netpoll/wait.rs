//! A green thread waiting on a poll descriptor: steps R3–R6 of `slot.rs`, parked through
//! the scheduler's park (`sched/state.rs`), with a timer for the deadline.
//!
//! The node the G lists lives in this function's frame: it stays put while the G is
//! parked, and the function returns only once the node is off the list — taken by a
//! report, or unlinked here after the deadline.

use super::desc::Waiter;
use super::slot::{Node, Settled, Slot};
use crate::sched::{current_g, park_current, runtime};
use gogreen_channel::park::WaitReason;
use std::time::Instant;

/// How a wait ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Waited {
    /// A report came after the epoch the caller read: try the system call again.
    Retry,
    /// The deadline passed first.
    TimedOut,
}

/// Parks the calling green thread until a report on `slot` comes after `epoch` (read
/// before the caller's last attempt, step R1), or until `deadline`.
pub(crate) fn wait(slot: &Slot<Waiter>, epoch: u32, deadline: Option<Instant>) -> Waited {
    let Some(g) = current_g() else {
        crate::fatal!("waiting for I/O readiness outside a green thread")
    };
    let node = Node::new(Waiter {
        g,
        generation: g.state.generation(),
    });
    // SAFETY: `node` stays in this frame, unmoved, until `settle` below says it is off
    // the list.
    if !unsafe { slot.enlist(epoch, &node) } {
        return Waited::Retry;
    }
    let poller = &runtime().netpoll;
    poller.waiter_added();
    let waited = loop {
        park_current(deadline, WaitReason::Io);
        let expired = deadline.is_some_and(|d| Instant::now() >= d);
        // SAFETY: listed by `enlist`; we stop at the first answer other than Waiting.
        match unsafe { slot.settle(&node, expired) } {
            Settled::Woken => break Waited::Retry,
            Settled::GaveUp => break Waited::TimedOut,
            Settled::Waiting => {}
        }
    };
    poller.waiter_removed();
    waited
}
