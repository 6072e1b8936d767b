//! Gs that keep their M: a thread-locked G (Go's `LockOSThread`) and a panicking G.
//! When one of them waits, its M waits with it and its P goes to another M.
//!
//! # Why a G must stay
//!
//! std ties some state to the OS thread: `thread_local!` values, `thread::current()`,
//! reentrant locks (`stdout().lock()`), and the panic count. A G that holds one of
//! them across a switch breaks it: another G on the same M sees its state, or it
//! resumes on another M with the wrong one. So the runtime never switches away from:
//!
//! - a **locked** G ([`lock_current`] — `gogreen::lock_os_thread`, or
//!   `Builder::locked`): the user asked to keep its thread;
//! - a **panicking** G (`std::thread::panicking()`): std counts panics per thread,
//!   and while a G unwinds the count is raised on its M. Switched away mid-unwind,
//!   every G run on that M would see `panicking() == true` and poison the
//!   `std::sync::Mutex`es it unlocks, and the unwinding G, resumed on another M, would
//!   lower that M's count below zero (std's count wraps, and real panics stop
//!   poisoning); a panic hook that parked would make the next panic on that M abort
//!   ("panicked while processing panic").
//!
//! [`must_stay`] is checked where every park and yield goes through (`calls.rs`:
//! `park_current`, `yield_current`; the channel seam's hooks, joins, sleeps,
//! `WaitGroup` and yields all end there), so no other path needs to know.
//!
//! # Parking in place ([`park_in_place`])
//!
//! The G parks through the same status word as any G (`state.rs`), so its unparker,
//! its timers and every waker work unchanged; only the switch is replaced:
//!
//! - P1. The G writes its M into its saved-stack-pointer slot, tagged
//!   ([`G::pin_to`]): "whoever holds me, hand me a P; never switch to my stack".
//! - P2. `commit_park`: `ACTIVE` → `WAITING` (Release publishes P1), or, if an unpark
//!   left a token, return at once with the P still held.
//! - P3. The M gives its P away (`handoff.rs`: to an M if work waits, else idle).
//! - P4. The M sleeps until a P is handed to it ([`wait_for_p`]: its `nextp`
//!   mailbox, then its parker).
//! - P5. It takes the P and runs the G on, on the same stack and thread.
//!
//! The waker, unchanged: an unpark that wins `WAITING` → `ACTIVE` queues the G like any
//! other. Whoever pops it (`switch.rs`, `begin_run`) sees the tag and, instead of
//! switching to it:
//!
//! - Q1. gives its own P to the G's M — `nextp`, Release, then unpark its parker —
//!   from g0 (the popping M may be in the middle of a switch on another G's stack, whose
//!   pending work still needs the P; it goes to g0 first, with the G in
//!   `M::handback`);
//! - Q2. has no P any more, and sleeps (`worker.rs`, T5).
//!
//! Why no wake-up is lost: P2 is the park protocol's step 3 done by the G's own M on
//! the G's own stack — allowed because the tag forbids anyone else to switch to the
//! stack, so "queued" no longer means "someone will resume this stack". An unpark
//! before P2 leaves a token (P2 fails); after P2 it queues the G, and the popper's Q1
//! either lands before P4 looks (P4 finds `nextp`) or after (the parker keeps the
//! unpark as a token). Q1's Release pairs with P4's Acquire swap of `nextp`: the M sees
//! the P as its last owner left it. A G popped while its M is still in P3 costs
//! nothing: the M holds two Ps for a moment, gives the old one away, takes the new.
//!
//! # Yielding in place ([`yield_in_place`])
//!
//! If anything else waits for the P, the G tags itself (P1), goes to the tail of the
//! *global* queue — so everything queued runs before it, as after Go's `Gosched` —
//! gives its P to an M (H1 of `handoff.rs`: there is work), and waits (P4–P5).
//!
//! # A locked G that exits
//!
//! Its M ends its thread (`worker.rs`), as Go does, rather than run other Gs on a
//! thread whose state the G may have changed: its `thread_local!` values are dropped
//! then, as a `std::thread`'s are.
//!
//! Rejected: parking a locked G like any other and letting only its own M run it
//! (Go's `lockedm`, checked by the M that pops it — which is what the tag does, without
//! a field for it); keeping the G's P while it waits (the other Gs of that P would
//! wait too — the point of the issue); running a panicking G's waits on the OS-thread
//! parker (its unparker was handed out as a G's before it parked, and the G's P would
//! sit idle with it).
//!
//! `loom-tests/tests/sched_pinned.rs` models P1–P5 against an unpark and Q1.

