//! loom models of a G that must stay on its M (`pinned.rs`): it parks in place (P1–P5)
//! while an unpark readies it and another M hands it a P (Q1), with its own P handed
//! off in between (H1–H3 of `handoff.rs`).
//!
//! The threads, over the real `State`, `Idle` and `Inject`:
//!
//! - **A**, the pinned G's M, holding the one P: pins the G (P1), commits the park
//!   (P2), hands its P off (P3: to M **C** if work waits, else to the idle list and a
//!   re-check), then waits for a P in its mailbox (P4) and uses it (P5).
//! - **B**, a waker off the runtime (an OS thread sending on a channel): unparks the
//!   G; if it won the G, queues it on the global queue and wakes an M (S1–S6).
//! - **C**, a sleeping M: woken with a P (by A's hand-off or B's wake-up), pops the G,
//!   sees the pin, and hands its P to A (Q1).
//!
//! An M's mailbox is its `nextp` and its parker (a loom `Notify`, which keeps an early
//! wake-up as a token, as the runtime's futex parker does). The hand-off steps are
//! transcribed from `handoff.rs` and `wake.rs`, which need the whole runtime.
//!
//! What must hold:
//!
//! - **No lost wake-up**: A never waits for good. loom reports a deadlock if it does.
//! - **Whoever pops the G sees the pin**: P1's write is ordered before the pop by the
//!   park's CAS and the queue; the pin lives in a loom `UnsafeCell`, so loom reports an
//!   unordered read.
//! - **The P has one owner at a time**: its owner-only state is a loom `UnsafeCell`
//!   that each owner writes (A, then C if C got it, then A again).
//! - **The G ends running**: not left `WAITING`, woken once.
#![cfg(loom)]

mod sched_common;

use gogreen::idle::Idle;
use gogreen::inject::Inject;
use gogreen::state::State;
use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicUsize, Ordering, fence};
use loom::sync::{Arc, Notify};
use loom::thread;
use sched_common::{Outcomes, check};

const GENERATION: u32 = 7;
/// The pin: what P1 writes into the G's saved-stack-pointer slot (A's address, tagged).
const PINNED_TO_A: usize = 0xA1;
/// What `main` leaves in C's mailbox when nobody will hand C a P any more.
const QUIT: usize = usize::MAX;

struct G {
    state: State,
    /// The saved-stack-pointer slot, which holds the pin while the G waits.
    sp: UnsafeCell<usize>,
}

/// An M's `nextp` and parker.
struct Mailbox {
    p: AtomicUsize,
    wake: Notify,
}

impl Mailbox {
    fn new() -> Self {
        Mailbox {
            p: AtomicUsize::new(0),
            wake: Notify::new(),
        }
    }

    /// `wake::start_m` with a given M: Release pairs with `take`'s Acquire.
    ///
    /// A swap where the runtime stores: the taker's earlier swap read 0 from before
    /// this store, so this store comes after it in the word's modification order, and
    /// the taker's next swap must read it. loom does not apply that rule to a plain
    /// store from a thread that never saw the earlier swap (tokio-rs/loom#254, as in
    /// `State::activate`) and lets the next swap read the stale 0; a swap reads the
    /// latest value, which gives the order loom can see.
    fn give(&self, p: usize) {
        self.p.swap(p + 1, Ordering::Release);
        self.wake.notify();
    }

    /// P4 (`pinned::wait_for_p`), or `stop_m`'s wait: `None` if told to quit.
    fn take(&self) -> Option<usize> {
        loop {
            match self.p.swap(0, Ordering::Acquire) {
                0 => self.wake.wait(),
                QUIT => return None,
                p => return Some(p - 1),
            }
        }
    }
}

struct World {
    g: G,
    idle: Idle<usize>,
    inject: Inject<G>,
    /// A's mailbox (the pinned G's M) and C's (a sleeping M).
    a: Mailbox,
    c: Mailbox,
    /// The one P's owner-only state.
    p_local: UnsafeCell<u32>,
    /// Who gave C the P: 1 = A's hand-off, 2 = B's wake-up.
    c_woken_by: AtomicUsize,
}

// SAFETY: the raw G pointer in `inject` points into the world itself, shared by Arc.
unsafe impl Send for World {}
// SAFETY: as above.
unsafe impl Sync for World {}

