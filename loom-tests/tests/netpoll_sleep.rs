//! loom models of the idle M that sleeps in `epoll_wait` (`gogreen::parker`, "Sleeping in
//! `epoll_wait`", with the timer-sleeper hand-shake of `gogreen::sleeper`): whoever must
//! wake it early — a green thread adding an earlier timer, or a thread handing it a P —
//! unparks it, and if the unpark finds it polling, interrupts the poll through the
//! eventfd.
//!
//! The eventfd is a loom `Notify`: a write before the `epoll_wait` is kept, as the
//! eventfd keeps its count, so the poll returns at once. The poll blocks until that
//! interrupt — except, as in `sched_sleeper.rs`, once the M has planned for the earliest
//! timer the model adds: its own deadline then ends the sleep. An M left polling with
//! nobody to interrupt it is the lost wake-up; loom reports the deadlock.
//!
//! The parker is the runtime's own code; under loom its futex is a `Notify` too.

#![cfg(loom)]

mod sched_common;

use gogreen::parker::Parker;
use gogreen::sleeper::{NEVER, Sleeper};
use loom::sync::Notify;
use loom::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use loom::thread;
use sched_common::{Outcomes, Start, check};
use std::sync::Arc;

struct World {
    sleeper: Sleeper,
    heap: AtomicU64,
    parker: Parker,
    eventfd: Notify,
    /// A P handed to the M (index + 1), or 0.
    nextp: AtomicUsize,
}

const ME: usize = 1;

fn world(initial: u64) -> Arc<World> {
    Arc::new(World {
        sleeper: Sleeper::new(),
        heap: AtomicU64::new(initial),
        parker: Parker::new(),
        eventfd: Notify::new(),
        nextp: AtomicUsize::new(0),
    })
}

/// `wake::unpark_m`: unpark; interrupt the poll if the M is in one.
fn unpark_m(w: &World) {
    if w.parker.unpark() {
        w.eventfd.notify();
    }
}

#[derive(Debug)]
enum Woke {
    HandedP,
    Deadline,
}

/// The idle M of `worker::stop_m`: take a P if handed one; else W1–W5, sleeping in the
/// poll. Returns why it left, and how many polls it slept in.
fn idle_m(w: &World, earliest: u64) -> (Woke, usize) {
    assert!(w.sleeper.claim(ME), "W1: the only M claims the role");
    let mut polls = 0;
    loop {
        if w.nextp.swap(0, Ordering::Acquire) != 0 {
            w.sleeper.release(ME); // W6
            return (Woke::HandedP, polls);
        }
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
            w.sleeper.release(ME);
            return (Woke::Deadline, polls);
        }
        // W5: `epoll_wait` until interrupted.
        w.parker.park_polling(|| {
            polls += 1;
            w.eventfd.wait();
        });
    }
}

/// `wake::start_m`: hand the M a P, then wake it. A swap where the runtime stores:
/// loom may order a plain store from a thread that has not seen the M's earlier swap of
/// `nextp` before that swap (tokio-rs/loom#254, as `state.rs` notes at
/// `State::activate`), which real coherence forbids.
fn hand_p(w: &World) {
    w.nextp.swap(1, Ordering::Release);
    unpark_m(w);
}

fn add_timer(w: &World, when: u64) {
    w.heap.fetch_min(when, Ordering::Release);
    if let Some(m) = w.sleeper.timer_added(when) {
        assert_eq!(m, ME);
        unpark_m(w);
    }
}

#[test]
fn an_earlier_timer_interrupts_the_poll() {
    static OUT: Outcomes = Outcomes::new();
    check("an_earlier_timer_interrupts_the_poll", |start: Start| {
        let w = world(NEVER);
        let adder = {
            let w = w.clone();
            thread::spawn(move || add_timer(&w, 5))
        };
        start.spawned();
        let (why, polls) = idle_m(&w, 5);
        adder.join().unwrap();
        OUT.mark(format!("{why:?} after {polls} polls"));
    });
    OUT.assert_reached(&["Deadline after 0 polls", "Deadline after 1 polls"]);
}

#[test]
fn a_handed_p_interrupts_the_poll() {
    static OUT: Outcomes = Outcomes::new();
    check("a_handed_p_interrupts_the_poll", |start: Start| {
        let w = world(NEVER);
        let hander = {
            let w = w.clone();
            thread::spawn(move || hand_p(&w))
        };
        start.spawned();
        // No timer will come: only the hand-off ends the sleep.
        let (why, polls) = idle_m(&w, 0);
        hander.join().unwrap();
        OUT.mark(format!("{why:?} after {polls} polls"));
    });
    OUT.assert_reached(&["HandedP after 0 polls", "HandedP after 1 polls"]);
}

#[test]
fn a_timer_and_a_hand_off_together() {
    check("a_timer_and_a_hand_off_together", |start: Start| {
        let w = world(NEVER);
        let adder = {
            let w = w.clone();
            thread::spawn(move || add_timer(&w, 5))
        };
        let hander = {
            let w = w.clone();
            thread::spawn(move || hand_p(&w))
        };
        start.spawned();
        // Ends on whichever it sees first; neither may leave it polling.
        let _ = idle_m(&w, 5);
        adder.join().unwrap();
        hander.join().unwrap();
    });
}
