//! loom models of `gogreen::sync::Condvar`: a notify is never lost between a waiter's
//! check of its condition and its sleep, never spent on a waiter that timed out, and
//! `notify_all` wakes every waiter.
#![cfg(loom)]

mod sched_common;

use gogreen::sync::{Condvar, Mutex};
use loom::sync::Arc;
use loom::thread;
use sched_common::{Outcomes, check};

type Flag = Arc<(Mutex<bool>, Condvar)>;

fn flag() -> Flag {
    Arc::new((Mutex::new(false), Condvar::new()))
}

fn wait_for(f: &Flag) {
    let (m, cv) = &**f;
    let g = cv.wait_while(m.lock().unwrap(), |set| !*set).unwrap();
    assert!(*g);
}

fn set(f: &Flag, all: bool) {
    let (m, cv) = &**f;
    *m.lock().unwrap() = true;
    if all {
        cv.notify_all();
    } else {
        cv.notify_one();
    }
}

/// One waiter, one notifier: the notify may come before, during or after the wait.
#[test]
fn notify_one_wakes_the_waiter() {
    check("condvar notify_one", |start| {
        let f = flag();
        let f2 = f.clone();
        let t = thread::spawn(move || wait_for(&f2));
        start.spawned();
        set(&f, false);
        t.join().unwrap();
    });
}

/// Two waiters, one `notify_all`: both wake.
#[test]
fn notify_all_wakes_both() {
    check("condvar notify_all", |start| {
        let f = flag();
        let (f2, f3) = (f.clone(), f.clone());
        let t2 = thread::spawn(move || wait_for(&f2));
        let t3 = thread::spawn(move || wait_for(&f3));
        start.spawned();
        set(&f, true);
        t2.join().unwrap();
        t3.join().unwrap();
    });
}

/// A timed waiter races a `notify_one` meant for someone: if the timed waiter was the
/// one notified (not timed out), it passes the notification on; if it timed out, the
/// notify must have gone to the other waiter. Either way the untimed waiter wakes —
/// a notify spent on a waiter that then reported a time-out would leave it asleep, and
/// loom would report the deadlock. (Under loom a timed wait times out after one yield.)
#[test]
fn notify_one_skips_a_timed_out_waiter() {
    static OUTCOMES: Outcomes = Outcomes::new();
    check("condvar timeout", |start| {
        let f = flag();
        let (f2, f3) = (f.clone(), f.clone());
        let timed = thread::spawn(move || {
            let (m, cv) = &*f2;
            let g = m.lock().unwrap();
            let (g, r) = cv
                .wait_timeout(g, std::time::Duration::from_secs(1))
                .unwrap();
            drop(g);
            if r.timed_out() {
                OUTCOMES.mark("timed out");
            } else {
                OUTCOMES.mark("notified");
                cv.notify_one();
            }
        });
        let untimed = thread::spawn(move || wait_for(&f3));
        start.spawned();
        set(&f, false);
        timed.join().unwrap();
        untimed.join().unwrap();
    });
    OUTCOMES.assert_reached(&["timed out", "notified"]);
}
