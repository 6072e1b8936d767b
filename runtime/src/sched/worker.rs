//! The M's life: find a runnable G, run it until the M comes back to its own stack
//! (g0), repeat; sleep when there is nothing to do.
//!
//! Finding work, in order ([`find_runnable`]): the P's own queues (`M::next_local`:
//! `runnext`, the ring, a batch of the global queue), its due timers, then — spinning,
//! at most half as many spinners as busy Ps — other Ps' rings (`steal.rs`: half of a
//! random victim's, leaving a small ring to an owner that is getting to it; while Gs
//! wait on I/O and every other P is idle, again after yielding the core once), and
//! finally give the P up and sleep (steps T1–T5 of `idle.rs`). One sleeping M watches
//! the timers and the poller, blocked in `epoll_wait` (`sleeper.rs`,
//! `netpoll/poller.rs`): I/O readiness reaches the Ms through it, never through a poll
//! that does not wait (see [`find_runnable`]).
//!
//! Between Gs, g0 also hands its P to the M of a pinned G it popped (Q1 of
//! `pinned.rs`), sleeps when it has no P (after that, or when a G back from a blocking
//! call found none), and ends the thread of an M whose locked G exited.

use super::counters::GLOBAL;
use super::g::G;
use super::handoff::{give_up_p, retire_p};
use super::m::M;
use super::p::P;
use super::ready::push_local;
use super::runtime::{Runtime, runtime};
use super::sleeper::NEVER;
use super::steal::{Patience, steal};
use super::switch::{after_switch, enter, run_timers};
use super::traced;
use super::wake::{start_m, wake_idle, wakep};
use crate::stack::overflow;
use std::ptr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How long a spinning M keeps looking before it gives its P up and sleeps.
const IDLE_SPIN: Duration = Duration::from_micros(20);

/// An M's life: take a runnable G, run it until it switches back to g0, repeat. The
/// thread body of every M (`Runtime::m_main`).
pub(crate) fn m_main(m: &'static M, p: usize, spinning: bool) {
    m.bind_thread();
    if let Err(e) = overflow::ensure_altstack() {
        eprintln!(
            "gogreen: warning: no alternate signal stack for M {} ({e}); a stack overflow will not be reported",
            m.id
        );
    }
    let rt = runtime();
    m.p.set(&rt.ps[p]);
    m.spinning.set(spinning);
    loop {
        // Q1 of `pinned.rs`: this M popped a G pinned to another M; that M gets the P.
        let handback = m.handback.replace(ptr::null());
        if !handback.is_null() {
            hand_back(rt, m, handback);
        }
        if m.exiting.get() {
            end_thread(rt, m);
            return;
        }
        if m.p().is_none() {
            stop_m(rt, m);
        }
        let g = find_runnable(rt, m);
        let Some(p) = m.p() else {
            crate::fatal!("find_runnable returned without a P")
        };
        if !m.begin_run(p, g) {
            continue;
        }
        if crate::trace::on() {
            traced::run_begin(m, p, g);
        }
        // SAFETY: `find_runnable` took `g` off a queue, so this M holds it; g0's save
        // slot is this M's own.
        unsafe { enter(m.g0_sp.get(), g, m) };
        // g0 never migrates: whoever switched back to it runs on this M.
        after_switch(m);
    }
}

impl M {
    /// This M found work: if it was spinning it stops, and if it was the last spinner
    /// it wakes another M, since there may be more work (Go's `resetspinning`).
    fn found_work(&self, rt: &'static Runtime) {
        if self.spinning.replace(false) && rt.idle.found_work() && rt.idle.should_wake() {
            wakep(rt);
        }
    }
}

