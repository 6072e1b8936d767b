//! loom models of a poll descriptor's slot (`gogreen::slot`, steps R1–R6 and P1–P3): a
//! green thread that tries its read, lists itself and parks, against the report of new
//! data, a deadline, a stale report for a closed fd, and a second reader.
//!
//! The kernel is an atomic: the data queued on the socket. A read takes from it or
//! "would block"; the kernel thread queues data and then reports it, as epoll reports
//! an edge after the data that caused it. A park is a wait on a loom `Notify`, which the
//! report's wake-up (or the deadline's timer) notifies; like the scheduler's park it
//! keeps a wake-up that comes first, and may return for an old one.
//!
//! What must hold:
//!
//! - **No lost wake-up**: a reader whose read would block while data is on its way
//!   gets that data. Lost, it waits for ever: loom reports the deadlock.
//! - **Woken or timed out, never both, never neither**, and the node is off the list
//!   when the wait returns (`!has_waiters()`).
//! - **A stale report wakes nothing**: a report for the fd a descriptor served before
//!   it was reused does not move the new fd's epoch nor wake its waiter.
//! - **Every waiter is woken**: two readers listed on one slot both get their data from
//!   one report.
//! - **A drained stream still sees its end**: a reader that skips its call after a short
//!   read (the "Drained streams" shortcut) must not wait for a report of an end of
//!   stream that came with the data it just read.

#![cfg(loom)]

mod sched_common;

use gogreen::slot::{Node, Settled, Slot};

use loom::sync::Notify;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::thread;
use sched_common::{Outcomes, Start, check};
use std::sync::Arc;

struct World {
    slot: Slot<usize>,
    /// The socket's receive side: units queued (shifted left by one), and `EOF`.
    stream: AtomicUsize,
    /// Each reader's park, by waiter id.
    parkers: [Notify; 2],
    /// The reader's deadline has passed (set by the timer before it wakes the reader).
    expired: AtomicBool,
}

/// The peer closed its end: reads return the end once the queued units are taken.
const EOF: usize = 1;
const UNIT: usize = 2;

fn world() -> Arc<World> {
    Arc::new(World {
        slot: Slot::new(),
        stream: AtomicUsize::new(0),
        parkers: [Notify::new(), Notify::new()],
        expired: AtomicBool::new(false),
    })
}

#[derive(Debug, PartialEq)]
enum Read {
    Got,
    TimedOut,
}

/// R2: take one unit, or "would block".
fn try_read(w: &World) -> bool {
    w.stream
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |s| {
            (s >= UNIT).then(|| s - UNIT)
        })
        .is_ok()
}

/// A green thread reading: R1–R6 as `net/fd.rs` and `netpoll/wait.rs` run them.
fn reader(w: &World, me: usize) -> Read {
    loop {
        let epoch = w.slot.epoch(); // R1
        if try_read(w) {
            return Read::Got; // R2
        }
        let node = Node::new(me);
        // SAFETY: `node` stays in this frame until `settle` says it is off the list.
        if !unsafe { w.slot.enlist(epoch, &node) } {
            continue; // R3: a report came since R1
        }
        loop {
            w.parkers[me].wait(); // R5
            let expired = w.expired.load(Ordering::SeqCst);
            // SAFETY: listed above; we stop at the first answer other than Waiting.
            match unsafe { w.slot.settle(&node, expired) } {
                Settled::Woken => break,
                Settled::GaveUp => return Read::TimedOut,
                Settled::Waiting => {}
            }
        }
    }
}

/// The kernel queues `n` units, then the poller picks the report up (P1–P3).
fn arrive(w: &World, n: usize) {
    w.stream.fetch_add(n * UNIT, Ordering::SeqCst);
    w.slot.report(0, false, |who| w.parkers[who].notify());
}

#[test]
fn a_report_is_never_lost() {
    static OUT: Outcomes = Outcomes::new();
    check("a_report_is_never_lost", |start: Start| {
        let w = world();
        let kernel = {
            let w = w.clone();
            thread::spawn(move || arrive(&w, 1))
        };
        start.spawned();
        assert_eq!(reader(&w, 0), Read::Got);
        kernel.join().unwrap();
        assert!(!w.slot.has_waiters(), "a node was left listed");
        OUT.mark(format!("epoch {}", w.slot.epoch()));
    });
    OUT.assert_reached(&["epoch 1"]);
}

#[test]
fn a_deadline_races_a_report() {
    static OUT: Outcomes = Outcomes::new();
    check("a_deadline_races_a_report", |start: Start| {
        let w = world();
        let kernel = {
            let w = w.clone();
            thread::spawn(move || arrive(&w, 1))
        };
        let timer = {
            let w = w.clone();
            thread::spawn(move || {
                w.expired.store(true, Ordering::SeqCst);
                w.parkers[0].notify();
            })
        };
        start.spawned();
        let how = reader(&w, 0);
        kernel.join().unwrap();
        timer.join().unwrap();
        assert!(!w.slot.has_waiters(), "{how:?}: a node was left listed");
        OUT.mark(format!("{how:?}"));
    });
    OUT.assert_reached(&["Got", "TimedOut"]);
}

