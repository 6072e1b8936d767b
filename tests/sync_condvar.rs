//! `gogreen::sync::Condvar`: `notify_one` wakes one waiter, `notify_all` all of them,
//! green threads and OS threads alike; timeouts and `wait_while` behave as std's.

use gogreen::sync::{Condvar, Mutex};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the waiters and the notifier share, under the mutex.
#[derive(Default)]
struct Counts {
    /// Waiters inside `wait` (they count themselves in before waiting).
    waiting: usize,
    /// `notify_one` calls made so far.
    notified: usize,
    /// Waiters that came back from `wait`.
    woken: usize,
}

type Shared = Arc<(Mutex<Counts>, Condvar)>;

/// Waits once, counting itself in and out. A wake-up must be paid for by a notify:
/// more waiters back than notifies made means a notify woke two, or one woke without.
fn waiter(s: &Shared) {
    let (m, cv) = &**s;
    let mut g = m.lock().unwrap();
    g.waiting += 1;
    g = cv.wait(g).unwrap();
    g.woken += 1;
    assert!(g.woken <= g.notified, "woken without a notify");
}

/// Blocks until `n` waiters are inside `wait` (they counted themselves in, and the
/// mutex they released says so).
fn until_waiting(s: &Shared, n: usize) {
    let (m, _) = &**s;
    while m.lock().unwrap().waiting < n {
        if gogreen::current().is_some() {
            gogreen::yield_now();
        } else {
            std::thread::yield_now();
        }
    }
}

fn spawn_waiters(s: &Shared, green: usize, os: usize) -> Vec<Box<dyn FnOnce() + Send>> {
    let mut joins: Vec<Box<dyn FnOnce() + Send>> = Vec::new();
    for _ in 0..green {
        let s = s.clone();
        let h = gogreen::spawn(move || waiter(&s));
        joins.push(Box::new(move || h.join().unwrap()));
    }
    for _ in 0..os {
        let s = s.clone();
        let h = std::thread::spawn(move || waiter(&s));
        joins.push(Box::new(move || h.join().unwrap()));
    }
    joins
}

/// Each `notify_one` wakes exactly one waiter: `n` notifies wake the `n` waiters, one
/// each, and no waiter comes back before its notify (checked by each waiter).
#[test]
fn notify_one_wakes_one_at_a_time() {
    let s: Shared = Arc::default();
    let joins = spawn_waiters(&s, 6, 2);
    until_waiting(&s, 8);
    let (m, cv) = &*s;
    for i in 1..=8 {
        m.lock().unwrap().notified = i;
        cv.notify_one();
        // The one woken comes back and counts itself; the others stay.
        while m.lock().unwrap().woken < i {
            std::thread::yield_now();
        }
        assert_eq!(m.lock().unwrap().woken, i);
    }
    for j in joins {
        j();
    }
}

/// One `notify_all` wakes every waiter, green and OS alike.
#[test]
fn notify_all_wakes_all() {
    let s: Shared = Arc::default();
    let joins = spawn_waiters(&s, 50, 3);
    until_waiting(&s, 53);
    let (m, cv) = &*s;
    m.lock().unwrap().notified = 53;
    cv.notify_all();
    for j in joins {
        j();
    }
    assert_eq!(m.lock().unwrap().woken, 53);
}

/// A notify with nobody waiting is not saved for later.
#[test]
fn a_notify_before_the_wait_is_not_kept() {
    gogreen::run(|| {
        let m = Mutex::new(());
        let cv = Condvar::new();
        cv.notify_one();
        cv.notify_all();
        let (_g, r) = cv
            .wait_timeout(m.lock().unwrap(), Duration::from_millis(5))
            .unwrap();
        assert!(r.timed_out());
    });
}

/// `wait_timeout` returns after its time with nobody notifying, in a green thread and
/// on an OS thread.
#[test]
fn wait_timeout_times_out() {
    let check = || {
        let m = Mutex::new(3);
        let cv = Condvar::new();
        let start = Instant::now();
        let (g, r) = cv
            .wait_timeout(m.lock().unwrap(), Duration::from_millis(10))
            .unwrap();
        assert!(r.timed_out());
        assert!(start.elapsed() >= Duration::from_millis(10));
        assert_eq!(*g, 3); // the mutex is held again
    };
    gogreen::run(check);
    check();
}

/// `wait_while` checks the condition before waiting (std's semantics: no wait at all if
/// it is already false), and keeps waiting through notifies that leave it true.
#[test]
fn wait_while_loops_on_its_condition() {
    // (value, checks made by the waiter)
    let pair = Arc::new((Mutex::new((0u32, 0u32)), Condvar::new()));
    // Already false: returns at once, without a notify.
    let g = pair
        .1
        .wait_while(pair.0.lock().unwrap(), |s| s.0 > 0)
        .unwrap();
    drop(g);
    let p2 = pair.clone();
    let waiter = gogreen::spawn(move || {
        let (m, cv) = &*p2;
        let g = cv
            .wait_while(m.lock().unwrap(), |s| {
                s.1 += 1;
                s.0 < 3
            })
            .unwrap();
        *g
    });
    // Once the waiter has made its first check, it waits: the check and the wait are
    // one critical section.
    while pair.0.lock().unwrap().1 == 0 {
        gogreen::run(gogreen::yield_now);
    }
    for _ in 0..3 {
        pair.0.lock().unwrap().0 += 1;
        pair.1.notify_all();
    }
    let (v, checks) = waiter.join().unwrap();
    assert_eq!(v, 3);
    // The first check, then one per notify it woke for (notifies that come while it is
    // awake and relocking fold into one): 2 to 4.
    assert!((2..=4).contains(&checks), "{checks}");
}

/// `wait_timeout_while` reports a time-out only if the condition still holds.
#[test]
fn wait_timeout_while_reports_the_condition() {
    gogreen::run(|| {
        let m = Mutex::new(false);
        let cv = Condvar::new();
        let (g, r) = cv
            .wait_timeout_while(m.lock().unwrap(), Duration::from_millis(5), |done| !*done)
            .unwrap();
        assert!(r.timed_out());
        assert!(!*g);
        drop(g);
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let p2 = pair.clone();
        let setter = gogreen::spawn(move || {
            gogreen::sleep(Duration::from_millis(2));
            *p2.0.lock().unwrap() = true;
            p2.1.notify_one();
        });
        let (g, r) = pair
            .1
            .wait_timeout_while(pair.0.lock().unwrap(), Duration::from_secs(60), |done| {
                !*done
            })
            .unwrap();
        assert!(!r.timed_out());
        assert!(*g);
        drop(g);
        setter.join().unwrap();
    });
}

/// A waiter whose mutex was poisoned while it slept gets the guard back in an `Err`.
#[test]
fn a_wait_reports_poisoning() {
    let pair = Arc::new((Mutex::new(0), Condvar::new()));
    let p2 = pair.clone();
    let waiter = gogreen::spawn(move || {
        let (m, cv) = &*p2;
        let mut g = m.lock().unwrap();
        *g = 1;
        match cv.wait_while(g, |v| *v == 1) {
            Err(e) => *e.into_inner(),
            Ok(_) => panic!("the mutex should be poisoned"),
        }
    });
    loop {
        if *pair.0.lock().unwrap() == 1 {
            break;
        }
        gogreen::sleep(Duration::from_millis(1));
    }
    let p3 = pair.clone();
    let _ = gogreen::spawn(move || {
        let mut g = p3.0.lock().unwrap();
        *g = 2;
        p3.1.notify_all();
        panic!("poison it");
    })
    .join();
    assert_eq!(waiter.join().unwrap(), 2);
}
