//! `gogreen::sync::Barrier`: each round releases its `n` callers exactly once, with one
//! leader, green threads and OS threads together.

use gogreen::sync::Barrier;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const ROUNDS: usize = 50;

/// Per round: how many arrived, how many passed, how many led.
struct Rounds {
    arrived: Vec<AtomicUsize>,
    passed: Vec<AtomicUsize>,
    leaders: Vec<AtomicUsize>,
}

fn party(b: &Barrier, r: &Rounds, n: usize) {
    for round in 0..ROUNDS {
        r.arrived[round].fetch_add(1, Ordering::SeqCst);
        let leader = b.wait().is_leader();
        // Nobody passes a round before all n arrived at it, and nobody of the next
        // round is released with this one (it has not arrived at the next yet).
        assert_eq!(r.arrived[round].load(Ordering::SeqCst), n, "round {round}");
        r.passed[round].fetch_add(1, Ordering::SeqCst);
        if leader {
            r.leaders[round].fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[test]
fn rounds_of_green_and_os_threads() {
    let (green, os) = (12, 3);
    let n = green + os;
    let b = Arc::new(Barrier::new(n));
    let counters = || (0..ROUNDS).map(|_| AtomicUsize::new(0)).collect();
    let r = Arc::new(Rounds {
        arrived: counters(),
        passed: counters(),
        leaders: counters(),
    });
    let g: Vec<_> = (0..green)
        .map(|_| {
            let (b, r) = (b.clone(), r.clone());
            gogreen::spawn(move || party(&b, &r, n))
        })
        .collect();
    let o: Vec<_> = (0..os)
        .map(|_| {
            let (b, r) = (b.clone(), r.clone());
            std::thread::spawn(move || party(&b, &r, n))
        })
        .collect();
    for t in g {
        t.join().unwrap();
    }
    for t in o {
        t.join().unwrap();
    }
    for round in 0..ROUNDS {
        assert_eq!(r.passed[round].load(Ordering::SeqCst), n, "round {round}");
        assert_eq!(r.leaders[round].load(Ordering::SeqCst), 1, "round {round}");
    }
}

/// A large round: more waiters than one wake-up batch.
#[test]
fn a_thousand_green_threads() {
    let n = 1000;
    let b = Arc::new(Barrier::new(n));
    let leaders = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (b, leaders) = (b.clone(), leaders.clone());
            gogreen::spawn(move || {
                for _ in 0..3 {
                    if b.wait().is_leader() {
                        leaders.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.join().unwrap();
    }
    assert_eq!(leaders.load(Ordering::SeqCst), 3);
}

#[test]
fn zero_and_one_never_wait() {
    assert!(Barrier::new(0).wait().is_leader());
    let b = Barrier::new(1);
    assert!(b.wait().is_leader());
    assert!(b.wait().is_leader());
    assert_eq!(format!("{b:?}"), "Barrier { n: 1, .. }");
}
