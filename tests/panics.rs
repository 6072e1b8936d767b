//! Panics in green threads: std's per-thread panic state stays true (the runtime
//! never switches away from a panicking green thread), and a panic is reported with
//! the green thread's name and id, where the person running the program sees it.
//!
//! Every scenario runs in a child process under a watchdog: before the fix they
//! fail assertions, hang, or abort.

mod common;

use common::{
    WATCHDOG, child_scenario, expect_child_ok, run_child_watched, run_child_watched_captured,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How a green thread's `Drop` waits while its thread unwinds.
#[derive(Clone, Copy, Debug)]
enum Wait {
    Recv,
    Join,
    Sleep,
    Yield,
    Group,
}

/// Waits, in its `Drop`, for another green thread to have looked at the panic state.
struct WaitOnDrop {
    wait: Wait,
    rx: Option<gogreen::chan::Receiver<()>>,
    looker: Option<gogreen::JoinHandle<()>>,
    looked: Arc<AtomicBool>,
    wg: gogreen::sync::WaitGroup,
}

impl Drop for WaitOnDrop {
    fn drop(&mut self) {
        assert!(std::thread::panicking());
        match self.wait {
            Wait::Recv => self.rx.take().unwrap().recv().unwrap(),
            Wait::Join => self.looker.take().unwrap().join().unwrap(),
            Wait::Sleep => {
                while !self.looked.load(Ordering::SeqCst) {
                    gogreen::sleep(Duration::from_micros(200));
                }
            }
            Wait::Yield => {
                while !self.looked.load(Ordering::SeqCst) {
                    gogreen::yield_now();
                }
            }
            Wait::Group => self.wg.wait(),
        }
        assert!(std::thread::panicking(), "still unwinding after the wait");
    }
}

/// A green thread unwinds and waits in a `Drop` until another one has run: that one
/// must not see `panicking()`, and a `std::sync::Mutex` it unlocks must not be poisoned.
fn unwinding_waiter(wait: Wait) {
    let lock = Arc::new(Mutex::new(0u32));
    let looked = Arc::new(AtomicBool::new(false));
    let saw_panicking = Arc::new(AtomicBool::new(false));
    let (tx, rx) = gogreen::chan::bounded(1);
    let wg = gogreen::sync::WaitGroup::new();
    wg.add(1);
    // The looker, spawned first but held back until the unwinding one waits.
    let (go_tx, go_rx) = gogreen::chan::bounded::<()>(1);
    let looker = {
        let (lock, looked, saw, wg) = (
            lock.clone(),
            looked.clone(),
            saw_panicking.clone(),
            wg.clone(),
        );
        gogreen::spawn(move || {
            go_rx.recv().unwrap();
            saw.store(std::thread::panicking(), Ordering::SeqCst);
            *lock.lock().unwrap() += 1;
            looked.store(true, Ordering::SeqCst);
            let _ = tx.send(());
            wg.done();
        })
    };
    let mut guard = WaitOnDrop {
        wait,
        rx: Some(rx),
        looker: None,
        looked: looked.clone(),
        wg,
    };
    let looker = match wait {
        Wait::Join => {
            guard.looker = Some(looker);
            None
        }
        _ => Some(looker),
    };
    let unwinding = gogreen::spawn(move || {
        let _guard = guard;
        go_tx.send(()).unwrap();
        panic!("unwinding through a wait ({wait:?})");
    });
    assert!(unwinding.join().is_err());
    if let Some(h) = looker {
        h.join().unwrap();
    }
    assert!(looked.load(Ordering::SeqCst));
    assert!(
        !saw_panicking.load(Ordering::SeqCst),
        "{wait:?}: another green thread saw panicking() == true"
    );
    assert!(
        !lock.is_poisoned(),
        "{wait:?}: the unlocked Mutex is poisoned"
    );
    assert_eq!(*lock.lock().unwrap(), 1);
}

fn all_waits() {
    for wait in [
        Wait::Recv,
        Wait::Join,
        Wait::Sleep,
        Wait::Yield,
        Wait::Group,
    ] {
        for _ in 0..5 {
            unwinding_waiter(wait);
        }
    }
}

#[test]
fn a_green_thread_waiting_while_it_unwinds_keeps_its_panic_to_itself() {
    if child_scenario().as_deref() == Some("waits") {
        all_waits();
        return;
    }
    for procs in ["1", "2"] {
        let out = run_child_watched(
            "a_green_thread_waiting_while_it_unwinds_keeps_its_panic_to_itself",
            "waits",
            &[("GOGREEN_PROCS", procs), ("RUST_BACKTRACE", "0")],
            WATCHDOG,
        );
        expect_child_ok(&format!("waits, {procs} processors"), out);
    }
}

#[test]
fn panic_counts_stay_true_on_every_thread() {
    if child_scenario().as_deref() == Some("counts") {
        // Green threads that wait many times while unwinding, among busy ones: had
        // they resumed on another OS thread mid-unwind, one thread's count would stay
        // raised and another's would wrap below zero.
        let stop = Arc::new(AtomicBool::new(false));
        let busy: Vec<_> = (0..8)
            .map(|_| {
                let stop = stop.clone();
                gogreen::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        gogreen::yield_now();
                    }
                })
            })
            .collect();
        struct Restless;
        impl Drop for Restless {
            fn drop(&mut self) {
                for i in 0..50 {
                    if i % 2 == 0 {
                        gogreen::yield_now();
                    } else {
                        gogreen::sleep(Duration::from_micros(100));
                    }
                }
            }
        }
        let unwinders: Vec<_> = (0..8)
            .map(|_| {
                gogreen::spawn(|| {
                    let _r = Restless;
                    panic!("restless");
                })
            })
            .collect();
        for h in unwinders {
            assert!(h.join().is_err());
        }
        stop.store(true, Ordering::Relaxed);
        for h in busy {
            h.join().unwrap();
        }
        // Now every thread must be back to zero: nobody sees a panic, and a real one
        // poisons the lock it unwinds through.
        let checks: Vec<_> = (0..400)
            .map(|_| {
                gogreen::spawn(|| {
                    assert!(!std::thread::panicking(), "a stale panic count");
                    let m = Mutex::new(());
                    let r = std::panic::catch_unwind(|| {
                        let _g = m.lock().unwrap();
                        panic!("real");
                    });
                    assert!(r.is_err());
                    assert!(m.is_poisoned(), "a real panic did not poison");
                    assert!(!std::thread::panicking());
                    gogreen::yield_now();
                })
            })
            .collect();
        for h in checks {
            h.join().unwrap();
        }
        return;
    }
    for procs in ["2", "4"] {
        let out = run_child_watched(
            "panic_counts_stay_true_on_every_thread",
            "counts",
            &[("GOGREEN_PROCS", procs), ("RUST_BACKTRACE", "0")],
            WATCHDOG,
        );
        expect_child_ok(&format!("counts, {procs} processors"), out);
    }
}

