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

/// Under contention from green threads that relock in loops — and yield now and then
/// while holding the lock, so that even one processor sees contention — latecomers
/// still get the lock, and starvation mode is entered along the way.
///
/// Green threads only: mixed with OS threads the locks are covered by `sync_mutex.rs`,
/// while here, on one processor, OS-thread hogs make sysmon replace processors again
/// and again and hit two scheduler bugs unrelated to the mutex (`docs/sync.md`,
/// "Known limits": work stranded on a retired processor, and a green thread readied
/// from an OS thread left in the global queue beside an idle processor).
#[test]
fn contention_reaches_starvation_mode_and_everyone_gets_in() {
    gogreen::run(|| {
        let m = Arc::new(Mutex::new(0u64));
        let stop = Arc::new(AtomicBool::new(false));
        let before = Mutex::<()>::starvation_count();
        let hogs: Vec<_> = (0..6)
            .map(|_| {
                let (m, stop) = (m.clone(), stop.clone());
                gogreen::spawn(move || {
                    let mut rounds = 0u32;
                    while !stop.load(Ordering::Relaxed) {
                        let mut g = m.lock().unwrap();
                        // Hold it a while, so waiters wait.
                        for _ in 0..2000 {
                            *g = std::hint::black_box(*g + 1);
                        }
                        rounds += 1;
                        if rounds.is_multiple_of(16) {
                            gogreen::yield_now();
                        }
                    }
                })
            })
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
        for h in hogs {
            h.join().unwrap();
        }
    });
}