/// Finds a G to run, on g0, holding a P on return. Sleeps when there is nothing.
/// The end of the loop is the "spinning M giving up" side of the idle protocol
/// (steps T1–T5 in `idle.rs`).
fn find_runnable(rt: &'static Runtime, m: &'static M) -> &'static G {
    let mut patience = Patience::default();
    loop {
        let Some(p) = m.p() else {
            crate::fatal!("looking for work without a P")
        };
        if p.retired.load(Ordering::Acquire) {
            m.p.set(ptr::null());
            if m.spinning.replace(false) {
                rt.idle.stop_spinning();
            }
            retire_p(rt, p);
            stop_m(rt, m);
            continue;
        }
        if let Some(g) = m.next_local(rt) {
            m.found_work(rt);
            return g;
        }
        if run_timers(p, rt.now_if_timers(p)) > 0 {
            continue;
        }
        // No poll for I/O here, though Go's `findrunnable` makes one that does not wait
        // (and this loop did, after stealing, until stop 14): the M goes on to give its P
        // up and sleep, and if no other M is blocked in `epoll_wait`, this one becomes
        // the M that is (`stop_m`) — its `epoll_wait` returns at once with any reports
        // already there, and it takes a P back for their Gs (`run_polled`). Nothing
        // waits longer for it. What the extra poll did, on a machine shared with the
        // clients: two Ms whose Ps kept running dry each polled, found a G or two, ran
        // them and polled again, neither ever sleeping — about 1.5 times the CPU per
        // HTTP request in some runs, taken from the clients, and a longer p99 (lower
        // without the poll in 28 of 34 alternated runs; `docs/BENCHMARKS.md`, "Stop
        // 14"). Without it at most one M polls, and the other sleeps until woken for a
        // batch. sysmon still polls if nobody has for 10 ms (every P busy).
        if m.spinning.get() || rt.idle.try_spin() {
            m.spinning.set(true);
            if let Some(g) = steal(rt, m, p, &mut patience) {
                m.found_work(rt);
                return g;
            }
            // Look a little longer before sleeping: waking a sleeping M costs the waker
            // a futex system call, and work often arrives again within microseconds. Not
            // while Gs wait on I/O: that work comes through epoll, which this loop does
            // not watch, and the CPU it would burn is the clients' on a shared machine.
            let until = Instant::now() + IDLE_SPIN;
            while !rt.netpoll.has_waiters() && rt.inject.is_empty() && Instant::now() < until {
                for _ in 0..64 {
                    std::hint::spin_loop();
                }
                if let Some(g) = steal(rt, m, p, &mut patience) {
                    m.found_work(rt);
                    return g;
                }
            }
            // While Gs wait on I/O: let the clients this M's Gs just answered run first.
            if let Some(g) = yield_to_clients(rt, m, p, &mut patience) {
                m.found_work(rt);
                return g;
            }
            // Gs wait on a small ring for an owner that is getting to them: keep looking
            // — own queues and timers first — with this P, spinning, until they are run
            // or stolen (`steal.rs`, "Nothing is stranded"). Between rounds, the core goes
            // to any other thread that wants it: on a busy machine that may be the owner
            // this M waits for, and a spinning thread would take the time it needs.
            if patience.waiting() && !rt.netpoll.has_waiters() {
                std::thread::yield_now();
                continue;
            }
        }
        // T1: give up the P, unless the global queue has work.
        if !rt.idle.release_p(p.id, || !rt.inject.is_empty()) {
            continue;
        }
        m.p.set(ptr::null());
        if m.spinning.replace(false) {
            // T2, T3.
            rt.idle.stop_spinning();
            // T4: re-check every queue.
            if any_work(rt)
                && let Some(pid) = rt.take_idle_p()
            {
                m.p.set(&rt.ps[pid]);
                m.spinning.set(true);
                rt.idle.add_spinning();
                continue;
            }
        }
        // T5.
        stop_m(rt, m);
    }
}

/// A spinning M whose P ran dry while Gs wait on I/O, and every other P is idle too,
/// yields its core once and looks again before it gives its P up.
///
/// What the yield does, as the figures read: the thread most likely waiting for the
/// core is a client that this M's Gs just answered. It runs now, not after this M has
/// gone to sleep, and sends its next requests while this M still holds its P. The M
/// blocked in `epoll_wait` queues them, and this M finds them — in the steal below, or
/// in T4's re-check after it gives its P up — instead of sleeping and being woken for
/// them by a futex call, which on a virtual machine whose idle CPU halts takes tens of
/// microseconds to land. Under `wrk` (one client thread, 100 connections) the yield
/// halved the server's context switches and gave 2–4% more requests per second, a
/// tenth to a fifth off p90 and p99, and 7–8% less server CPU per request
/// (`docs/BENCHMARKS.md`, "Stop 16"). With nobody waiting for the core, it costs one
/// system call.
///
/// Only where it holds up nothing of the runtime's:
/// - Gs wait on I/O: else no client is waiting on this runtime's answers;
/// - an M is blocked in `epoll_wait`: else this M should become that one (`stop_m`),
///   and a report would wait for its yield;
/// - every other P is idle: else their Ms are running Gs, and the clients compete with
///   them for the cores. Without this condition and the one above, the yield raised
///   echo's p99 by a quarter (4,586 µs against 3,617). Gated as here, waiting 10 µs with a yield
///   between steals raised it by about a tenth, and spinning 10 µs raised it too and
///   gained nothing.
fn yield_to_clients(
    rt: &'static Runtime,
    m: &'static M,
    p: &'static P,
    patience: &mut Patience,
) -> Option<&'static G> {
    if !rt.netpoll.has_waiters()
        || !rt.netpoll.is_waited_on()
        || rt.idle.npidle() + 1 < rt.idle.nprocs()
    {
        return None;
    }
    std::thread::yield_now();
    steal(rt, m, p, patience)
}

/// Q1 of `pinned.rs`: gives this M's P to the M that `g` (just popped, so held by
/// this M) is pinned to, and wakes it; this M then has no P.
fn hand_back(rt: &'static Runtime, m: &M, g: *const G) {
    // SAFETY: G headers are never freed; this M holds `g`.
    let Some(owner) = (unsafe { (*g).pinned_to() }) else {
        crate::fatal!("handing a P back for a G that is not pinned")
    };
    let Some(p) = m.p() else {
        crate::fatal!("handing back a P this M does not hold")
    };
    m.p.set(ptr::null());
    // SAFETY: a pin names an M, and Ms are never freed.
    let owner: &'static M = unsafe { &*(owner as *const M) };
    // Cannot fail: an M is given, no thread is started.
    let _ = start_m(rt, p.id, Some(owner), false);
}

