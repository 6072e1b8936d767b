//! sysmon: a thread without a P that keeps stuck processors from holding up work.
//!
//! gogreen never interrupts a running G — switching stacks inside arbitrary Rust code
//! (in the middle of malloc, say) is unsound — so a G that computes for a long time, or
//! blocks in a call the runtime does not know of, keeps its P. sysmon looks at every P
//! once per period (20 µs, doubling up to 10 ms while it finds nothing to do) and, for
//! a P that has not scheduled since the previous look:
//!
//! - moves its `runnext` G to the global queue and wakes an M for it (a G readied by a
//!   G that then kept running; see `ready::ready`);
//! - wakes an M to steal from its ring, if one is idle and nobody spins (sysmon does
//!   that for any P whose ring holds work while others idle: the backstop for a
//!   wake-up a running P skipped — but not for a small ring whose owner switched since
//!   the previous look, L4 of `steal.rs`);
//! - after 10 ms, sets its `preempt` flag, which `gogreen::preempt_point` checks.
//!
//! # Blocking calls' Ps
//!
//! A P that a blocking call left in its syscall word (`syscall.rs`) is taken back
//! (R1–R2) once the same call has held it for a whole period and the P could be used:
//! work is queued on it, or nobody spins and no P is idle (work made runnable now
//! would find no P), or the call has lasted 10 ms. sysmon then gives it away
//! (`handoff.rs`). Such a P is not stuck: its M holds no P, and its clock restarts
//! when the call returns.
//!
//! # Spare Ps
//!
//! A P whose M has been stuck in one G for 10 ms — a CPU-bound loop, or a call that
//! blocks the OS thread without `gogreen::blocking` (`std::fs::read`,
//! `std::thread::sleep`) — while other Gs wait that nobody takes (its ring, or the
//! global queue, has not been drained at all for as long) and no P is idle to run
//! them, is *replaced*. (A G that keeps its P busy spawning while other Ps run what it
//! spawns is not stuck: its ring is drained.) Replaced means: sysmon puts a spare P in
//! play on an M of its own and marks the stuck P `retired`. The stuck M keeps running
//! its G undisturbed — nothing interrupts it, and its P stays its own, so no queue ever
//! has two owners. At its next scheduling point (the G parks, yields, exits, or calls
//! `preempt_point` after its flag is up) it gives the retired P up
//! (`handoff::retire_p`): what is queued there goes to the global queue, its timers to
//! the spare that replaced it, the P to the spares, and the M goes to sleep. Go hands
//! the stuck P itself to another M; replacing it instead costs the hot paths nothing
//! but one flag load in `next_local`.
//!
//! Until then the retired P's queue is *rescued*: at the replacement and at every look
//! after, sysmon moves whatever is queued there (`runnext` and the ring, taken as a
//! thief takes) to the global queue and wakes an M. Otherwise a G queued behind two
//! stuck calls on one processor would wait for the first call to return (the spare
//! steals half the ring, then gets stuck in the second call, and a retired P is never
//! replaced again); and a G holding a `std::sync::Mutex` that the stuck M waits for
//! would never run — a deadlock. Whatever state its P is in — held and running,
//! retired, in a blocking call's syscall word, idle — no queued G waits for a stuck
//! call to return while a spare is left. Up to `SPARES` (or `procs`, if more) Ps can
//! be replaced at once, that is, that many Gs stuck at the same time; beyond that, or
//! at the thread limit (`wake.rs`), queued work waits until one of them returns.
//!
//! It also runs timers more than a millisecond overdue (their Ps are all busy), polls
//! for I/O when Gs wait on it and nobody has polled for 10 ms (every P busy with long
//! queues, so none ran dry and looked; Go's sysmon does the same), and every half second
//! trims stacks that sat unused in the global pool. When every P is idle and no timer
//! is pending it sleeps until a P leaves the idle list (whoever takes one wakes it:
//! `wake::start_m`, `Runtime::take_idle_p`) — or, while Gs wait on I/O, for at most
//! 10 ms: the idle M blocked in `epoll_wait` watches the sockets, and takes a P for the
//! Gs they ready without starting an M or waking sysmon. Woken, it starts again at its
//! shortest period; at the end of such a 10 ms sleep it goes on at the period it had.