impl World {
    fn new() -> Arc<World> {
        let g = G {
            state: State::new(),
            sp: UnsafeCell::new(0),
        };
        g.state.activate(GENERATION);
        let w = Arc::new(World {
            g,
            idle: Idle::new(1),
            inject: Inject::new(),
            a: Mailbox::new(),
            c: Mailbox::new(),
            p_local: UnsafeCell::new(0),
            c_woken_by: AtomicUsize::new(0),
        });
        // A starts out holding the P.
        assert_eq!(w.idle.take_idle_p(), Some(0));
        w
    }

    fn g_ptr(&self) -> *mut G {
        &self.g as *const G as *mut G
    }

    /// A write by the P's owner.
    fn own_p(&self) {
        // SAFETY: the caller owns the P — the claim under test.
        self.p_local.with_mut(|v| unsafe { *v += 1 });
    }

    /// `wake::wakep` after a won S5: C is the only M to start.
    fn wakep(&self, by: usize) {
        match self.idle.take_idle() {
            Some((p, _)) => {
                self.c_woken_by.store(by, Ordering::Relaxed);
                self.c.give(p);
            }
            None => self.idle.cancel_spin(),
        }
    }

    /// H1–H3 of `handoff::hand_off_p`, by A for its P.
    fn hand_off_p(&self, p: usize) {
        if !self.inject.is_empty() {
            // H1.
            self.c_woken_by.store(1, Ordering::Relaxed);
            self.c.give(p);
            return;
        }
        if !self.idle.release_p(p, || !self.inject.is_empty()) {
            // H2 found work under the lock.
            self.c_woken_by.store(1, Ordering::Relaxed);
            self.c.give(p);
            return;
        }
        fence(Ordering::SeqCst); // H3
        if !self.inject.is_empty() && self.idle.should_wake() {
            self.wakep(1);
        }
    }
}

#[test]
fn a_pinned_g_parks_in_place_against_an_unpark() {
    static OUTCOMES: Outcomes = Outcomes::new();
    check("a_pinned_g_parks_in_place_against_an_unpark", |start| {
        let w = World::new();
        let a = {
            let w = w.clone();
            thread::spawn(move || {
                w.own_p();
                // SAFETY: the running G owns its slot.
                w.g.sp.with_mut(|sp| unsafe { *sp = PINNED_TO_A }); // P1
                if !w.g.state.commit_park() {
                    return false; // P2: a token; the P stays A's.
                }
                w.hand_off_p(0); // P3
                let p = w.a.take().expect("A is never told to quit"); // P4
                assert_eq!(p, 0);
                w.own_p(); // P5
                true
            })
        };
        let b = {
            let w = w.clone();
            thread::spawn(move || {
                if w.g.state.unpark(GENERATION) {
                    // `ready` off the runtime: S1, then S2–S6.
                    w.inject.push(w.g_ptr());
                    if w.idle.should_wake() {
                        w.wakep(2);
                    }
                }
            })
        };
        let c = {
            let w = w.clone();
            thread::spawn(move || {
                let Some(p) = w.c.take() else { return false };
                w.own_p();
                let g = w.inject.pop().expect("C is woken only for the queued G");
                // SAFETY: C popped the G, so it holds it; the G is the world's.
                let pin = unsafe { (*g).sp.with(|sp| *sp) };
                assert_eq!(pin, PINNED_TO_A, "the popper did not see the pin");
                w.a.give(p); // Q1
                true
            })
        };
        start.spawned();
        let parked = a.join().unwrap();
        b.join().unwrap();
        // Nobody else will give C a P now.
        w.c.p.swap(QUIT, Ordering::Release);
        w.c.wake.notify();
        let c_ran = c.join().unwrap();
        assert!(!w.g.state.is_waiting(), "the G was left parked");
        assert_eq!(parked, c_ran, "C must run exactly when the G parked");
        // SAFETY: every thread is joined.
        let uses = w.p_local.with(|v| unsafe { *v });
        assert_eq!(uses, if parked { 3 } else { 1 });
        OUTCOMES.mark(match (parked, w.c_woken_by.load(Ordering::Relaxed)) {
            (false, _) => "token",
            (true, 1) => "parked, C woken by A's hand-off",
            (true, _) => "parked, C woken by B",
        });
    });
    OUTCOMES.assert_reached(&[
        "token",
        "parked, C woken by A's hand-off",
        "parked, C woken by B",
    ]);
}