#[test]
fn a_panic_hook_that_parks_does_not_abort_the_next_panic() {
    if child_scenario().as_deref() == Some("hook-parks") {
        gogreen::run(|| ());
        std::panic::set_hook(Box::new(|info| {
            // A hook that logs through the runtime: it parks the green thread.
            gogreen::sleep(Duration::from_millis(1));
            let (tx, rx) = gogreen::chan::bounded(1);
            tx.send(info.to_string()).unwrap();
            eprintln!("hooked: {}", rx.recv().unwrap());
        }));
        let hs: Vec<_> = (0..6)
            .map(|i| {
                gogreen::spawn(move || {
                    gogreen::yield_now();
                    panic!("panic number {i}");
                })
            })
            .collect();
        for h in hs {
            assert!(h.join().is_err());
        }
        return;
    }
    for procs in ["1", "2"] {
        let out = run_child_watched(
            "a_panic_hook_that_parks_does_not_abort_the_next_panic",
            "hook-parks",
            &[("GOGREEN_PROCS", procs)],
            WATCHDOG,
        );
        let out = expect_child_ok(&format!("hook-parks, {procs} processors"), out);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("while processing panic"), "{stderr}");
        assert_eq!(stderr.matches("hooked: ").count(), 6, "{stderr}");
    }
}

