//! Blocking calls: `gogreen::blocking` hands its processor to the others for the call,
//! and calls the runtime does not know of are rescued by sysmon, whatever the state of
//! the processor the waiting green threads sit on.
//!
//! Scenarios that hang when broken run in a child process under a watchdog.

mod common;

use common::{WATCHDOG, child_scenario, expect_child_ok, run_child_watched};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};

/// Runs `scenario` of test `test` in a child with one processor, under the watchdog.
fn one_processor_child(test: &str, scenario: &str) {
    let out = run_child_watched(test, scenario, &[("GOGREEN_PROCS", "1")], WATCHDOG);
    expect_child_ok(scenario, out);
}

// ---------------------------------------------------------------------------------
// Unmarked blocking calls (issue 6): sysmon's rescue must reach every queue.

#[test]
fn yielding_while_holding_a_std_mutex_does_not_deadlock() {
    if child_scenario().as_deref() == Some("mutex-yield") {
        // A few green threads take a std Mutex and yield while holding it. The next one
        // blocks its OS thread on the Mutex, with the holder queued behind it on the
        // same processor: only a rescue of that queue lets the holder run and unlock.
        let lock = Arc::new(Mutex::new(0u64));
        let hs: Vec<_> = (0..6)
            .map(|_| {
                let lock = lock.clone();
                gogreen::spawn(move || {
                    for _ in 0..50 {
                        let mut n = lock.lock().unwrap();
                        gogreen::yield_now();
                        gogreen::yield_now();
                        *n += 1;
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(*lock.lock().unwrap(), 300);
        return;
    }
    one_processor_child(
        "yielding_while_holding_a_std_mutex_does_not_deadlock",
        "mutex-yield",
    );
}

#[test]
fn a_green_thread_queued_behind_two_blocking_calls_runs() {
    if child_scenario().as_deref() == Some("two-blocked") {
        // Two green threads block their OS threads (unmarked) until the third, queued
        // behind both on the one processor, has run.
        let gate = Arc::new(Barrier::new(3));
        let ran = Arc::new(AtomicBool::new(false));
        let (g, r) = (gate.clone(), ran.clone());
        let hs = gogreen::run(move || {
            let blockers: Vec<_> = (0..2)
                .map(|_| {
                    let g = g.clone();
                    gogreen::spawn(move || {
                        g.wait();
                    })
                })
                .collect();
            let third = gogreen::spawn(move || r.store(true, Ordering::SeqCst));
            (blockers, third)
        });
        let (blockers, third) = hs;
        third.join().unwrap();
        assert!(ran.load(Ordering::SeqCst));
        gate.wait();
        for h in blockers {
            h.join().unwrap();
        }
        return;
    }
    one_processor_child(
        "a_green_thread_queued_behind_two_blocking_calls_runs",
        "two-blocked",
    );
}

#[test]
fn green_threads_queued_behind_many_blocking_calls_run() {
    if child_scenario().as_deref() == Some("many-blocked") {
        // Eight unmarked blocking calls, queued one behind another on one processor,
        // each waiting for the green thread queued after all of them.
        let gate = Arc::new(Barrier::new(9));
        let ran = Arc::new(AtomicUsize::new(0));
        let (g, r) = (gate.clone(), ran.clone());
        let (blockers, last) = gogreen::run(move || {
            let blockers: Vec<_> = (0..8)
                .map(|_| {
                    let g = g.clone();
                    gogreen::spawn(move || {
                        g.wait();
                    })
                })
                .collect();
            let last = gogreen::spawn(move || r.fetch_add(1, Ordering::SeqCst));
            (blockers, last)
        });
        last.join().unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        gate.wait();
        for h in blockers {
            h.join().unwrap();
        }
        return;
    }
    one_processor_child(
        "green_threads_queued_behind_many_blocking_calls_run",
        "many-blocked",
    );
}

// ---------------------------------------------------------------------------------
// `gogreen::blocking` and `try_blocking` (issue 6).

#[test]
fn blocking_returns_its_value() {
    // Borrowing from the caller's stack is fine: the call runs right here.
    let words = ["a", "bb", "ccc"];
    let n =
        gogreen::run(move || gogreen::blocking(|| words.iter().map(|w| w.len()).sum::<usize>()));
    assert_eq!(n, 6);
    // Off the runtime it just calls the closure.
    assert_eq!(gogreen::blocking(|| 7), 7);
    assert_eq!(gogreen::try_blocking(|| 8).unwrap(), 8);
    assert_eq!(gogreen::run(|| gogreen::try_blocking(|| 9).unwrap()), 9);
}

#[test]
fn blocking_carries_a_panic_and_the_task_goes_on() {
    let h = gogreen::spawn(|| {
        let caught = std::panic::catch_unwind(|| gogreen::blocking(|| panic!("inside the call")));
        let payload = caught.unwrap_err();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"inside the call"));
        // The green thread has a processor again: it can park and be woken.
        let (tx, rx) = gogreen::chan::bounded(0);
        gogreen::spawn(move || tx.send(5).unwrap());
        gogreen::yield_now();
        rx.recv().unwrap()
    });
    assert_eq!(h.join().unwrap(), 5);
    // Uncaught, it is the task's panic.
    let h = gogreen::spawn(|| gogreen::blocking(|| panic!("uncaught")));
    let payload = h.join().unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"uncaught"));
}

#[test]
fn runtime_calls_inside_a_blocking_call_work() {
    let out = gogreen::run(|| {
        let me = gogreen::current().unwrap().id();
        gogreen::blocking(move || {
            // Same task, no processor: everything waits as an OS thread would.
            assert_eq!(gogreen::current().unwrap().id(), me);
            let (tx, rx) = gogreen::chan::bounded(0);
            let h = gogreen::spawn(move || {
                tx.send(1).unwrap();
                gogreen::sleep(std::time::Duration::from_millis(1));
                2
            });
            let one = rx.recv().unwrap();
            gogreen::sleep(std::time::Duration::from_millis(1));
            gogreen::yield_now();
            let wg = gogreen::sync::WaitGroup::new();
            wg.add(1);
            let w = wg.clone();
            gogreen::spawn(move || w.done());
            wg.wait();
            let nested = gogreen::blocking(|| 3);
            one + h.join().unwrap() + nested
        })
    });
    assert_eq!(out, 6);
}

#[test]
fn a_blocking_call_leaves_its_processor_to_the_others() {
    if child_scenario().as_deref() == Some("leaves-p") {
        // One processor. The blocked green thread waits for a message that a green
        // thread queued behind it sends only after it has itself waited and yielded.
        let got = gogreen::run(|| {
            let (tx, rx) = std::sync::mpsc::channel();
            let blocked = gogreen::spawn(move || gogreen::blocking(move || rx.recv().unwrap()));
            let sender = gogreen::spawn(move || {
                for _ in 0..10 {
                    gogreen::yield_now();
                }
                gogreen::sleep(std::time::Duration::from_millis(1));
                tx.send(42).unwrap();
            });
            sender.join().unwrap();
            blocked.join().unwrap()
        });
        assert_eq!(got, 42);
        return;
    }
    one_processor_child(
        "a_blocking_call_leaves_its_processor_to_the_others",
        "leaves-p",
    );
}

#[test]
fn many_blocking_calls_at_once() {
    if child_scenario().as_deref() == Some("many-calls") {
        // More calls than sysmon has spare processors for unmarked calls (32): only the
        // hand-off lets all of them wait at once, each on its own OS thread.
        const CALLS: usize = 64;
        let barrier = Arc::new(Barrier::new(CALLS + 1));
        let hs: Vec<_> = (0..CALLS)
            .map(|i| {
                let b = barrier.clone();
                gogreen::spawn(move || {
                    gogreen::blocking(|| {
                        b.wait();
                    });
                    i
                })
            })
            .collect();
        barrier.wait();
        let sum: usize = hs.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(sum, CALLS * (CALLS - 1) / 2);
        return;
    }
    one_processor_child("many_blocking_calls_at_once", "many-calls");
    let out = run_child_watched(
        "many_blocking_calls_at_once",
        "many-calls",
        &[("GOGREEN_PROCS", "2")],
        WATCHDOG,
    );
    expect_child_ok("many-calls, two processors", out);
}

#[test]
fn the_thread_limit_is_an_error_that_says_what_to_change() {
    if child_scenario().as_deref() == Some("limit") {
        // One processor, at most two OS threads: the first call with work queued behind
        // it takes the second thread; the next one finds none.
        let (first, second, infallible) = gogreen::run(|| {
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            let a = gogreen::spawn(move || gogreen::try_blocking(move || rx.recv().unwrap()));
            let b = gogreen::spawn(move || {
                let queued = gogreen::spawn(|| ());
                let second = gogreen::try_blocking(|| "ran");
                // `blocking` at the limit still runs its closure, keeping the processor.
                let queued2 = gogreen::spawn(|| ());
                let infallible = gogreen::blocking(|| "ran anyway");
                queued.join().unwrap();
                queued2.join().unwrap();
                tx.send(()).unwrap();
                (second, infallible)
            });
            let (second, infallible) = b.join().unwrap();
            (a.join().unwrap(), second, infallible)
        });
        assert!(first.is_ok(), "{first:?}");
        let e = second.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
        let msg = e.to_string();
        assert!(msg.contains("GOGREEN_MAX_THREADS"), "{msg}");
        assert!(msg.contains("max_threads"), "{msg}");
        assert_eq!(infallible, "ran anyway");
        return;
    }
    let out = run_child_watched(
        "the_thread_limit_is_an_error_that_says_what_to_change",
        "limit",
        &[("GOGREEN_PROCS", "1"), ("GOGREEN_MAX_THREADS", "2")],
        WATCHDOG,
    );
    let out = expect_child_ok("limit", out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot start another OS thread"),
        "the infallible call warns once: {stderr}"
    );
}

#[test]
fn a_bad_thread_limit_is_refused() {
    let e = gogreen::Config::new()
        .procs(4)
        .max_threads(3)
        .apply()
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("max_threads"), "{e}");
    if child_scenario().as_deref() == Some("bad-limit") {
        assert_eq!(gogreen::run(|| 1), 1);
        return;
    }
    let out = run_child_watched(
        "a_bad_thread_limit_is_refused",
        "bad-limit",
        &[("GOGREEN_PROCS", "2"), ("GOGREEN_MAX_THREADS", "1")],
        WATCHDOG,
    );
    let out = expect_child_ok("bad-limit", out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ignoring GOGREEN_MAX_THREADS"), "{stderr}");
}

#[test]
fn file_calls_go_through_blocking() {
    let dir = std::env::temp_dir().join(format!("gogreen-fs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("note.txt");
    let p = path.clone();
    let (text, bytes, len) = gogreen::run(move || {
        gogreen::fs::write(&p, "green").unwrap();
        let text = gogreen::fs::read_to_string(&p).unwrap();
        let bytes = gogreen::fs::read(&p).unwrap();
        let len = gogreen::fs::metadata(&p).unwrap().len();
        (text, bytes, len)
    });
    assert_eq!(text, "green");
    assert_eq!(bytes, b"green");
    assert_eq!(len, 5);
    // Errors come back as they are.
    let missing = gogreen::run(|| gogreen::fs::read("/nonexistent/gogreen/file"));
    assert_eq!(missing.unwrap_err().kind(), std::io::ErrorKind::NotFound);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn work_that_arrives_during_a_call_runs() {
    if child_scenario().as_deref() == Some("arrives") {
        // One processor, nothing queued when the call starts: the processor waits in
        // its syscall word. Work then arrives from an OS thread; sysmon must take the
        // processor back from the call for it, since the call waits for that work.
        for _ in 0..20 {
            let (tx, rx) = std::sync::mpsc::channel::<u32>();
            let inside = Arc::new(AtomicBool::new(false));
            let i = inside.clone();
            let blocked = gogreen::spawn(move || {
                gogreen::blocking(move || {
                    i.store(true, Ordering::SeqCst);
                    rx.recv().unwrap()
                })
            });
            while !inside.load(Ordering::SeqCst) {
                std::thread::yield_now();
            }
            let late = gogreen::spawn(move || tx.send(7).unwrap());
            late.join().unwrap();
            assert_eq!(blocked.join().unwrap(), 7);
        }
        // The same from a thread-locked green thread, with green threads queued.
        let h = gogreen::Builder::new()
            .locked(true)
            .spawn(|| {
                let tid = std::thread::current().id();
                let mut sum = 0;
                for i in 0..50u32 {
                    let other = gogreen::spawn(move || i);
                    sum += gogreen::blocking(|| i);
                    sum += other.join().unwrap();
                    assert_eq!(std::thread::current().id(), tid);
                }
                sum
            })
            .unwrap();
        assert_eq!(h.join().unwrap(), 2 * (0..50).sum::<u32>());
        return;
    }
    one_processor_child("work_that_arrives_during_a_call_runs", "arrives");
}

// ---------------------------------------------------------------------------------
// Gs left on a small ring without a wake-up (L1–L3 of `steal.rs`).

#[test]
fn green_threads_readied_by_one_that_then_computes_run() {
    if child_scenario().as_deref() == Some("readier-computes") {
        // One green thread readies three others through rendezvous channels — each
        // ready pushes the one before out of `runnext` onto its processor's small ring,
        // with no wake-up while it is seen getting to that ring — and then computes,
        // without a runtime call, until all three have run: only sysmon's look at its
        // processor (or, with one processor, the spare that replaces it) lets them.
        const K: usize = 3;
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        gogreen::run(move || {
            let (txs, hs): (Vec<_>, Vec<_>) = (0..K)
                .map(|_| {
                    let (tx, rx) = gogreen::chan::bounded::<()>(0);
                    let r = r.clone();
                    let h = gogreen::spawn(move || {
                        while rx.recv().is_ok() {
                            r.fetch_add(1, Ordering::SeqCst);
                        }
                    });
                    (tx, h)
                })
                .unzip();
            // Let the receivers park, so that each send readies one.
            gogreen::sleep(std::time::Duration::from_millis(10));
            for round in 0..3 {
                for tx in &txs {
                    tx.send(()).unwrap();
                }
                while r.load(Ordering::SeqCst) < K * (round + 1) {
                    std::hint::spin_loop();
                }
                // The same again, with the receivers parked again.
                gogreen::sleep(std::time::Duration::from_millis(1));
            }
            drop(txs);
            for h in hs {
                h.join().unwrap();
            }
        });
        assert_eq!(ran.load(Ordering::SeqCst), 3 * K);
        return;
    }
    let out = run_child_watched(
        "green_threads_readied_by_one_that_then_computes_run",
        "readier-computes",
        &[],
        WATCHDOG,
    );
    expect_child_ok("readier-computes", out);
}
