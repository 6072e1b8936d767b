//! Counts of a channel's senders and receivers: the last of either side closes its side.

use std::sync::atomic::Ordering;

use crate::loom::{Arc, AtomicUsize};

/// A channel flavor with its handle counts; every `Sender` and `Receiver` holds an `Arc`.
pub(crate) struct Counter<C> {
    /// Live `Sender`s. Incremented by a clone, decremented by a drop.
    senders: AtomicUsize,
    /// Live `Receiver`s.
    receivers: AtomicUsize,
    pub(crate) chan: C,
}

impl<C> Counter<C> {
    /// A channel with one sender and one receiver.
    pub(crate) fn new(chan: C) -> Arc<Self> {
        Arc::new(Counter {
            senders: AtomicUsize::new(1),
            receivers: AtomicUsize::new(1),
            chan,
        })
    }

    pub(crate) fn acquire_sender(&self) {
        // Relaxed, as for `Arc::clone`: the new handle comes from a live one.
        self.senders.fetch_add(1, Ordering::Relaxed);
    }

    /// Drops one sender; returns `true` if it was the last, and the caller **must** then
    /// close the sending side.
    pub(crate) fn release_sender(&self) -> bool {
        // AcqRel: the closing thread sees everything the other senders did.
        self.senders.fetch_sub(1, Ordering::AcqRel) == 1
    }

    pub(crate) fn acquire_receiver(&self) {
        self.receivers.fetch_add(1, Ordering::Relaxed);
    }

    /// Drops one receiver; returns `true` if it was the last, and the caller **must** then
    /// close the receiving side.
    pub(crate) fn release_receiver(&self) -> bool {
        self.receivers.fetch_sub(1, Ordering::AcqRel) == 1
    }
}
