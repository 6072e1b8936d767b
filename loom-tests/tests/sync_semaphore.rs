//! loom models of `gogreen::sync::Semaphore`: permits never go negative, a release
//! grants queued requests in order, and a timed-out waiter neither keeps permits nor
//! blocks the waiters behind it.
#![cfg(loom)]

mod sched_common;

use gogreen::sync::{AcquireError, Semaphore};
use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use sched_common::{Outcomes, check};
use std::time::Duration;

/// One permit, two holders in turn: never both inside.
#[test]
fn one_permit_two_holders() {
    check("semaphore one_permit", |start| {
        let s = Arc::new((Semaphore::new(1), AtomicUsize::new(0)));
        let enter = |s: &(Semaphore, AtomicUsize)| {
            let _p = s.0.acquire().unwrap();
            assert_eq!(s.1.fetch_add(1, Ordering::Relaxed), 0);
            s.1.fetch_sub(1, Ordering::Relaxed);
        };
        let s2 = s.clone();
        let t = thread::spawn(move || enter(&s2));
        start.spawned();
        enter(&s);
        t.join().unwrap();
        assert_eq!(s.0.available_permits(), 1);
    });
}

/// A request for two waits for both permits while a holder of one returns it.
#[test]
fn a_large_request_waits_for_all_it_needs() {
    check("semaphore large_request", |start| {
        let s = Arc::new(Semaphore::new(2));
        let s2 = s.clone();
        let t = thread::spawn(move || {
            let p = s2.acquire_many(2).unwrap();
            assert_eq!(p.num_permits(), 2);
        });
        start.spawned();
        drop(s.acquire().unwrap());
        t.join().unwrap();
        assert_eq!(s.available_permits(), 2);
    });
}

/// A timed waiter for two permits sits ahead of a waiter for one; the holder releases.
/// Whether the timed waiter got its permits or timed out, the waiter behind it gets
/// its permit (a time-out at the front grants those behind), and all permits return.
#[test]
fn a_timed_out_waiter_lets_the_next_one_in() {
    static OUTCOMES: Outcomes = Outcomes::new();
    check("semaphore timeout", |start| {
        let s = Arc::new(Semaphore::new(2));
        let held = s.acquire().unwrap().forget_into_count();
        let (s2, s3) = (s.clone(), s.clone());
        let timed =
            thread::spawn(
                move || match s2.acquire_many_timeout(2, Duration::from_secs(1)) {
                    Ok(p) => {
                        OUTCOMES.mark("acquired");
                        drop(p)
                    }
                    Err(AcquireError::Timeout) => OUTCOMES.mark("timed out"),
                    Err(e) => panic!("{e}"),
                },
            );
        let other = thread::spawn(move || drop(s3.acquire().unwrap()));
        start.spawned();
        s.release(held);
        timed.join().unwrap();
        other.join().unwrap();
        assert_eq!(s.available_permits(), 2);
    });
    OUTCOMES.assert_reached(&["acquired", "timed out"]);
}

trait ForgetIntoCount {
    fn forget_into_count(self) -> usize;
}

impl ForgetIntoCount for gogreen::sync::SemaphorePermit<'_> {
    fn forget_into_count(self) -> usize {
        let n = self.num_permits();
        self.forget();
        n
    }
}
