//! loom models of the timer-sleeper hand-shake (`gogreen::sleeper`, steps W1–W6 and
//! A1–A3), driven the way `worker::stop_m` and `calls::park_current` drive it.
//!
//! The property: **an idle M never sleeps past a timer.** The M reads the timer heaps,
//! publishes the deadline it will sleep until, re-reads the heaps and sleeps; a green
//! thread on a busy P adds a timer with an earlier deadline meanwhile. Each may read
//! the other's word before the other's write is visible (the store-buffer litmus
//! test): the M then sleeps until its old deadline, and the adder does not wake it,
//! because it read the deadline the M slept until before it was published.
//!
//! loom has no clock, so a deadline is a number and "sleeping until it" is a wait that
//! only a wake-up ends, with one exception: once the M has planned for the earliest
//! timer the model will ever add, the deadline is reached and the M is done. Were the
//! M left waiting with a later deadline (or none) and nobody to wake it, loom would
//! report the deadlock — that is the oversleep. The heaps are one atomic holding the
//! earliest deadline, stored the way `Timers::add` publishes `next` (Release), read the
//! way `Runtime::earliest_timer` reads it (Acquire).

#![cfg(loom)]

mod sched_common;

use gogreen::sleeper::{NEVER, Sleeper};
use loom::sync::Notify;
use loom::sync::atomic::{AtomicU64, Ordering};
use loom::thread;
use sched_common::{Outcomes, Start, check};
use std::sync::Arc;

struct World {
    sleeper: Sleeper,
    /// The earliest deadline over the heaps.
    heap: AtomicU64,
    /// The M's parker: keeps a wake-up that comes first, as the futex parker does.
    parker: Notify,
}

const ME: usize = 1;

/// The idle M: W1–W5 until it plans for `earliest`, the first deadline the adders
/// will reach. Returns how many times it slept.
fn idle_m(w: &World, earliest: u64) -> usize {
    assert!(w.sleeper.claim(ME), "W1: the only M claims the role");
    let mut sleeps = 0;
    loop {
        // W2–W4.
        let mut deadline = w.heap.load(Ordering::Acquire);
        loop {
            w.sleeper.publish(deadline);
            let again = w.heap.load(Ordering::Acquire);
            if again >= deadline {
                break;
            }
            deadline = again;
        }
        if deadline == earliest {
            // It sleeps until the earliest deadline: nothing can be missed now.
            w.sleeper.release(ME); // W6
            return sleeps;
        }
        // W5: a deadline later than a timer that will be added (or none).
        w.parker.wait();
        sleeps += 1;
    }
}

/// A green thread adding a timer at `when` (A1–A3).
fn add_timer(w: &World, when: u64) {
    w.heap.fetch_min(when, Ordering::Release); // A1
    if let Some(m) = w.sleeper.timer_added(when) {
        assert_eq!(m, ME);
        w.parker.notify();
    }
}

fn world(initial: u64) -> Arc<World> {
    Arc::new(World {
        sleeper: Sleeper::new(),
        heap: AtomicU64::new(initial),
        parker: Notify::new(),
    })
}

/// One M goes idle (wanting to be up for a timer at 5) while another thread adds a
/// timer at 5; the heap held `existing` before. Either the M saw the timer before
/// sleeping, or it slept and was woken.
fn one_adder(name: &'static str, existing: u64, out: &'static Outcomes) {
    check(name, move |start: Start| {
        let w = world(existing);
        let adder = {
            let w = w.clone();
            thread::spawn(move || add_timer(&w, 5))
        };
        start.spawned();
        let sleeps = idle_m(&w, 5);
        adder.join().unwrap();
        out.mark(format!("slept {sleeps}"));
    });
    out.assert_reached(&["slept 0", "slept 1"]);
}

#[test]
fn idle_m_without_timers_is_woken_by_the_first() {
    static OUT: Outcomes = Outcomes::new();
    one_adder("idle_m_without_timers_is_woken_by_the_first", NEVER, &OUT);
}

#[test]
fn earlier_timer_wakes_an_m_sleeping_until_a_later_one() {
    static OUT: Outcomes = Outcomes::new();
    one_adder(
        "earlier_timer_wakes_an_m_sleeping_until_a_later_one",
        10,
        &OUT,
    );
}

#[test]
fn two_adders_the_later_one_first() {
    static OUT: Outcomes = Outcomes::new();
    check("two_adders_the_later_one_first", |start: Start| {
        let w = world(NEVER);
        let adders: Vec<_> = [7, 5]
            .into_iter()
            .map(|when| {
                let w = w.clone();
                thread::spawn(move || add_timer(&w, when))
            })
            .collect();
        start.spawned();
        let sleeps = idle_m(&w, 5);
        for a in adders {
            a.join().unwrap();
        }
        OUT.mark(format!("slept {}", sleeps.min(2)));
    });
    OUT.assert_reached(&["slept 0", "slept 1", "slept 2"]);
}
