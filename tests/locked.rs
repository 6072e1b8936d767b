//! Thread-locked green threads (`gogreen::lock_os_thread`, `Builder::locked`): a locked
//! green thread keeps its OS thread, no other green thread runs on that thread, and
//! the others keep running while it waits.

mod common;

use common::{WATCHDOG, child_scenario, expect_child_ok, run_child_watched};
use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

thread_local! {
    /// Set by a locked green thread on its own OS thread; no other green thread may
    /// ever see it on the thread it runs on.
    static MARK: Cell<u64> = const { Cell::new(0) };
}

/// A locked green thread waits 1,000 times (yields and sleeps, alternately) and must
/// find its thread and its `thread_local!` value unchanged every time, while other
/// green threads keep running and never run on its thread.
fn keeps_its_thread_while_others_run() {
    const MARKED: u64 = 0xfeed;
    let others_done = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(AtomicUsize::new(0));
    let done = others_done.clone();
    let locked = gogreen::Builder::new()
        .name("locked")
        .spawn(move || {
            gogreen::lock_os_thread();
            assert!(gogreen::is_os_thread_locked());
            let tid = std::thread::current().id();
            MARK.with(|m| m.set(MARKED));
            let mut waits = 0;
            while waits < 1000 || !done.load(Ordering::SeqCst) {
                if waits % 2 == 0 {
                    gogreen::yield_now();
                } else {
                    gogreen::sleep(Duration::from_micros(20));
                }
                waits += 1;
                assert_eq!(std::thread::current().id(), tid, "moved to another thread");
                assert_eq!(MARK.with(Cell::get), MARKED, "the thread-local changed");
            }
            MARK.with(|m| m.set(0));
            gogreen::unlock_os_thread();
            assert!(!gogreen::is_os_thread_locked());
            waits
        })
        .unwrap();
    let others: Vec<_> = (0..4)
        .map(|_| {
            let progress = progress.clone();
            gogreen::spawn(move || {
                for _ in 0..500 {
                    assert_ne!(MARK.with(Cell::get), MARKED, "ran on the locked thread");
                    progress.fetch_add(1, Ordering::Relaxed);
                    gogreen::yield_now();
                }
            })
        })
        .collect();
    for h in others {
        h.join().unwrap();
    }
    others_done.store(true, Ordering::SeqCst);
    assert_eq!(progress.load(Ordering::Relaxed), 2000);
    assert!(locked.join().unwrap() >= 1000);
}

#[test]
fn a_locked_green_thread_keeps_its_thread() {
    keeps_its_thread_while_others_run();
}

#[test]
fn a_locked_green_thread_keeps_its_thread_on_one_processor() {
    if child_scenario().as_deref() == Some("one-proc") {
        keeps_its_thread_while_others_run();
        return;
    }
    let out = run_child_watched(
        "a_locked_green_thread_keeps_its_thread_on_one_processor",
        "one-proc",
        &[("GOGREEN_PROCS", "1")],
        WATCHDOG,
    );
    expect_child_ok("one processor", out);
}

#[test]
fn a_locked_green_thread_uses_channels_joins_and_wait_groups() {
    let h = gogreen::Builder::new()
        .locked(true)
        .spawn(|| {
            let tid = std::thread::current().id();
            // Ping-pong with an unlocked green thread over a rendezvous channel.
            let (ping_tx, ping_rx) = gogreen::chan::bounded::<u32>(0);
            let (pong_tx, pong_rx) = gogreen::chan::bounded::<u32>(0);
            let echo = gogreen::spawn(move || {
                for v in ping_rx.iter() {
                    pong_tx.send(v + 1).unwrap();
                }
            });
            let mut sum = 0;
            for i in 0..200 {
                ping_tx.send(i).unwrap();
                sum += pong_rx.recv().unwrap();
            }
            drop(ping_tx);
            echo.join().unwrap();
            // Joins and a WaitGroup.
            let wg = gogreen::sync::WaitGroup::new();
            let hs: Vec<_> = (0..10)
                .map(|i| {
                    wg.add(1);
                    let wg = wg.clone();
                    gogreen::spawn(move || {
                        gogreen::yield_now();
                        wg.done();
                        i
                    })
                })
                .collect();
            wg.wait();
            let joined: u32 = hs.into_iter().map(|h| h.join().unwrap()).sum();
            // A select with a timeout that fires.
            let (_keep, never) = gogreen::chan::bounded::<()>(1);
            let timed_out = gogreen::select! {
                recv(never) -> _ => false,
                default(Duration::from_millis(2)) => true,
            };
            assert_eq!(std::thread::current().id(), tid);
            (sum, joined, timed_out)
        })
        .unwrap();
    let (sum, joined, timed_out) = h.join().unwrap();
    assert_eq!(sum, (1..=200).sum());
    assert_eq!(joined, 45);
    assert!(timed_out);
}