use super::clock;
use super::counters::GLOBAL;
use super::deadlock::{self, Verdict};
use super::g::G;
use super::handoff::give_up_p;
use super::p::P;
use super::patience::PATIENT_RING;
use super::runtime::{AWAKE, Runtime, SLEEP_LONG, SLEEP_SHORT};
use super::schedtrace::Schedtrace;
use super::sleeper::NEVER;
use super::switch::run_timers;
use super::traced;
use super::wake::{start_m, wake_idle, warn_no_thread};
use super::warn::Warner;
use crate::stack::pool;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const MIN_DELAY: Duration = Duration::from_micros(20);
const MAX_DELAY: Duration = Duration::from_millis(10);
/// How often sysmon looks at least while it sees Gs queued on a ring beside an idle P
/// (`steal.rs`, L3): a G left on a small ring whose owner stopped switching waits one
/// or two of sysmon's periods for a thief.
const WATCH_DELAY: Duration = Duration::from_millis(1);
/// How soon sysmon looks again when the deadlock check found timers being fired.
const SETTLE: Duration = Duration::from_millis(1);
/// Rounds with nothing to do before the period starts doubling.
const IDLE_ROUNDS: u32 = 50;
/// A G holding its P this long gets the preempt flag.
const PREEMPT_AFTER: Duration = Duration::from_millis(10);
/// A P stuck this long, with work waiting that nobody takes and no idle P, is replaced
/// by a spare.
const HANDOFF_AFTER: Duration = Duration::from_millis(10);
/// Timers this late are run by sysmon itself.
const TIMER_SLACK_NS: u64 = 1_000_000;
const SCAVENGE_EVERY: Duration = Duration::from_millis(500);
/// Gs waiting on I/O that nobody has polled for this long are polled for by sysmon.
const POLL_AFTER: Duration = Duration::from_millis(10);

/// Starts the sysmon thread. Called once, when the runtime starts.
pub(crate) fn start(rt: &'static Runtime) {
    let started = std::thread::Builder::new()
        .name("gogreen-sysmon".into())
        .spawn(move || run(rt));
    if let Err(e) = started {
        crate::fatal!("cannot start the sysmon thread: {e}");
    }
}

/// What sysmon remembers of a P between two looks.
#[derive(Clone, Copy)]
struct Seen {
    tick: u64,
    since: Instant,
    /// The ring's `taken` count at the previous look.
    taken: u32,
    /// Since when the ring has held work that nobody took.
    undrained_since: Instant,
    /// The blocking call holding the P at the previous look (`syscall.rs`), or 0.
    syscall: u32,
    /// Since when that call has held it.
    syscall_since: Instant,
    /// Whether the P was in play at the previous look.
    in_play: bool,
}

