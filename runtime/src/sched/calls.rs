//! What a green thread calls about itself: who am I, park me, let others run.

use super::g::G;
use super::m::{Pending, current_m};
use super::runtime::runtime;
use super::wake::unpark_m;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// The running G, if the caller is one.
#[inline]
pub(crate) fn current_g() -> Option<&'static G> {
    current_m().and_then(|m| m.curg())
}

#[inline]
pub(crate) fn in_green_thread() -> bool {
    current_g().is_some()
}

/// The task-local map slot of the running G, if the caller is one.
#[inline]
pub(crate) fn current_locals() -> Option<*mut *mut ()> {
    // SAFETY: the caller is the running G, which alone uses its slot.
    current_g().map(|g| unsafe { g.locals_slot() })
}

/// Parks the running G until unparked or until `deadline` (see `state.rs`). May return
/// spuriously. Returns `false`, doing nothing, if the caller is not a G.
pub(crate) fn park_current(deadline: Option<Instant>) -> bool {
    let Some(m) = current_m() else { return false };
    let Some(g) = m.curg() else { return false };
    if g.state.take_token() {
        return true;
    }
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
            unpark_m(rt, unsafe { &*(sleeper as *const super::m::M) });
        }
        timed = Some(seq);
    }
    let next = m.next_local(rt);
    m.switch_from(g, next, Pending::Park(g));
    if let Some(seq) = timed {
        // The timer, if still pending, is now stale: it will not wake a later park.
        g.park_seq.store(seq.wrapping_add(1), Ordering::Release);
    }
    true
}

/// Lets the other runnable Gs of this P run before the caller continues. Returns
/// `false` if the caller is not a G.
pub(crate) fn yield_current() -> bool {
    let Some(m) = current_m() else { return false };
    let Some(g) = m.curg() else { return false };
    let rt = runtime();
    match m.next_local(rt) {
        Some(next) => m.switch_from(g, Some(next), Pending::Yield(g)),
        // A retired P is given up on g0, even when nothing else waits.
        None if m.p().is_some_and(|p| p.retired.load(Ordering::Relaxed)) => {
            m.switch_from(g, None, Pending::Yield(g))
        }
        None => {}
    }
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