use super::g::G;
use super::handoff::give_up_p;
use super::m::{M, Pending, current_m};
use super::runtime::Runtime;
use super::traced;
use std::ptr;
use std::sync::atomic::Ordering;

/// Whether the G running on `m` must not leave it: locked, or panicking.
#[inline]
pub(crate) fn must_stay(m: &M) -> bool {
    m.locked.get() != 0 || std::thread::panicking()
}

/// P1–P5: parks `g`, running on `m` with a P, without leaving `m`. Returns once `g` is
/// unparked (or at once, if a token was waiting) and `m` holds a P again. The caller
/// already armed a timer if the park has a deadline.
#[cold]
#[inline(never)]
pub(crate) fn park_in_place(rt: &'static Runtime, m: &'static M, g: &'static G) {
    g.pin_to(m as *const M as usize); // P1
    if !g.state.commit_park() {
        g.unpin();
        return; // P2: woken meanwhile; the P is still ours.
    }
    if crate::trace::on() {
        traced::run_end(m, g, Pending::Park(g));
    }
    release_p(rt, m); // P3
    wait_for_p(rt, m); // P4
    resume_here(m, g); // P5
}

/// Lets the Gs waiting for `m`'s P run before `g`, without leaving `m`. Returns at once
/// if nothing waits.
#[cold]
#[inline(never)]
pub(crate) fn yield_in_place(rt: &'static Runtime, m: &'static M, g: &'static G) {
    let Some(p) = m.p() else {
        crate::fatal!("yielding in place without a P")
    };
    if !p.runq.has_work() && rt.inject.is_empty() && !p.retired.load(Ordering::Relaxed) {
        return;
    }
    g.pin_to(m as *const M as usize); // P1
    // Queued: whoever pops it now holds it (and hands a P back, Q1).
    rt.inject.push(g as *const G as *mut G);
    if crate::trace::on() {
        traced::run_end(m, g, Pending::Yield(g));
    }
    release_p(rt, m); // H1 finds the work, and starts an M on the P.
    wait_for_p(rt, m);
    resume_here(m, g);
}

/// P3: gives away the P `m` holds.
fn release_p(rt: &'static Runtime, m: &M) {
    let p = m.p.replace(ptr::null());
    // SAFETY: Ps live in the runtime, which is never dropped.
    match unsafe { p.as_ref() } {
        Some(p) => give_up_p(rt, p),
        None => crate::fatal!("a pinned G gave up a P it did not hold"),
    }
}

/// P4: sleeps until a P is handed to `m` (Q1), and takes it.
pub(crate) fn wait_for_p(rt: &'static Runtime, m: &M) {
    debug_assert!(m.p.get().is_null());
    loop {
        // Acquire pairs with Q1's Release store (`wake::start_m`).
        let p = m.nextp.swap(0, Ordering::Acquire);
        if p != 0 {
            debug_assert!(!m.nextspin.load(Ordering::Relaxed));
            m.p.set(&rt.ps[p - 1]);
            return;
        }
        m.parker.park(None);
    }
}

/// P5: `g` runs on `m` again, on the P just handed over.
pub(crate) fn resume_here(m: &'static M, g: &G) {
    debug_assert!(ptr::eq(m.curg.get(), g));
    g.unpin();
    if let Some(p) = m.p() {
        if crate::trace::on() {
            traced::run_begin(m, p, g);
        }
        // A scheduling event, as a switch-in is: sysmon must not think the P stuck.
        p.schedtick.store(
            p.schedtick.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
    }
}

/// `gogreen::lock_os_thread`: one more level of locking for the running G. Returns
/// `false` if the caller is not a G.
pub(crate) fn lock_current() -> bool {
    let Some(m) = current_m() else { return false };
    if m.curg.get().is_null() {
        return false;
    }
    match m.locked.get().checked_add(1) {
        Some(n) => m.locked.set(n),
        None => crate::fatal!("lock_os_thread nested more than {} times", u32::MAX),
    }
    true
}

/// `gogreen::unlock_os_thread`: one level less (none left: nothing happens, as in Go).
/// Returns `false` if the caller is not a G.
pub(crate) fn unlock_current() -> bool {
    let Some(m) = current_m() else { return false };
    if m.curg.get().is_null() {
        return false;
    }
    m.locked.set(m.locked.get().saturating_sub(1));
    true
}

/// Whether the running G is locked to its thread (`false` off the runtime).
pub(crate) fn is_locked() -> bool {
    current_m().is_some_and(|m| !m.curg.get().is_null() && m.locked.get() != 0)
}
