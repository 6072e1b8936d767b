//! The scheduler's side of the timeline (`crate::trace`): what each scheduling event
//! records, in the scheduler's terms — which G, which P, which M's buffer.
//!
//! Every function here is reached only behind `trace::on()` and is kept out of line,
//! so the hot path that calls it pays one load and one branch not taken when tracing
//! is off. The hooks:
//!
//! | where | what |
//! |---|---|
//! | `switch.rs`, `M::switch_from` | the running G's run ends (park, yield, exit); the next G's begins |
//! | `switch.rs`, `switch_to_g0`; `pinned.rs`, waiting in place | a run ends |
//! | `worker.rs`, g0 starting a G; `pinned.rs`, `resume_here` | a run begins |
//! | `blocking.rs`, a call's start and end | the run ends, a run without a P begins; and back |
//! | `ready.rs` | unpark, with an arrow from the waking G |
//! | `spawn.rs` | spawn, with an arrow from the spawning G to the first run |
//! | `worker.rs`, `steal` | steal |
//! | `worker.rs`, `stop_m` | the M sleeps without a P, until handed one |
//! | `blocking.rs`, `sysmon.rs` | hand-off, retake, spare P |
//! | `wake.rs`, `start_m` | an M woken (or a thread started) to run a P |

use super::g::G;
use super::m::{M, Pending, current_m};
use super::p::P;
use crate::trace::{self, End, Kind, NO_P};
use std::sync::atomic::Ordering;

/// `M::switch_from`: `g`'s run on `m` ends as `pending` says; `next`'s begins on `p`.
#[cold]
#[inline(never)]
pub(crate) fn switch(m: &'static M, p: &P, g: &G, next: Option<&G>, pending: Pending) {
    let end = ended(g, pending);
    if let End::Park(why) = end {
        trace::instant(
            Some(&m.trace),
            Kind::Park,
            p.id as u32,
            g.id(),
            u64::from(why),
        );
    }
    match next {
        Some(n) => begin(m, p.id as u32, n, end),
        None => trace::run_end(&m.trace, end),
    }
}

/// A run of `g` begins on `m` and `p` (g0 starting it, or a G resuming in place). The
/// only run still open here is a blocking call's, which `g` is back from (`resume_here`
/// after `blocking::leave_slow`): every other path ends its run before.
#[cold]
#[inline(never)]
pub(crate) fn run_begin(m: &'static M, p: &P, g: &G) {
    begin(m, p.id as u32, g, End::Returned);
}

/// `m`'s run ends, as `pending` (or, for a G that waits in place, its wait) says.
#[cold]
#[inline(never)]
pub(crate) fn run_end(m: &'static M, g: &G, pending: Pending) {
    let end = ended(g, pending);
    if let End::Park(why) = end {
        let p = m.p().map_or(NO_P, |p| p.id as u32);
        trace::instant(Some(&m.trace), Kind::Park, p, g.id(), u64::from(why));
    }
    trace::run_end(&m.trace, end);
}

/// `g` enters a blocking call on `m`, giving its P up: a run without a P begins.
#[cold]
#[inline(never)]
pub(crate) fn blocking_begin(m: &'static M, g: &G) {
    trace::run_begin(&m.trace, NO_P, g.id(), g.name(), 0, End::Blocking);
}

/// `g` is back from a blocking call on `m`, holding `p` again.
#[cold]
#[inline(never)]
pub(crate) fn blocking_end(m: &'static M, p: &P, g: &G) {
    begin(m, p.id as u32, g, End::Returned);
}

/// `g` was made runnable by code on `m` (off any M: `None`): an unpark, with an arrow
/// from the waking G if a G woke it.
#[cold]
#[inline(never)]
pub(crate) fn unpark(m: Option<&'static M>, g: &G) {
    wake(m, g, Kind::Unpark);
}

/// `g` was just spawned by code on `m` (off any M: `None`).
#[cold]
#[inline(never)]
pub(crate) fn spawn(m: Option<&'static M>, g: &G) {
    wake(m, g, Kind::Spawn);
}

/// `p` (held by `m`) stole `n` Gs from `victim`.
#[cold]
#[inline(never)]
pub(crate) fn steal(m: &'static M, p: &P, victim: &P, n: u64) {
    trace::instant(
        Some(&m.trace),
        Kind::Steal,
        p.id as u32,
        n,
        victim.id as u64,
    );
}

/// `m` handed `p` to another M at the start of a blocking call.
#[cold]
#[inline(never)]
pub(crate) fn handoff(m: &'static M, p: &P) {
    trace::instant(Some(&m.trace), Kind::Handoff, p.id as u32, 0, 0);
}

/// sysmon took `p` back from a blocking call.
#[cold]
#[inline(never)]
pub(crate) fn retake(p: &P) {
    trace::instant(None, Kind::Retake, p.id as u32, 0, 0);
}

/// sysmon put `spare` in play for `stuck`.
#[cold]
#[inline(never)]
pub(crate) fn spare(spare: usize, stuck: &P) {
    trace::instant(None, Kind::Spare, spare as u32, 0, stuck.id as u64);
}

/// P `p` was handed to the sleeping M `m`, or to a new thread (`None`), by the caller.
#[cold]
#[inline(never)]
pub(crate) fn start_m(p: usize, m: Option<&M>) {
    let by = current_m().map(|c| &c.trace);
    trace::instant(
        by,
        Kind::StartM,
        p as u32,
        m.map_or(0, |m| m.id as u64 + 1),
        0,
    );
}

/// `m` gave its P up and sleeps (`worker::stop_m`).
#[cold]
#[inline(never)]
pub(crate) fn idle_begin(m: &'static M) {
    trace::idle_begin(&m.trace);
}

/// `m` was handed a P and runs on.
#[cold]
#[inline(never)]
pub(crate) fn idle_end(m: &'static M) {
    trace::idle_end(&m.trace);
}

/// Begins `g`'s run on `m` and P `p`, ending the previous one for `prev`; the arrow
/// left in `g`'s header, if any, ends here.
fn begin(m: &'static M, p: u32, g: &G, prev: End) {
    // This M holds `g`: whoever left the id queued `g` after (Release), and this M
    // popped it (Acquire) — plain load and store suffice.
    let flow = g.trace_flow.load(Ordering::Relaxed);
    if flow != 0 {
        g.trace_flow.store(0, Ordering::Relaxed);
    }
    trace::run_begin(&m.trace, p, g.id(), g.name(), flow, prev);
}

fn wake(m: Option<&'static M>, g: &G, kind: Kind) {
    let p = m.and_then(M::p).map_or(NO_P, |p| p.id as u32);
    // An arrow only from a G: from g0 (timers, the poller) or off the runtime there is
    // no slice to start it.
    let arrow = m.is_some_and(|m| m.curg().is_some());
    let flow = trace::wake(m.map(|m| &m.trace), kind, p, g.id(), g.name(), arrow);
    if flow != 0 {
        // The caller holds `g` until it queues it (which publishes this, Release).
        g.trace_flow.store(flow, Ordering::Relaxed);
    }
}

/// How a run that leaves `pending` behind ended.
fn ended(g: &G, pending: Pending) -> End {
    match pending {
        Pending::Park(_) | Pending::ParkUnlock(..) => End::Park(g.wait().0 as u8),
        Pending::Exit(_) => End::Exit,
        Pending::Inject(_) => End::Returned,
        Pending::Yield(_) | Pending::None => End::Yield,
    }
}