/// The stderr of a child scenario that panics in a green thread named "worker".
fn named_panic(scenario: &str, envs: &[(&str, &str)]) -> String {
    let out = run_child_watched("a_panic_names_its_green_thread", scenario, envs, WATCHDOG);
    let out = expect_child_ok(scenario, out);
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn panic_in_worker() {
    let h = gogreen::Builder::new()
        .name("worker")
        .spawn(|| {
            gogreen::yield_now();
            panic!("boom in the worker");
        })
        .unwrap();
    assert!(h.join().is_err());
}

#[test]
fn a_panic_names_its_green_thread() {
    match child_scenario().as_deref() {
        Some("named") => return panic_in_worker(),
        Some("hook-before") => {
            std::panic::set_hook(Box::new(|info| eprintln!("USER HOOK: {info}")));
            return panic_in_worker();
        }
        Some("hook-after") => {
            gogreen::run(|| ());
            std::panic::set_hook(Box::new(|info| eprintln!("USER HOOK: {info}")));
            return panic_in_worker();
        }
        Some("hook-wraps") => {
            gogreen::run(|| ());
            let runtime_hook = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                eprintln!("WRAPPED");
                runtime_hook(info);
            }));
            return panic_in_worker();
        }
        _ => {}
    }
    let quiet = named_panic("named", &[("RUST_BACKTRACE", "0")]);
    let id_line = quiet
        .lines()
        .find(|l| l.starts_with("thread 'worker' (green thread "))
        .unwrap_or_else(|| panic!("no green thread named in: {quiet}"));
    assert!(
        id_line.contains(") panicked at tests/panics.rs:"),
        "{id_line}"
    );
    assert!(quiet.contains("boom in the worker"), "{quiet}");
    assert!(!quiet.contains("gogreen-m"), "{quiet}");
    assert!(!quiet.contains("stack backtrace"), "{quiet}");

    let traced = named_panic("named", &[("RUST_BACKTRACE", "1")]);
    assert!(traced.contains("stack backtrace:"), "{traced}");
    assert!(traced.contains("panic_in_worker"), "{traced}");
    // The short form stops at the green thread's entry, as std's does at a thread's.
    assert!(!traced.contains("task_main"), "{traced}");
    assert!(!traced.contains("__rust_begin_short_backtrace"), "{traced}");
    assert!(traced.contains("RUST_BACKTRACE=full"), "{traced}");

    let full = named_panic("named", &[("RUST_BACKTRACE", "full")]);
    assert!(full.contains("task_main"), "{full}");

    // A hook of the user's, installed before or after the runtime starts, decides.
    for scenario in ["hook-before", "hook-after"] {
        let hooked = named_panic(scenario, &[("RUST_BACKTRACE", "0")]);
        assert!(hooked.contains("USER HOOK"), "{scenario}: {hooked}");
        assert!(
            hooked.contains("boom in the worker"),
            "{scenario}: {hooked}"
        );
        assert!(!hooked.contains("(green thread"), "{scenario}: {hooked}");
    }
    // One that wraps the runtime's hook gets the runtime's report too.
    let wrapped = named_panic("hook-wraps", &[("RUST_BACKTRACE", "0")]);
    assert!(wrapped.contains("WRAPPED"), "{wrapped}");
    assert!(
        wrapped.contains("thread 'worker' (green thread "),
        "{wrapped}"
    );
}