fn run(rt: &'static Runtime) -> ! {
    let mut delay = MIN_DELAY;
    let mut idle_rounds = 0;
    let mut seen = vec![
        Seen {
            tick: 0,
            since: Instant::now(),
            taken: 0,
            undrained_since: Instant::now(),
            syscall: 0,
            syscall_since: Instant::now(),
            in_play: false,
        };
        rt.ps.len()
    ];
    let mut inject_taken = rt.inject.taken();
    let mut inject_undrained_since = Instant::now();
    let mut last_scavenge = Instant::now();
    let mut schedtrace = Schedtrace::from_env();
    let mut warner = Warner::from_env(rt.ps.len());
    loop {
        if all_idle(rt) {
            // Trim everything pooled (two rounds: hot, then aging), then sleep until
            // a P leaves the idle list. `sysmon_sleep` before the re-check pairs
            // with `npidle` in `Runtime::wake_sysmon`'s callers (`wake::start_m`,
            // `Runtime::take_idle_p`): one of the two sees the other.
            pool::POOL.scavenge();
            pool::POOL.scavenge();
            // Everything idle and nobody waits on I/O: perhaps for good (`deadlock.rs`).
            // Checked before sysmon says which sleep it takes: the check takes a while,
            // and the sleep must follow from what sysmon sees right before it (below).
            let verdict = if rt.netpoll.has_waiters() {
                Verdict::Live
            } else {
                deadlock::check(rt)
            };
            if verdict == Verdict::Deadlock {
                deadlock::report(rt);
            }
            //
            // While Gs wait on I/O, a P also comes back into use without sysmon being
            // woken: the idle M blocked in `epoll_wait` takes one for the Gs it readies
            // (`worker::run_polled`). Waking sysmon there would cost a futex wake-up,
            // and then sysmon's 20 µs round, on every request of a server that keeps
            // going idle between requests; so sysmon sleeps at most one long period
            // instead, and looks (`Runtime::wake_sysmon`). Which sleep it takes is
            // decided, and published, before the re-check: a waker that skipped a
            // short sleep must never leave sysmon in a long one.
            let long = !rt.netpoll.has_waiters();
            let kind = if long { SLEEP_LONG } else { SLEEP_SHORT };
            rt.sysmon_sleep.store(kind, Ordering::SeqCst);
            let mut woken = false;
            if all_idle(rt) {
                let until = if verdict == Verdict::Settling {
                    // An idle M is between firing timers and queueing what they woke;
                    // if they woke nobody, nothing else would wake sysmon.
                    Some(Instant::now() + SETTLE)
                } else {
                    (!long).then(|| Instant::now() + MAX_DELAY)
                };
                let deadline = earliest(until, schedtrace.as_ref());
                rt.sysmon_parker.park(deadline);
                woken = deadline.is_none_or(|d| Instant::now() < d);
            }
            rt.sysmon_sleep.store(AWAKE, Ordering::SeqCst);
            // Woken: a P left the idle list, and its G may enter a blocking call that
            // must be retaken within a period or two, so the period starts again at
            // its shortest. Not after a sleep that ran to its end: nobody asked for a
            // look, and the period goes on from where it was. A server whose Ps keep
            // going idle between requests otherwise restarted the period every 10 ms
            // (every short sleep's end), and sysmon woke 700–800 times a second, 20 µs
            // apart in bursts — each time on a core that an M or the clients were
            // using: with one P, three quarters of the M's involuntary context
            // switches, and an HTTP p90 up to 1.5 times tokio's (`docs/BENCHMARKS.md`,
            // "Stop 14").
            if woken {
                delay = MIN_DELAY;
                idle_rounds = 0;
            }
        } else {
            let until = Some(Instant::now() + delay);
            rt.sysmon_parker.park(earliest(until, schedtrace.as_ref()));
        }
        let now = Instant::now();
        clock::set(rt.instant_to_ns(now));
        if let Some(trace) = &mut schedtrace {
            trace.tick(rt, now);
        }
        let mut acted = false;
        // Whether the global queue holds work that nobody took since the previous look.
        let taken = rt.inject.taken();
        if rt.inject.is_empty() || taken != inject_taken {
            inject_undrained_since = now;
        }
        inject_taken = taken;
        let inject_stuck = now.duration_since(inject_undrained_since) >= HANDOFF_AFTER;
        for (p, seen) in rt.ps.iter().zip(seen.iter_mut()) {
            if retake(rt, p, seen, now) {
                acted = true;
            }
            if p.syscall.current() != 0 {
                // Its M is in a blocking call, not stuck on the P: when it comes back,
                // the P's clock starts again.
                (seen.tick, seen.since) = (p.schedtick.load(Ordering::Relaxed), now);
                continue;
            }
            if p.retired.load(Ordering::Acquire) && rescue_retired(rt, p) {
                acted = true;
            }
            let tick = p.schedtick.load(Ordering::Relaxed);
            // A P's clock starts when it comes into play. A spare waits unused for as
            // long as nobody needs it, so its `since` is old; just put in play, on a
            // loaded machine its new M may not have run yet, and with that old clock it
            // would look stuck at once and be replaced, and its replacement too (a trace
            // showed 15 spares put in play within 0.8 ms).
            let in_play = p.in_play.load(Ordering::Acquire);
            if in_play != seen.in_play || !in_play {
                seen.in_play = in_play;
                (seen.tick, seen.since, seen.undrained_since) = (tick, now, now);
                seen.taken = p.runq.taken();
                continue;
            }
            let taken = p.runq.taken();
            if p.runq.ring_is_empty() || taken != seen.taken {
                seen.undrained_since = now;
            }
            seen.taken = taken;
            let ring_stuck = now.duration_since(seen.undrained_since) >= HANDOFF_AFTER;
            if tick != seen.tick {
                (seen.tick, seen.since) = (tick, now);
                continue;
            }
            // The P has not scheduled since the previous look.
            if let Some(g) = p.runq.take_runnext() {
                rt.inject.push(g);
                wake_idle(rt);
                acted = true;
            }
            if !p.runq.ring_is_empty() && wake_idle(rt) {
                acted = true;
            }
            if let Some(w) = &mut warner {
                w.stuck(rt, p, tick, now);
            }
            let stuck_for = now.duration_since(seen.since);
            if stuck_for >= PREEMPT_AFTER && !p.preempt.load(Ordering::Relaxed) {
                p.preempt.store(true, Ordering::Relaxed);
            }
            if stuck_for >= HANDOFF_AFTER
                && p.in_play.load(Ordering::Acquire)
                && !p.retired.load(Ordering::Acquire)
                && rt.idle.npidle() == 0
                && (ring_stuck || inject_stuck)
                && hand_off(rt, p)
            {
                acted = true;
            }
        }
        // A missed wake-up (see `ready::submit_new`), or a P that went idle with work
        // because no M could be started (`handoff.rs`), leaves work queued beside an
        // idle P: one look per period catches it. Not a small ring whose owner switched
        // since the previous look (L4 of `steal.rs`): it gets to the ring, and a wake-up
        // per look would undo L1; if the owner stops switching, the look above wakes an M.
        if rt.idle.npidle() > 0
            && (!rt.inject.is_empty()
                || rt.ps.iter().zip(&seen).any(|(p, seen)| {
                    let switching = seen.since == now && p.syscall.current() == 0;
                    p.in_play.load(Ordering::Acquire)
                        && !p.runq.ring_is_empty()
                        && !(switching && p.runq.len() <= PATIENT_RING)
                }))
            && wake_idle(rt)
        {
            acted = true;
        }
        let now_ns = rt.now();
        for p in rt.ps.iter() {
            let next = p.timers.next();
            if next != NEVER && next.saturating_add(TIMER_SLACK_NS) <= now_ns {
                acted |= run_timers(p, Some(now_ns)) > 0;
            }
        }
        if rt.netpoll.claim_overdue(POLL_AFTER) {
            let mut ready = Vec::new();
            rt.netpoll.poll_now(&mut ready);
            if !ready.is_empty() {
                rt.inject
                    .push_batch(ready.into_iter().map(|g| g as *const G as *mut G));
                wake_idle(rt);
                acted = true;
            }
        }
        if now.duration_since(last_scavenge) >= SCAVENGE_EVERY {
            pool::POOL.scavenge();
            last_scavenge = now;
        }
        if acted {
            delay = MIN_DELAY;
            idle_rounds = 0;
        } else {
            idle_rounds += 1;
            if idle_rounds > IDLE_ROUNDS {
                delay = (delay * 2).min(MAX_DELAY);
            }
        }
        // L3 of `steal.rs`: Gs may sit on a small ring without a wake-up, left to an
        // owner that switches; sysmon is the one to notice it stop.
        if rt.idle.npidle() > 0 && rt.in_play().any(|p| !p.runq.ring_is_empty()) {
            delay = delay.min(WATCH_DELAY);
        }
    }
}

