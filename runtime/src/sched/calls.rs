//! What a green thread calls about itself: who am I, park me, let others run.
//!
//! Every wait of a G — the channel seam's `park` (`hooks.rs`), a join, a `WaitGroup`,
//! `sleep` — ends in [`park_current`], and every yield — `yield_now`, the seam's
//! `snooze`, `preempt_point` — in [`yield_current`]. Both decide here, once, how the
//! caller waits:
//!
//! - a G that holds no P (inside `blocking`, `blocking.rs`) declines: the caller waits
//!   as a plain OS thread would;
//! - a G that must not leave its M (locked or panicking, `pinned.rs`) waits in place:
//!   its M waits with it and its P goes to another M;
//! - any other G switches to the next G of its P.

use super::clock::coarse_ms;
use super::g::G;
use super::m::{M, Pending, current_m};
use super::pinned::{must_stay, park_in_place, yield_in_place};
use super::runtime::runtime;
use super::wake::unpark_m;
use gogreen_channel::park::WaitReason;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// The running G, if the caller is one (also inside a blocking call).
#[inline]
pub(crate) fn current_g() -> Option<&'static G> {
    current_m().and_then(|m| m.curg())
}

/// The running G and its M, if the caller is a G that holds a P: one that waits as a
/// green thread. A G inside a blocking call holds none.
#[inline]
pub(crate) fn schedulable() -> Option<(&'static M, &'static G)> {
    let m = current_m()?;
    let g = m.curg()?;
    m.p()?;
    Some((m, g))
}

/// Whether the caller waits as a green thread (see [`schedulable`]).
#[inline]
pub(crate) fn in_green_thread() -> bool {
    schedulable().is_some()
}

/// The task-local map slot of the running G, if the caller is one.
#[inline]
pub(crate) fn current_locals() -> Option<*mut *mut ()> {
    // SAFETY: the caller is the running G, which alone uses its slot.
    current_g().map(|g| unsafe { g.locals_slot() })
}

/// Parks the running G until unparked or until `deadline` (see `state.rs`), waiting for
/// `why` (which the G keeps, for observers). May return spuriously. Returns `false`,
/// doing nothing, if the caller does not wait as a green thread (see the module docs).
pub(crate) fn park_current(deadline: Option<Instant>, why: WaitReason) -> bool {
    let Some((m, g)) = schedulable() else {
        return false;
    };
    if g.state.take_token() {
        return true;
    }
    g.set_wait(why, coarse_ms());
    let rt = runtime();
    let mut timed = None;
    if let Some(d) = deadline {
        let when = rt.instant_to_ns(d);
        if when <= rt.now() {
            return true;
        }
        let seq = g.park_seq.load(Ordering::Relaxed).wrapping_add(1);
        g.park_seq.store(seq, Ordering::Release);
        let Some(p) = m.p() else {
            crate::fatal!("a running G without a P")
        };
        // A1 of the timer-sleeper protocol (`sleeper.rs`), then A2–A3.
        p.timers.add(when, g, g.state.generation(), seq);
        if let Some(sleeper) = rt.sleeper.timer_added(when) {
            // SAFETY: sleeper tokens are addresses of Ms, which are never freed.
            unpark_m(rt, unsafe { &*(sleeper as *const M) });
        }
        timed = Some(seq);
    }
    if let Some(p) = m.p() {
        p.counters.parks.bump();
    }
    if must_stay(m) {
        park_in_place(rt, m, g);
    } else {
        let next = m.next_local(rt);
        m.switch_from(g, next, Pending::Park(g));
    }
    if let Some(seq) = timed {
        // The timer, if still pending, is now stale: it will not wake a later park.
        g.park_seq.store(seq.wrapping_add(1), Ordering::Release);
    }
    true
}

/// Parks the running G, which holds the lock its only waker must take, and has its M
/// release it after the park is committed: "Parking under the waker's lock" in
/// `state.rs`. Returns `false`, doing nothing (the lock still held), if the caller does
/// not wait as a green thread, or must stay on its M (`pinned.rs`, which parks in
/// place): the caller then unlocks and parks the usual way.
///
/// # Safety
///
/// `unlock(lock)` releases that lock, from any thread, and `lock` outlives the wait
/// (it is not on the G's stack): the M calls it after the switch, while the G may
/// already run elsewhere (woken by a stale unparker).
pub(crate) unsafe fn park_current_unlocking(
    why: WaitReason,
    unlock: unsafe fn(*const ()),
    lock: *const (),
) -> bool {
    let Some((m, g)) = schedulable() else {
        return false;
    };
    if must_stay(m) {
        return false;
    }
    // A token here is a stale unparker's (the waker needs the lock): the commit drops it.
    g.set_wait(why, coarse_ms());
    if let Some(p) = m.p() {
        p.counters.parks.bump();
    }
    let next = m.next_local(runtime());
    m.held_lock.set(Some((unlock, lock)));
    m.switch_from(g, next, Pending::ParkUnlock(g));
    true
}

/// Lets the other runnable Gs of this P run before the caller continues. Returns
/// `false` if the caller does not wait as a green thread.
#[inline]
pub(crate) fn yield_current() -> bool {
    let Some(m) = current_m() else { return false };
    let Some(g) = m.curg() else { return false };
    if must_stay(m) {
        return yield_pinned(m, g);
    }
    match m.next_local(runtime()) {
        Some(next) => m.switch_from(g, Some(next), Pending::Yield(g)),
        None => match m.p() {
            // No P: inside a blocking call (checked here, off the hot path).
            None => return false,
            // A retired P is given up on g0, even when nothing else waits.
            Some(p) if p.retired.load(Ordering::Relaxed) => {
                m.switch_from(g, None, Pending::Yield(g))
            }
            Some(_) => {}
        },
    }
    true
}

/// `yield_current` for a G that must stay on its M.
#[cold]
fn yield_pinned(m: &'static M, g: &'static G) -> bool {
    if m.p().is_none() {
        return false; // Inside a blocking call.
    }
    yield_in_place(runtime(), m, g);
    true
}

/// Yields if sysmon found that this G has held its P for too long.
#[inline]
pub(crate) fn preempt_point() {
    if let Some(p) = current_m().and_then(|m| if m.curg.get().is_null() { None } else { m.p() })
        && p.preempt.load(Ordering::Relaxed)
    {
        p.preempt.store(false, Ordering::Relaxed);
        yield_current();
    }
}
