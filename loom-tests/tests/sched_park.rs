//! loom models of a G's status word (`gogreen::state`): parking with a wake-up token
//! against concurrent unparks, parking under the waker's lock, and generations against
//! stale unparkers.
//!
//! The park protocol (`state.rs`, steps 1–4): the G publishes an unparker for itself
//! (on a channel's wait list, say), then
//!
//! 1. `take_token` — an unpark already came: return at once;
//! 2. switches away — its stack is still live, so it stays `ACTIVE`;
//! 3. on the M's side, `commit_park` — `ACTIVE` → `WAITING`, or, if an unpark left a
//!    token meanwhile, consume it and queue the G again;
//! 4. an unpark that finds `WAITING` moves it to `ACTIVE` and queues the G.
//!
//! What must hold, and what breaks if not:
//!
//! - **Never queued while still running**: whoever queues the G will switch to its
//!   stack. Queued before step 2's switch is complete, two Ms run on one stack. The
//!   models give the G a "stack" in a loom `UnsafeCell` that the G writes while it
//!   switches away and whoever queues it writes when resuming it: loom reports any
//!   pair of accesses not ordered by the protocol.
//! - **Queued at most once per park**: queued twice, it runs twice at once. Each party
//!   that queues the G counts it.
//! - **No lost wake-up**: an unpark after the publish finds the G either `ACTIVE` (its
//!   token makes step 1 or 3 not park) or `WAITING` (and queues it). Lost, the G
//!   sleeps forever. At the end of every execution the G is not left `WAITING`.
//! - **What the waker wrote is visible to the woken G** (Release on unpark, Acquire on
//!   the token or the CAS): a loom `UnsafeCell` written by the unparker before it
//!   unparks, read by the G once woken.
//! - **Stale generations wake nothing**: a header is reused for a new task with a new
//!   generation; an unparker kept from the old task must not wake the new one, nor
//!   leave it a token.
#![cfg(loom)]

mod sched_common;

use gogreen::state::State;
use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::{Arc, Mutex};
use loom::thread;
use sched_common::{Outcomes, Start, check};

/// The parts of a G header the models need.
struct G {
    state: State,
    /// Stands for the G's stack and saved context: owned by whoever holds the G.
    stack: UnsafeCell<usize>,
    /// How many times the G was queued (and so resumed).
    queued: AtomicUsize,
}

impl G {
    fn new() -> Self {
        G {
            state: State::new(),
            stack: UnsafeCell::new(0),
            queued: AtomicUsize::new(0),
        }
    }

    /// Whoever wins the G (an unpark that found it `WAITING`, or the M whose
    /// `commit_park` found a token) queues it; some M later resumes it, writing to its
    /// stack. loom checks that this write is ordered after the G's own writes.
    fn queue_and_resume(&self) {
        self.queued.fetch_add(1, Ordering::Relaxed);
        self.use_stack();
    }

    /// A write to the G's stack, by whoever holds the G.
    fn use_stack(&self) {
        // SAFETY: the caller holds the G per its status, which is the claim under test:
        // loom reports this write if another access is not ordered with it.
        self.stack.with_mut(|s| unsafe { *s += 1 });
    }
}

/// What an unparker writes before waking the G (a value sent on a channel, say).
struct Message(UnsafeCell<usize>);

impl Message {
    fn write(&self, v: usize) {
        // SAFETY: written once, by the unparker, before its unpark; loom checks that
        // every read is ordered after it.
        self.0.with_mut(|m| unsafe { *m = v });
    }

    fn read(&self) -> usize {
        // SAFETY: only after a wake-up, which must order it after `write`: the claim
        // under test.
        self.0.with(|m| unsafe { *m })
    }
}

/// How one park attempt ended, on the G's side.
#[derive(Debug, PartialEq)]
enum Parked {
    /// Step 1 found a token: the G did not switch away.
    Token,
    /// Step 3 found a token: the M queued the G again.
    Requeued,
    /// Step 3 committed: the G is `WAITING` until an unpark queues it.
    Waiting,
}

/// Steps 1–3 as `calls::park_current` and `after_switch` run them, on one loom
/// thread: the G's stack and then the M's g0 are on the same OS thread.
fn park(g: &G) -> Parked {
    if g.state.take_token() {
        return Parked::Token;
    }
    // Step 2: switching away saves the G's context on its stack.
    g.use_stack();
    if g.state.commit_park() {
        Parked::Waiting
    } else {
        g.queue_and_resume();
        Parked::Requeued
    }
}

/// One park against one unpark that carries a message.
///
/// Whichever order loom picks — unpark before step 1, during the switch, or after
/// the commit — the G is queued exactly as many times as it parked (0 on the token
/// path, 1 otherwise), its stack is never touched by two parties without ordering,
/// and once woken it reads the message the unparker wrote before unparking.
#[test]
fn park_vs_unpark() {
    static REACHED: Outcomes = Outcomes::new();
    check("park_vs_unpark", |start: Start| {
        let g = Arc::new(G::new());
        let msg = Arc::new(Message(UnsafeCell::new(0)));
        let generation = 1;
        g.state.activate(generation);

        let unparker = {
            let (g, msg) = (g.clone(), msg.clone());
            thread::spawn(move || {
                msg.write(42);
                if g.state.unpark(generation) {
                    g.queue_and_resume();
                    // Resumed here: the G runs on and reads what woke it.
                    assert_eq!(msg.read(), 42);
                }
            })
        };

        start.spawned();
        let how = park(&g);
        REACHED.mark(format!("{how:?}"));
        if how != Parked::Waiting {
            // Woken without sleeping: the token's Acquire makes the message visible.
            assert_eq!(msg.read(), 42, "{how:?}: the waker's write is not visible");
        }
        unparker.join().unwrap();

        let queued = g.queued.load(Ordering::Relaxed);
        let expected = usize::from(how != Parked::Token);
        assert_eq!(queued, expected, "{how:?}: queued {queued} times");
        assert!(!g.state.is_waiting(), "{how:?}: the wake-up was lost");
    });
    REACHED.assert_reached(&["Token", "Requeued", "Waiting"]);
}