#[test]
fn panic_output_reaches_the_terminal_under_the_test_harness() {
    if child_scenario().as_deref() == Some("captured") {
        // This test passes, so whatever its capture holds is thrown away; the green
        // thread's panic must still be seen.
        return panic_in_worker();
    }
    let out = run_child_watched_captured(
        "panic_output_reaches_the_terminal_under_the_test_harness",
        "captured",
        &[("RUST_BACKTRACE", "0")],
        WATCHDOG,
    );
    let out = expect_child_ok("captured", out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("thread 'worker' (green thread "),
        "{stderr}"
    );
    assert!(stderr.contains("boom in the worker"), "{stderr}");
}

#[test]
fn a_locked_green_thread_unwinding_through_waits() {
    if child_scenario().as_deref() == Some("locked-unwind") {
        let h = gogreen::Builder::new()
            .locked(true)
            .spawn(|| {
                struct Waits;
                impl Drop for Waits {
                    fn drop(&mut self) {
                        for _ in 0..20 {
                            gogreen::yield_now();
                            gogreen::sleep(Duration::from_micros(50));
                        }
                    }
                }
                let _w = Waits;
                panic!("locked and unwinding");
            })
            .unwrap();
        let others: Vec<_> = (0..4)
            .map(|_| gogreen::spawn(|| (0..100).for_each(|_| gogreen::yield_now())))
            .collect();
        assert!(h.join().is_err());
        for o in others {
            o.join().unwrap();
        }
        return;
    }
    let out = run_child_watched(
        "a_locked_green_thread_unwinding_through_waits",
        "locked-unwind",
        &[("GOGREEN_PROCS", "1"), ("RUST_BACKTRACE", "0")],
        WATCHDOG,
    );
    expect_child_ok("locked-unwind", out);
}

/// A result nobody joins is dropped by the runtime; if its `drop` panics, the process
/// aborts as std's does for a thread's result ("thread result panicked on drop"), with
/// a message that names the green thread — not "panic in a function that cannot
/// unwind" from deep in the scheduler. Both places: at the task's end (handle dropped
/// first) and in the handle's drop (task ended first).
#[test]
fn a_result_that_panics_when_dropped_unjoined_aborts_naming_its_task() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("the result's drop panics");
        }
    }
    match child_scenario().as_deref() {
        Some("result-dropped-at-the-end") => {
            let (go, wait) = gogreen::chan::bounded::<()>(0);
            let h = gogreen::Builder::new()
                .name("bomber")
                .spawn(move || {
                    let _ = wait.recv();
                    Bomb
                })
                .unwrap();
            drop(h);
            go.send(()).unwrap();
            gogreen::sleep(std::time::Duration::from_secs(60));
            return;
        }
        Some("result-dropped-with-the-handle") => {
            let h = gogreen::Builder::new()
                .name("bomber")
                .spawn(|| Bomb)
                .unwrap();
            while !h.is_finished() {
                gogreen::yield_now();
            }
            drop(h);
            return;
        }
        _ => {}
    }
    // The second order, many times: the handle's drop used to clear its bit before
    // dropping the result, and the task's exit could recycle the header meanwhile
    // (about one run in eight then named the task '<unnamed>', its name freed).
    let orders = std::iter::once("result-dropped-at-the-end")
        .chain(std::iter::repeat_n("result-dropped-with-the-handle", 24));
    for scenario in orders {
        let out = run_child_watched(
            "a_result_that_panics_when_dropped_unjoined_aborts_naming_its_task",
            scenario,
            &[("RUST_BACKTRACE", "0")],
            WATCHDOG,
        )
        .unwrap_or_else(|| panic!("{scenario}: the child hung"));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            common::signal_of(&out),
            Some(libc::SIGABRT),
            "{scenario}: {err}"
        );
        assert!(
            err.contains("gogreen: fatal: the result of green thread 'bomber' (id ")
                && err.contains("panicked while being dropped"),
            "{scenario}: {err}"
        );
    }
}