#[test]
fn a_stale_report_does_not_reach_the_next_fd() {
    check(
        "a_stale_report_does_not_reach_the_next_fd",
        |start: Start| {
            let w = world();
            // The descriptor served fd A (generation 0); a report for A is on its way.
            let poller = {
                let w = w.clone();
                thread::spawn(move || w.slot.report(0, true, |who| w.parkers[who].notify()))
            };
            start.spawned();
            // A closes; the descriptor is reused for fd B (generation 1), whose reader
            // finds nothing to read and lists itself.
            w.slot.reset(1);
            let epoch = w.slot.epoch();
            let node = Node::new(1);
            // SAFETY: `node` outlives its listing (settled below).
            assert!(
                unsafe { w.slot.enlist(epoch, &node) },
                "a report for A moved B's epoch"
            );
            poller.join().unwrap();
            // SAFETY: listed above.
            assert_eq!(
                unsafe { w.slot.settle(&node, false) },
                Settled::Waiting,
                "a report for A woke B's reader"
            );
            // SAFETY: as above; B's reader gives up.
            assert_eq!(unsafe { w.slot.settle(&node, true) }, Settled::GaveUp);
            assert_eq!(w.slot.epoch(), epoch);
            assert!(!w.slot.seen().hung_up, "A's hang-up reached B");
        },
    );
}

#[test]
fn one_report_wakes_every_listed_reader() {
    check("one_report_wakes_every_listed_reader", |start: Start| {
        let w = world();
        // Reader 1 found nothing and listed itself; reader 0 is on its way, racing the
        // report of two units.
        let listed = Node::new(1);
        // SAFETY: `listed` outlives its listing (settled below).
        assert!(unsafe { w.slot.enlist(w.slot.epoch(), &listed) });
        let other = {
            let w = w.clone();
            thread::spawn(move || reader(&w, 0))
        };
        start.spawned();
        arrive(&w, 2);
        // Reader 1's park, then its retry.
        loop {
            // SAFETY: listed above.
            match unsafe { w.slot.settle(&listed, false) } {
                Settled::Woken => break,
                Settled::Waiting => w.parkers[1].wait(),
                Settled::GaveUp => unreachable!(),
            }
        }
        assert!(try_read(&w), "reader 1 was woken to nothing");
        assert_eq!(other.join().unwrap(), Read::Got);
        assert!(!w.slot.has_waiters());
    });
}

/// A stream reader with the "Drained streams" shortcut of `net/fd.rs`: each read takes
/// everything queued into a two-unit buffer; a read shorter than that leaves the stream
/// drained, and until the epoch moves (or a hang-up is seen) the next read waits without
/// trying. Returns the units read before the end of the stream.
fn stream_reader(w: &World) -> usize {
    let mut got = 0;
    let mut drained = 0; // 1 + the epoch of the last short read
    loop {
        let seen = w.slot.seen(); // R1
        let skip = !seen.hung_up && drained == seen.epoch + 1;
        if !skip {
            // R2: a read takes everything queued (up to two units), else the end.
            let s = w.stream.fetch_and(EOF, Ordering::SeqCst);
            let n = s / UNIT;
            if n > 0 {
                got += n;
                if n < 2 {
                    drained = seen.epoch + 1;
                }
                continue;
            }
            if s & EOF != 0 {
                return got;
            }
        }
        let node = Node::new(0);
        // SAFETY: as in `reader`.
        if !unsafe { w.slot.enlist(seen.epoch, &node) } {
            continue;
        }
        loop {
            w.parkers[0].wait();
            // SAFETY: as in `reader`.
            match unsafe { w.slot.settle(&node, false) } {
                Settled::Woken => break,
                Settled::Waiting => {}
                Settled::GaveUp => unreachable!(),
            }
        }
    }
}

#[test]
fn a_short_read_then_the_end_of_the_stream() {
    check("a_short_read_then_the_end_of_the_stream", |start: Start| {
        let w = world();
        let kernel = {
            let w = w.clone();
            // The last unit and the peer's close arrive, and are reported, together.
            thread::spawn(move || {
                w.stream.fetch_add(UNIT, Ordering::SeqCst);
                w.stream.fetch_or(EOF, Ordering::SeqCst);
                w.slot.report(0, true, |who| w.parkers[who].notify());
            })
        };
        start.spawned();
        assert_eq!(stream_reader(&w), 1);
        kernel.join().unwrap();
        assert!(!w.slot.has_waiters());
    });
}