/// The thread of an M whose locked G exited ends (`pinned.rs`): its P goes to
/// another M, and the thread's locals are dropped as it returns.
fn end_thread(rt: &'static Runtime, m: &'static M) {
    if let Some(p) = m.p() {
        m.p.set(ptr::null());
        give_up_p(rt, p);
    }
    // From here this thread is a plain one: its thread-locals' destructors, which run
    // after it returns, may call into the runtime, and must not find `m` — which a new
    // thread may be using by then.
    m.unbind_thread();
    rt.live_ms.fetch_sub(1, Ordering::Relaxed);
    rt.dead_ms.lock().push(m);
}

/// Whether any queue or timer has work (T4's re-check).
fn any_work(rt: &Runtime) -> bool {
    !rt.inject.is_empty()
        || rt.in_play().any(|p| !p.runq.ring_is_empty())
        || rt.earliest_timer() <= rt.now()
}

/// T5: sleeps until another thread hands this M a P. Meanwhile, if no other M does,
/// this one watches the timers and the poller (`sleeper.rs`, steps W1–W6): it blocks in
/// `epoll_wait` until the earliest deadline. Gs that I/O reports make runnable it runs
/// itself, on an idle P it takes (or queues them globally if none is idle); when the
/// deadline passes it runs every P's due timers; the Gs they wake go to the global
/// queue, and an M is woken for them as for any G readied off a P — perhaps this one,
/// handed a P through `nextp`.
fn stop_m(rt: &'static Runtime, m: &'static M) {
    GLOBAL.m_sleeps.add(1);
    if crate::trace::on() {
        traced::idle_begin(m);
    }
    sleep_until_p(rt, m);
    if crate::trace::on() {
        traced::idle_end(m);
    }
}

/// `stop_m`'s wait itself.
fn sleep_until_p(rt: &'static Runtime, m: &'static M) {
    rt.idle.push_idle_m(m);
    let me = m as *const M as usize;
    loop {
        let p = m.nextp.swap(0, Ordering::Acquire);
        if p != 0 {
            rt.sleeper.release(me); // W6
            m.p.set(&rt.ps[p - 1]);
            m.spinning.set(m.nextspin.load(Ordering::Relaxed));
            return;
        }
        if !rt.sleeper.claim(me) {
            // W1 lost: another idle M watches the timers.
            m.parker.park(None);
            continue;
        }
        // W2–W4.
        let mut deadline = rt.earliest_timer();
        loop {
            rt.sleeper.publish(deadline);
            let again = rt.earliest_timer();
            if again >= deadline {
                break;
            }
            deadline = again;
        }
        // W5, in `epoll_wait`. Without a deadline the M still holds the role: the first
        // timer added interrupts it (A3), and it re-plans.
        let mut ready = Vec::new();
        m.parker.park_polling(|| {
            let timeout = (deadline != NEVER)
                .then(|| Duration::from_nanos(deadline.saturating_sub(rt.now())));
            rt.netpoll.poll_blocking(timeout, &mut ready);
        });
        if !ready.is_empty() && run_polled(rt, m, ready) {
            rt.sleeper.release(me); // W6
            return;
        }
        let now = rt.now();
        if now < deadline || m.nextp.load(Ordering::Acquire) != 0 {
            continue; // Woken early: re-plan, or take the P handed over.
        }
        // The deadline passed: run what is due, everywhere (these Ps' Ms may all be
        // busy or asleep). The Gs go to the global queue; waking an M for them may
        // hand this one a P.
        // Counted for the deadlock check (`deadlock.rs`, step 4): the heaps may look
        // empty while the green threads this wakes are not queued yet.
        rt.timers_firing.fetch_add(1, Ordering::SeqCst);
        for p in rt.ps.iter() {
            if p.timers.next() <= now {
                run_timers(p, Some(now));
            }
        }
        rt.timers_firing.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Gs that this idle M's poll made runnable: if a P is idle, the M takes it (leaving the
/// idle list) and returns `true` with the Gs on its ring, to run them itself — the
/// reader woken by a socket runs on the thread that saw the report, with no futex
/// wake-up in between; an M is woken to share them if there are several. Otherwise they
/// go to the global queue, for the busy Ps, and this M sleeps on.
fn run_polled(rt: &'static Runtime, m: &'static M, ready: Vec<&'static G>) -> bool {
    match rt.idle.take_idle_p_for(&m) {
        Some(pid) => {
            m.p.set(&rt.ps[pid]);
            m.spinning.set(false);
            let several = ready.len() > 1;
            for g in ready {
                push_local(rt, m, g);
            }
            // Not `rt.wake_sysmon()`: sysmon sleeps at most 10 ms while Gs wait on I/O
            // (see `sysmon::run`), and a wake-up per request would cost a futex call.
            if several && rt.idle.should_wake_unfenced() {
                wakep(rt);
            }
            true
        }
        None => {
            rt.inject
                .push_batch(ready.into_iter().map(|g| g as *const G as *mut G));
            wake_idle(rt);
            false
        }
    }
}
