//! A poll descriptor (Go's `pollDesc`): what the poller knows of one registered fd — a
//! slot per direction — and the token its reports carry back to it.
//!
//! The token is the descriptor's index in the table (`cache.rs`) and the generation it
//! serves now: a descriptor outlives its fd and is reused for another, and a report
//! that was on its way when the first fd closed must not reach the second one's
//! waiters (the generation check of `slot.rs`, step P1).

use super::slot::Slot;
use crate::sched::g::G;

/// A G waiting in a slot: the G and the task generation it waits in, so that a report
/// reaching it after its task ended wakes nothing (`state.rs`).
#[derive(Clone, Copy)]
pub(crate) struct Waiter {
    pub(crate) g: &'static G,
    pub(crate) generation: u32,
}

/// Which way an fd is waited on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dir {
    Read,
    Write,
}

/// One registered fd's readiness. A cache line each, so that two connections served on
/// two processors do not share one.
#[repr(align(64))]
pub(crate) struct Desc {
    read: Slot<Waiter>,
    write: Slot<Waiter>,
    /// Where the descriptor sits in the table; fixed for its life.
    pub(crate) index: u32,
}

impl Desc {
    pub(crate) fn new(index: u32) -> Self {
        Desc {
            read: Slot::new(),
            write: Slot::new(),
            index,
        }
    }

    #[inline]
    pub(crate) fn slot(&self, dir: Dir) -> &Slot<Waiter> {
        match dir {
            Dir::Read => &self.read,
            Dir::Write => &self.write,
        }
    }

    /// The token of this descriptor's reports for the fd it serves now.
    pub(crate) fn token(&self) -> u64 {
        (u64::from(self.index) << 32) | u64::from(self.read.generation())
    }

    /// Takes the descriptor from its fd: the next one gets a new generation, and any
    /// report still on its way for the old fd is ignored. Nobody may be waiting.
    pub(crate) fn retire(&self) {
        let next = self.read.generation().wrapping_add(1);
        self.read.reset(next);
        self.write.reset(next);
    }
}

/// A report's token, split into the descriptor's index and the generation it was for.
#[inline]
pub(crate) fn split_token(token: u64) -> (u32, u32) {
    ((token >> 32) as u32, token as u32)
}