/// One park against two unparks (a channel's sender and a `select` timeout, say).
///
/// At most one party may take the G out of `WAITING`; the other unpark leaves a token
/// (a spurious wake-up of the G's next park, which callers tolerate) or is consumed
/// by steps 1 or 3. Whatever the order, the G is queued once — or not at all, if step
/// 1 consumed a token — and never left `WAITING`.
#[test]
fn park_vs_two_unparks() {
    static REACHED: Outcomes = Outcomes::new();
    check("park_vs_two_unparks", |start: Start| {
        let g = Arc::new(G::new());
        let generation = 1;
        g.state.activate(generation);

        let unparkers: Vec<_> = (0..2)
            .map(|_| {
                let g = g.clone();
                thread::spawn(move || {
                    if g.state.unpark(generation) {
                        g.queue_and_resume();
                    }
                })
            })
            .collect();

        start.spawned();
        let how = park(&g);
        REACHED.mark(format!("{how:?}"));
        for u in unparkers {
            u.join().unwrap();
        }

        let queued = g.queued.load(Ordering::Relaxed);
        let expected = usize::from(how != Parked::Token);
        assert_eq!(queued, expected, "{how:?}: queued {queued} times");
        assert!(!g.state.is_waiting(), "{how:?}: the wake-up was lost");
    });
    REACHED.assert_reached(&["Token", "Requeued", "Waiting"]);
}

/// "Parking under the waker's lock" (`state.rs`): the G registers under a lock and
/// switches away holding it; its M commits the park with a store (no token check) and
/// only then releases the lock. The real waker finds the registration under the lock,
/// writes its message and unparks; a stale unparker, left from an earlier wait,
/// unparks at any moment — its token may be dropped by the store, or it may win the G
/// first (the G would then find itself not selected and park again; here it stops).
///
/// Whatever the order: the G is queued exactly once, never while its stack is in use
/// (the stack cell), never left `WAITING`, and when the real waker queues it, the
/// message is visible to it.
#[test]
fn park_holding_the_wakers_lock() {
    static REACHED: Outcomes = Outcomes::new();
    check("park_holding_the_wakers_lock", |start: Start| {
        let g = Arc::new(G::new());
        let msg = Arc::new(Message(UnsafeCell::new(0)));
        let registered = Arc::new(Mutex::new(false));
        let generation = 1;
        g.state.activate(generation);

        let waker = {
            let (g, msg, registered) = (g.clone(), msg.clone(), registered.clone());
            thread::spawn(move || {
                // Selects the G under the lock (a channel's `try_select`).
                loop {
                    let reg = registered.lock().unwrap();
                    if *reg {
                        break;
                    }
                    drop(reg);
                    thread::yield_now();
                }
                msg.write(42);
                if g.state.unpark(generation) {
                    g.queue_and_resume();
                    assert_eq!(msg.read(), 42);
                    "waker"
                } else {
                    "token"
                }
            })
        };
        let stale = {
            let g = g.clone();
            thread::spawn(move || {
                if g.state.unpark(generation) {
                    g.queue_and_resume();
                }
            })
        };

        start.spawned();
        // The G: register under the lock and keep it across the switch.
        let mut reg = registered.lock().unwrap();
        *reg = true;
        g.use_stack();
        // Its M, after the switch: commit with a store, then release the lock.
        g.state.commit_park_held();
        drop(reg);

        let by = waker.join().unwrap();
        stale.join().unwrap();
        REACHED.mark(by);
        let queued = g.queued.load(Ordering::Relaxed);
        assert_eq!(queued, 1, "queued {queued} times");
        assert!(!g.state.is_waiting(), "the wake-up was lost");
    });
    REACHED.assert_reached(&["waker", "token"]);
}

/// A header is reused: task 1 ended, an unparker for it survives (held by a channel's
/// wait list); the spawner activates the header for task 2, which then parks, while
/// the stale unparker fires.
///
/// The stale unpark may land before the reuse (on task 1's `ACTIVE` word: it leaves a
/// token that `activate` overwrites), or after (its generation no longer matches). In no case may it report `true`
/// (queue the G), nor leave task 2 a token: task 2 must park and stay `WAITING` until
/// an unpark of its own generation, which then queues it exactly once.
#[test]
fn stale_generation() {
    check("stale_generation", |start: Start| {
        let g = Arc::new(G::new());
        let old = 1;
        g.state.activate(old);

        let stale = {
            let g = g.clone();
            thread::spawn(move || assert!(!g.state.unpark(old), "a stale unpark won the G"))
        };

        start.spawned();
        // The spawner reuses the header for a new task, which runs and parks.
        let new = 2;
        g.state.activate(new);
        assert_ne!(new, old);
        let how = park(&g);
        assert_eq!(
            how,
            Parked::Waiting,
            "task 2 was woken by task 1's unparker"
        );

        stale.join().unwrap();
        assert!(g.state.is_waiting(), "a stale unpark woke task 2");
        assert_eq!(g.queued.load(Ordering::Relaxed), 0);

        // Its own unparker still works, once.
        assert!(!g.state.unpark(old));
        assert!(g.state.unpark(new));
        g.queue_and_resume();
        assert!(!g.state.is_waiting());
        assert_eq!(g.queued.load(Ordering::Relaxed), 1);
    });
}
