//! Sleeping: green threads park on timers, OS threads sleep.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
fn sleep_in_a_green_thread_lasts_at_least_the_duration() {
    let elapsed = gogreen::run(|| {
        let start = Instant::now();
        gogreen::sleep(Duration::from_millis(30));
        start.elapsed()
    });
    assert!(elapsed >= Duration::from_millis(30));
}

#[test]
fn sleep_on_an_os_thread_sleeps_the_thread() {
    let start = Instant::now();
    gogreen::sleep(Duration::from_millis(10));
    assert!(start.elapsed() >= Duration::from_millis(10));
}

#[test]
fn zero_and_huge_durations() {
    gogreen::run(|| gogreen::sleep(Duration::ZERO));
    // A sleeper with an enormous deadline must not block the others or overflow.
    let h = gogreen::spawn(|| gogreen::sleep(Duration::MAX));
    drop(h);
    assert_eq!(gogreen::run(|| 1), 1);
}

#[test]
fn many_sleepers_wake_after_their_deadlines_while_others_run() {
    // Which sleeper wakes first among those due together depends on the machine's
    // load; what must hold is that none wakes early and all wake.
    let woke = Arc::new(Mutex::new(Vec::new()));
    gogreen::run({
        let woke = woke.clone();
        move || {
            let hs: Vec<_> = (0..100u64)
                .rev()
                .map(|i| {
                    let woke = woke.clone();
                    gogreen::spawn(move || {
                        let d = Duration::from_millis(20 + i * 2);
                        let start = Instant::now();
                        gogreen::sleep(d);
                        woke.lock().unwrap().push((i, start.elapsed() >= d));
                    })
                })
                .collect();
            // Busy green threads meanwhile.
            let busy: Vec<_> = (0..4)
                .map(|_| gogreen::spawn(|| (0..2000).for_each(|_| gogreen::yield_now())))
                .collect();
            for h in hs.into_iter().chain(busy) {
                h.join().unwrap();
            }
        }
    });
    let woke = woke.lock().unwrap();
    assert_eq!(woke.len(), 100);
    for &(i, on_time) in woke.iter() {
        assert!(on_time, "sleeper {i} woke before its deadline");
    }
}

#[test]
fn a_timer_wakes_an_idle_runtime() {
    // Nothing else runs: the only way back is the idle M's timed sleep.
    let start = Instant::now();
    gogreen::spawn(|| gogreen::sleep(Duration::from_millis(50)))
        .join()
        .unwrap();
    let e = start.elapsed();
    assert!(e >= Duration::from_millis(50) && e < common::PATIENCE);
}
