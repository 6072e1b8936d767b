//! `WaitGroup`: green threads and OS threads wait alike.

use gogreen::sync::WaitGroup;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[test]
fn wait_returns_at_once_when_zero() {
    WaitGroup::new().wait();
    gogreen::run(|| WaitGroup::new().wait());
}

#[test]
fn green_threads_and_os_threads_wait_together() {
    let wg = WaitGroup::new();
    let done = Arc::new(AtomicUsize::new(0));
    wg.add(1000);
    // Waiters of both kinds, before the work finishes.
    let os_waiters: Vec<_> = (0..4)
        .map(|_| {
            let (wg, done) = (wg.clone(), done.clone());
            std::thread::spawn(move || {
                wg.wait();
                assert_eq!(done.load(Ordering::SeqCst), 1000);
            })
        })
        .collect();
    let green_waiters: Vec<_> = (0..100)
        .map(|_| {
            let (wg, done) = (wg.clone(), done.clone());
            gogreen::spawn(move || {
                wg.wait();
                assert_eq!(done.load(Ordering::SeqCst), 1000);
            })
        })
        .collect();
    for _ in 0..1000 {
        let (wg, done) = (wg.clone(), done.clone());
        gogreen::spawn(move || {
            gogreen::yield_now();
            done.fetch_add(1, Ordering::SeqCst);
            wg.done();
        });
    }
    for t in os_waiters {
        t.join().unwrap();
    }
    for h in green_waiters {
        h.join().unwrap();
    }
}

#[test]
fn a_wait_group_can_be_reused() {
    let wg = WaitGroup::new();
    for round in 0..50 {
        wg.add(10);
        for _ in 0..10 {
            let wg = wg.clone();
            gogreen::spawn(move || wg.done());
        }
        wg.wait();
        assert_eq!(wg.count(), 0, "round {round}");
    }
}

#[test]
fn done_without_add_panics() {
    let wg = WaitGroup::new();
    let r = std::panic::catch_unwind(|| wg.done());
    assert!(r.is_err());
    assert_eq!(wg.count(), 0);
}

/// An `add` that would pass `usize::MAX` panics and leaves the count alone; it used to
/// wrap, after which `wait` returned with tasks outstanding.
#[test]
fn an_overflowing_add_panics_and_keeps_the_count() {
    let wg = WaitGroup::new();
    wg.add(usize::MAX - 1);
    let e = std::panic::catch_unwind(|| wg.add(2)).unwrap_err();
    let msg = e.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("WaitGroup::add(2) overflows"), "{msg}");
    assert_eq!(wg.count(), usize::MAX - 1);
    wg.add(1);
    assert_eq!(wg.count(), usize::MAX);
}