#[test]
fn locks_nest() {
    gogreen::run(|| {
        gogreen::lock_os_thread();
        gogreen::lock_os_thread();
        gogreen::unlock_os_thread();
        assert!(gogreen::is_os_thread_locked(), "one lock is left");
        gogreen::unlock_os_thread();
        assert!(!gogreen::is_os_thread_locked());
        // An extra unlock does nothing.
        gogreen::unlock_os_thread();
        assert!(!gogreen::is_os_thread_locked());
    });
    // Off the runtime these do nothing.
    gogreen::lock_os_thread();
    assert!(!gogreen::is_os_thread_locked());
    gogreen::unlock_os_thread();
}

/// Says on a std channel when its thread's locals are dropped.
struct TellOnDrop(std::sync::mpsc::Sender<std::thread::ThreadId>);

impl Drop for TellOnDrop {
    fn drop(&mut self) {
        let _ = self.0.send(std::thread::current().id());
    }
}

thread_local! {
    static TELL: std::cell::RefCell<Option<TellOnDrop>> = const { std::cell::RefCell::new(None) };
}

#[test]
fn a_green_thread_that_exits_locked_ends_its_thread() {
    let (tx, rx) = std::sync::mpsc::channel();
    let h = gogreen::Builder::new()
        .locked(true)
        .spawn(move || {
            TELL.with(|t| *t.borrow_mut() = Some(TellOnDrop(tx)));
            gogreen::yield_now();
            std::thread::current().id()
        })
        .unwrap();
    let tid = h.join().unwrap();
    // The thread ends after the task, and its thread-locals are dropped then.
    let dropped_on = rx
        .recv_timeout(common::PATIENCE)
        .expect("the locked green thread's OS thread did not end");
    assert_eq!(dropped_on, tid);
    // The runtime carries on with the threads it has, starting others as needed.
    let sum: u64 = (0..100)
        .map(|i| gogreen::spawn(move || i))
        .map(|h| h.join().unwrap())
        .sum();
    assert_eq!(sum, 4950);
}

#[test]
fn locked_green_threads_exiting_on_one_processor() {
    if child_scenario().as_deref() == Some("exits") {
        for round in 0..20u64 {
            let hs: Vec<_> = (0..4)
                .map(|i| {
                    gogreen::Builder::new()
                        .locked(true)
                        .spawn(move || {
                            gogreen::sleep(Duration::from_micros(100));
                            round * i
                        })
                        .unwrap()
                })
                .collect();
            let plain = gogreen::spawn(move || round);
            let s: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
            assert_eq!(s, round * 6);
            assert_eq!(plain.join().unwrap(), round);
        }
        return;
    }
    let out = run_child_watched(
        "locked_green_threads_exiting_on_one_processor",
        "exits",
        &[("GOGREEN_PROCS", "1")],
        WATCHDOG,
    );
    expect_child_ok("exits", out);
}

#[test]
fn many_locked_green_threads_come_and_go() {
    if child_scenario().as_deref() == Some("churn") {
        // Each ends its thread; the runtime reuses what it can and stays within its
        // thread limit.
        for round in 0..50u64 {
            let hs: Vec<_> = (0..8)
                .map(|i| {
                    gogreen::Builder::new()
                        .locked(true)
                        .spawn(move || {
                            gogreen::yield_now();
                            round + i
                        })
                        .unwrap()
                })
                .collect();
            let s: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
            assert_eq!(s, 8 * round + 28);
        }
        assert!(gogreen::stats().threads <= 16, "{:?}", gogreen::stats());
        return;
    }
    let out = run_child_watched(
        "many_locked_green_threads_come_and_go",
        "churn",
        &[("GOGREEN_PROCS", "2"), ("GOGREEN_MAX_THREADS", "16")],
        WATCHDOG,
    );
    expect_child_ok("churn", out);
}

#[test]
fn a_locked_green_thread_yielding_on_a_retired_processor() {
    if child_scenario().as_deref() == Some("retired") {
        // The locked green thread blocks its thread without `blocking`, with others
        // queued behind it: sysmon replaces its processor by a spare, which runs the
        // others and goes idle. Back from the call it yields on the replaced processor,
        // which it then gives up; the global queue it yielded to must still be run.
        for _ in 0..5 {
            let locked = gogreen::Builder::new()
                .locked(true)
                .spawn(|| {
                    let others: Vec<_> = (0..3u32).map(|i| gogreen::spawn(move || i)).collect();
                    std::thread::sleep(Duration::from_millis(30));
                    for _ in 0..3 {
                        gogreen::yield_now();
                    }
                    others.into_iter().map(|h| h.join().unwrap()).sum::<u32>()
                })
                .unwrap();
            assert_eq!(locked.join().unwrap(), 3);
        }
        return;
    }
    let out = run_child_watched(
        "a_locked_green_thread_yielding_on_a_retired_processor",
        "retired",
        &[("GOGREEN_PROCS", "1")],
        WATCHDOG,
    );
    expect_child_ok("retired", out);
}
