//! Giving a P away: to an M that runs what waits for it, or to the idle list (Go's
//! `handoffp`); and retiring a P that sysmon replaced by a spare.
//!
//! Whoever gives a P up here owns it and will not run Gs on it: an M whose G blocks it
//! (`blocking.rs`, `pinned.rs`), sysmon after winning a blocking call's P
//! (`syscall.rs`), or an M whose thread ends. The P must not be left where nobody
//! looks while work waits for it.
//!
//! # Handing a P off ([`hand_off_p`])
//!
//! - H1. If Gs are queued on the P or on the global queue, or the P has timers that an
//!   M must watch, start an M on it (a sleeping one, else a new thread): this is what
//!   makes the Gs queued behind a blocking call run *at once*.
//! - H2. Otherwise put it on the idle list (T1 of `idle.rs`: under the idle lock,
//!   unless the global queue has work — then keep it and go to H1).
//! - H3. `fence(SeqCst)`, then look at every queue again; if any holds work, wake an
//!   M the way a submitter does (S2–S6).
//!
//! H3 is T3–T4 for an M that never spun: a submitter that pushed while H1 was looking
//! and read `npidle` before H2 woke nobody; but then its fence came after H2's, so
//! H3's look (after H3's fence) sees its work. (Go's `handoffp` starts a spinning M
//! instead when nobody spins and no P is idle; the re-check costs nothing when
//! nothing waits, where a spinning M costs a wake-up.)
//!
//! If no M can be started (the thread limit, `wake.rs`), the P goes to the idle list
//! with its work; running Ms take it when they next look for work, and sysmon wakes
//! an M for work beside an idle P every period.
//!
//! # Retiring a P ([`retire_p`])
//!
//! The other half of sysmon's spares (`sysmon.rs`): the P's queued Gs go to the global
//! queue, its timers to the spare that replaced it, the P back to the spares; and if
//! the global queue has work then, an M is woken for it (S2–S6 of `idle.rs`), as H1
//! would start one — a pinned G that yields queues itself there and counts on it.

use super::p::P;
use super::runtime::Runtime;
use super::sleeper::NEVER;
use super::wake::{start_m, wake_idle, warn_no_thread};
use std::sync::atomic::{Ordering, fence};

/// Gives away `p`, which the caller owns: retires it if sysmon replaced it, else hands
/// it off.
pub(crate) fn give_up_p(rt: &'static Runtime, p: &'static P) {
    if p.retired.load(Ordering::Acquire) {
        retire_p(rt, p);
    } else {
        hand_off_p(rt, p);
    }
}

/// H1–H3: gives `p`, which the caller owns, to an M if work waits for it, else to the
/// idle list.
pub(crate) fn hand_off_p(rt: &'static Runtime, p: &'static P) {
    // H1.
    if p.runq.has_work() || !rt.inject.is_empty() || p.timers.next() != NEVER {
        start_on(rt, p);
        return;
    }
    // H2.
    if !rt.idle.release_p(p.id, || !rt.inject.is_empty()) {
        start_on(rt, p);
        return;
    }
    // H3.
    fence(Ordering::SeqCst);
    if !rt.inject.is_empty() || rt.in_play().any(|q| q.runq.has_work()) {
        wake_idle(rt);
    }
}

/// Starts an M (not spinning) on `p`; if none can be had, `p` goes idle.
fn start_on(rt: &'static Runtime, p: &'static P) {
    if let Err(e) = start_m(rt, p.id, rt.idle.pop_idle_m(), false) {
        warn_no_thread(&e);
        rt.idle.release_p(p.id, || false);
    }
}

/// Gives up a P that sysmon replaced by a spare while its M was stuck in one G; the
/// caller owns it. Its queued Gs go to the global queue, its timers to its successor,
/// the P to the spares (the other half of `sysmon::hand_off`).
pub(crate) fn retire_p(rt: &'static Runtime, p: &'static P) {
    let mut queued: Vec<_> = p.runq.take_runnext().into_iter().collect();
    queued.extend(p.runq.take_all());
    p.timers
        .move_to(&rt.ps[p.successor.load(Ordering::Acquire)].timers);
    p.retired.store(false, Ordering::Relaxed);
    p.in_play.store(false, Ordering::Release);
    rt.spares.lock().push(p.id);
    if !queued.is_empty() {
        rt.inject.push_batch(queued);
    }
    // Whatever waits on the global queue — what the P held, and what its last G left
    // there relying on the P to run it (a pinned G yielding, `pinned.rs`) — needs an M
    // now that this P is out of play: a submitter's S2–S6.
    if !rt.inject.is_empty() {
        wake_idle(rt);
    }
}
