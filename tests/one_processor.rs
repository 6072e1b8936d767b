//! Fairness on a single processor: nothing preempts a green thread, so these pass only
//! if yielding, preempt points and the queues give every runnable task its turn.

mod common;

use std::sync::Arc;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

fn one_processor() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        gogreen::Config::new()
            .procs(1)
            .apply()
            .expect("first use of the runtime")
    });
}

#[test]
fn a_yielding_loop_does_not_starve_the_others() {
    one_processor();
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let spinner = gogreen::spawn(move || {
        let mut turns = 0u64;
        while !s.load(Ordering::Relaxed) {
            gogreen::yield_now();
            turns += 1;
        }
        turns
    });
    // These run only if the spinner's yields let them.
    let workers: Vec<_> = (0..10)
        .map(|i| {
            gogreen::spawn(move || {
                (0..1000)
                    .map(|_| {
                        gogreen::yield_now();
                        i
                    })
                    .sum::<u64>()
            })
        })
        .collect();
    let total: u64 = workers.into_iter().map(|h| h.join().unwrap()).sum();
    stop.store(true, Ordering::Relaxed);
    assert_eq!(total, (0..10).map(|i| i * 1000).sum());
    assert!(spinner.join().unwrap() > 0);
}

#[test]
fn yielding_tasks_take_turns() {
    one_processor();
    // Two tasks yielding to each other alternate strictly on one processor.
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    gogreen::run({
        let log = log.clone();
        move || {
            let hs: Vec<_> = (0..2)
                .map(|id| {
                    let log = log.clone();
                    gogreen::spawn(move || {
                        for _ in 0..5 {
                            log.lock().unwrap().push(id);
                            gogreen::yield_now();
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
        }
    });
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 10);
    for pair in log.windows(2) {
        assert_ne!(pair[0], pair[1], "the two tasks did not alternate: {log:?}");
    }
}

#[test]
fn a_ping_pong_pair_does_not_starve_a_queued_task() {
    one_processor();
    use gogreen::chan::park;
    use std::sync::Mutex;
    // Two tasks wake each other forever; each wake puts the other in `runnext`, ahead
    // of the queue. A third task, queued behind them, must still get the processor.
    struct Baton {
        turn: AtomicUsize,
        parked: [Mutex<Option<park::Unparker>>; 2],
    }
    let baton = Arc::new(Baton {
        turn: AtomicUsize::new(0),
        parked: [Mutex::new(None), Mutex::new(None)],
    });
    let stop = Arc::new(AtomicBool::new(false));
    let pair: Vec<_> = (0..2)
        .map(|me| {
            let (baton, stop) = (baton.clone(), stop.clone());
            gogreen::spawn(move || {
                *baton.parked[me].lock().unwrap() = Some(park::current());
                loop {
                    while baton.turn.load(Ordering::SeqCst) != me {
                        if stop.load(Ordering::SeqCst) {
                            return;
                        }
                        park::park(None);
                    }
                    baton.turn.store(1 - me, Ordering::SeqCst);
                    if let Some(u) = baton.parked[1 - me].lock().unwrap().as_ref() {
                        u.unpark();
                    }
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                }
            })
        })
        .collect();
    let s = stop.clone();
    let third = gogreen::spawn(move || s.store(true, Ordering::SeqCst));
    let start = std::time::Instant::now();
    while !third.is_finished() {
        assert!(
            start.elapsed() < common::PATIENCE,
            "the ping-pong pair starved the queued task"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    third.join().unwrap();
    for u in baton.parked.iter() {
        if let Some(u) = u.lock().unwrap().as_ref() {
            u.unpark();
        }
    }
    for h in pair {
        h.join().unwrap();
    }
}

#[test]
fn preempt_point_lets_others_run() {
    one_processor();
    // A CPU-bound loop that only calls preempt_point: sysmon flags it after ~10 ms and
    // the other task gets the processor.
    let other_ran = Arc::new(AtomicBool::new(false));
    let flag = other_ran.clone();
    let hog = gogreen::spawn(move || {
        let start = std::time::Instant::now();
        let mut spins = 0u64;
        while !flag.load(Ordering::Relaxed) {
            assert!(
                start.elapsed() < common::PATIENCE,
                "preempt_point never yielded"
            );
            spins = spins.wrapping_add(1);
            gogreen::preempt_point();
        }
        spins
    });
    let flag = other_ran.clone();
    let other = gogreen::spawn(move || flag.store(true, Ordering::Relaxed));
    other.join().unwrap();
    assert!(hog.join().unwrap() > 0);
}

#[test]
fn sleepers_wake_in_deadline_order() {
    one_processor();
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let hs: Vec<_> = (0..8u64)
        .map(|i| {
            let order = order.clone();
            // Spawned longest first, so the order is the timers' doing.
            let ms = (8 - i) * 15;
            gogreen::spawn(move || {
                let start = std::time::Instant::now();
                gogreen::sleep(std::time::Duration::from_millis(ms));
                assert!(
                    start.elapsed() >= std::time::Duration::from_millis(ms),
                    "woke early"
                );
                order.lock().unwrap().push(ms);
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let order = order.lock().unwrap();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(*order, sorted);
}

#[test]
fn a_blocking_call_does_not_freeze_the_processor() {
    one_processor();
    // A G blocks its OS thread in a call the runtime knows nothing of. sysmon puts a
    // spare processor in play, and the task queued behind it runs meanwhile.
    let started = Arc::new(AtomicBool::new(false));
    let s = started.clone();
    let blocker = gogreen::spawn(move || {
        s.store(true, Ordering::SeqCst);
        std::thread::sleep(std::time::Duration::from_secs(5));
    });
    while !started.load(Ordering::SeqCst) {
        std::thread::yield_now();
    }
    let queued = gogreen::spawn(|| 42);
    assert_eq!(queued.join().unwrap(), 42);
    assert!(
        !blocker.is_finished(),
        "the queued task ran only after the blocking call returned"
    );
}

#[test]
fn a_cpu_hog_does_not_freeze_the_processor() {
    one_processor();
    // A G that computes without ever calling the runtime: the queued task still runs.
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let hog = gogreen::spawn(move || {
        let start = std::time::Instant::now();
        while !s.load(Ordering::Relaxed) {
            assert!(
                start.elapsed() < common::PATIENCE,
                "the queued task never ran"
            );
            std::hint::spin_loop();
        }
    });
    let s = stop.clone();
    let other = gogreen::spawn(move || s.store(true, Ordering::Relaxed));
    other.join().unwrap();
    hog.join().unwrap();
}
