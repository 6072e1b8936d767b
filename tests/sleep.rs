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
fn many_sleepers_wake_in_order_while_others_run() {
    let order = Arc::new(Mutex::new(Vec::new()));
    gogreen::run({
        let order = order.clone();
        move || {
            let hs: Vec<_> = (0..100u64)
                .rev()
                .map(|i| {
                    let order = order.clone();
                    gogreen::spawn(move || {
                        gogreen::sleep(Duration::from_millis(20 + i * 2));
                        order.lock().unwrap().push(i);
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
    let order = order.lock().unwrap();
    assert_eq!(order.len(), 100);
    // Two ms apart: allow neighbours to swap when the machine is slow, not more.
    for (pos, &i) in order.iter().enumerate() {
        assert!(
            (pos as i64 - i as i64).abs() <= 10,
            "sleeper {i} woke at position {pos}: {order:?}"
        );
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