/// The earlier of `until` and the next schedtrace line (`None`: no deadline).
fn earliest(until: Option<Instant>, trace: Option<&Schedtrace>) -> Option<Instant> {
    match (until, trace.map(Schedtrace::due)) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Every P in play is idle, nothing is queued globally, no timer is pending. With a
/// spare in play, `procs` idle Ps are not all of them: a retired P whose M is stuck is
/// in play and busy, so the idle count is compared with the Ps in play.
fn all_idle(rt: &Runtime) -> bool {
    rt.idle.npidle() >= rt.in_play().count() && rt.inject.is_empty() && rt.earliest_timer() == NEVER
}

/// sysmon found `stuck`'s M stuck in one G while work waits and no P is idle: put a
/// spare P in play, on an M of its own, and mark `stuck` for retirement. The new M
/// steals `stuck`'s queued Gs; the stuck M gives `stuck` up at its next scheduling
/// point (`handoff::retire_p`). Returns whether a spare was left.
fn hand_off(rt: &'static Runtime, stuck: &P) -> bool {
    let Some(spare) = rt.spares.lock().pop() else {
        return false;
    };
    rt.ps[spare].in_play.store(true, Ordering::Release);
    stuck.successor.store(spare, Ordering::Release);
    stuck.retired.store(true, Ordering::Release);
    if let Err(e) = start_m(rt, spare, rt.idle.pop_idle_m(), false) {
        // No thread for the spare: undo, and let the stuck P's work wait.
        warn_no_thread(&e);
        stuck.retired.store(false, Ordering::Release);
        rt.ps[spare].in_play.store(false, Ordering::Release);
        rt.spares.lock().push(spare);
        return false;
    }
    GLOBAL.spares.add(1);
    if crate::trace::on() {
        traced::spare(spare, stuck);
    }
    // The stuck M will not run its queue: every G there goes where the spare (and any
    // other M) finds it.
    rescue_retired(rt, stuck);
    true
}

/// Moves the Gs queued on a retired P, whose M is stuck in one G, to the global queue,
/// and wakes an M for them: the queue of a retired P is rescued at every look, whatever
/// its M does meanwhile, so no G waits for the stuck call to return. Returns whether
/// it moved any.
fn rescue_retired(rt: &'static Runtime, p: &P) -> bool {
    let mut queued: Vec<_> = p.runq.take_runnext().into_iter().collect();
    queued.extend(p.runq.take_all());
    if queued.is_empty() {
        return false;
    }
    rt.inject.push_batch(queued);
    wake_idle(rt);
    true
}

/// R1–R2 of `syscall.rs`: takes `p` from a blocking call that has held it for a whole
/// period, if something could use it, and gives it away. Go's rule — the P has queued
/// work, or nobody spins and no P is idle (new work would find no P), or the call has
/// lasted 10 ms — or one of its timers is due. Returns whether it took the P.
fn retake(rt: &'static Runtime, p: &'static P, seen: &mut Seen, now: Instant) -> bool {
    let call = p.syscall.current();
    if call == 0 || call != seen.syscall {
        (seen.syscall, seen.syscall_since) = (call, now);
        return false;
    }
    let wanted = p.runq.has_work()
        || rt.idle.nmspinning() + rt.idle.npidle() == 0
        || now.duration_since(seen.syscall_since) >= HANDOFF_AFTER
        || p.timers.next() <= rt.now();
    if !wanted || !p.syscall.retake(call) {
        return false;
    }
    GLOBAL.retakes.add(1);
    if crate::trace::on() {
        traced::retake(p);
    }
    seen.syscall = 0;
    give_up_p(rt, p);
    true
}
