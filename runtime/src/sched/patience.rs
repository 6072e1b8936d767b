//! Patience's limits — which rings a thief leaves to their owner, and for how long —
//! and the owner's side of it: a G pushed out of `runnext` onto such a ring wakes no
//! thief (L1). The protocol, and why nothing is stranded, are in `steal.rs`.

use super::p::P;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Rings holding at most this many Gs are left to an owner that is getting to them.
pub(crate) const PATIENT_RING: usize = 4;
/// An owner that has not switched Gs for this long is stuck in one: its ring is taken.
/// (Go's thief waits 3 µs before it takes a running P's `runnext`.)
pub(crate) const STUCK: Duration = Duration::from_micros(5);
/// A small ring nothing has left for this long is taken, however busy its owner.
pub(crate) const PATIENCE: Duration = Duration::from_micros(50);

/// L1: whether a G just pushed out of `runnext` onto `p`'s ring may go without a
/// wake-up, left to `p`'s owner: the ring is small, and since the previous G pushed out
/// the owner switched Gs or took from its ring — or that push was less than
/// [`PATIENCE`] ago. Otherwise one G has run that long without switching, pushing out
/// the Gs it readies: it computes between them, and they are work for a thief.
///
/// # Safety
///
/// The caller's M holds `p` (and does not keep a borrow of `p.local()` across the call).
#[inline]
pub(crate) unsafe fn left_to_owner(p: &P) -> bool {
    if p.runq.len() > PATIENT_RING {
        return false;
    }
    // SAFETY: per the contract.
    let local = unsafe { p.local() };
    // Relaxed: the owner's own counter.
    let tick = p.schedtick.load(Ordering::Relaxed);
    let now = Instant::now();
    let (pops, tick_then, then) = local.last_displaced;
    local.last_displaced = (local.ring_pops, tick, now);
    pops != local.ring_pops || tick != tick_then || now.duration_since(then) < PATIENCE
}
