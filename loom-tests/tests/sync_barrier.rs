//! loom models of `gogreen::sync::Barrier`: a round releases its callers once, with one
//! leader, and the next round's callers are not released by the previous leader.
#![cfg(loom)]

mod sched_common;

use gogreen::sync::Barrier;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use sched_common::check;

/// Two callers, two rounds: each round has one leader, and nobody passes a round before
/// both arrived at it.
#[test]
fn two_rounds_of_two() {
    check("barrier two_rounds", |start| {
        let b = Arc::new((Barrier::new(2), AtomicUsize::new(0), AtomicUsize::new(0)));
        let party = |b: &(Barrier, AtomicUsize, AtomicUsize)| {
            let mut leader = 0;
            for round in 0..2 {
                b.1.fetch_add(1, Ordering::Relaxed);
                if b.0.wait().is_leader() {
                    leader += 1;
                    b.2.fetch_add(1, Ordering::Relaxed);
                }
                // Both arrived at this round before anyone passed it.
                assert!(b.1.load(Ordering::Relaxed) >= 2 * (round + 1));
            }
            leader
        };
        let b2 = b.clone();
        let t = thread::spawn(move || party(&b2));
        start.spawned();
        let mine = party(&b);
        let theirs = t.join().unwrap();
        assert_eq!(mine + theirs, 2);
        assert_eq!(b.2.load(Ordering::Relaxed), 2);
    });
}
