//! `gogreen::sync::Mutex`'s starvation mode (Go's): a waiter left waiting over a
//! millisecond is handed the lock. Its own binary, because the counter it watches
//! (`Mutex::starvation_count`) is process-wide.

use gogreen::sync::Mutex;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A waiter parks; the holder keeps it waiting over a millisecond, then unlocks and
/// relocks at once, barging past the woken waiter (which sits in the holder's run
/// queue), and keeps the lock while it sleeps. The waiter runs meanwhile, finds the
/// lock held after waiting too long, and parks in starvation mode; the holder's next
/// unlock hands it the lock. On a loaded machine the waiter may not get to run while
/// the holder sleeps, so the scenario is tried until it happens (it does at once).
#[test]
fn a_woken_waiter_that_lost_and_waited_long_starves() {
    gogreen::run(|| {
        for _ in 0..50 {
            let m = Arc::new(Mutex::new(Vec::new()));
            let before = Mutex::<()>::starvation_count();
            let mut g = m.lock().unwrap();
            let m2 = m.clone();
            let waiter = gogreen::spawn(move || m2.lock().unwrap().push("waiter"));
            // Long enough for the waiter to give up spinning and park, and to starve.
            gogreen::sleep(Duration::from_millis(3));
            drop(g);
            g = m.lock().unwrap();
            g.push("holder");
            gogreen::sleep(Duration::from_millis(3));
            drop(g);
            waiter.join().unwrap();
            let mut got = m.lock().unwrap().clone();
            got.sort();
            assert_eq!(got, ["holder", "waiter"]);
            if Mutex::<()>::starvation_count() > before {
                return;
            }
        }
        panic!("the waiter never starved");
    });
}

/// Under contention from green threads and OS threads that relock in loops, a
/// latecomer still gets the lock, and starvation mode is entered along the way.
///
/// The green hogs yield every few rounds. One that never does keeps its processor for
/// as long as it wins the lock, and on one processor that hits a scheduler problem
/// that has nothing to do with the mutex: once sysmon has replaced the hog's processor
/// and the replacement went idle, sysmon sleeps, and what the hog readies on its
/// retired processor (the waiter its unlock woke) is never run.
#[test]
fn contention_reaches_starvation_mode_and_everyone_gets_in() {
    let m = Arc::new(Mutex::new(0u64));
    let stop = Arc::new(AtomicBool::new(false));
    let before = Mutex::<()>::starvation_count();
    let hog = |m: Arc<Mutex<u64>>, stop: Arc<AtomicBool>| {
        move || {
            let mut rounds = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let mut g = m.lock().unwrap();
                // Hold it a while, so waiters wait.
                for _ in 0..2000 {
                    *g = std::hint::black_box(*g + 1);
                }
                drop(g);
                rounds += 1;
                if rounds.is_multiple_of(16) && gogreen::current().is_some() {
                    gogreen::yield_now();
                }
            }
        }
    };
    let green: Vec<_> = (0..6)
        .map(|_| gogreen::spawn(hog(m.clone(), stop.clone())))
        .collect();
    let os: Vec<_> = (0..2)
        .map(|_| std::thread::spawn(hog(m.clone(), stop.clone())))
        .collect();
    // Each latecomer must get in; keep going until starvation mode has been seen (a
    // minute at most, far more than it takes).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut latecomers = 0;
    while latecomers < 20 || Mutex::<()>::starvation_count() == before {
        assert!(
            std::time::Instant::now() < deadline,
            "no starvation mode under contention"
        );
        let m = m.clone();
        gogreen::spawn(move || drop(m.lock().unwrap()))
            .join()
            .unwrap();
        latecomers += 1;
    }
    stop.store(true, Ordering::Relaxed);
    for t in green {
        t.join().unwrap();
    }
    for t in os {
        t.join().unwrap();
    }
}
