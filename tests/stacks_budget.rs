//! Stack budgets: what the docs promise fits on the smallest stack does, and a panic's
//! backtrace shows where it happened even when its hook ran on a segment of its own.
//!
//! Each case runs in a child process (an overflow aborts it; `RUST_BACKTRACE` is read
//! once per process) under a watchdog.

mod common;

use common::{child_scenario, run_child_watchdog, signal_of};
use gogreen::stack::{DEFAULT_STACK_SIZE, MIN_STACK_SIZE};
use std::hint::black_box;
use std::panic::catch_unwind;
use std::time::Duration;

/// The function a backtrace must name: the panic happens in it.
#[inline(never)]
fn budget_marker_panics(n: u64) -> u64 {
    if black_box(n) < u64::MAX {
        panic!("boom {n}");
    }
    n
}

/// Spends stack until fewer than `left` bytes remain, then runs `f`.
#[inline(never)]
fn at_depth<R>(left: usize, f: impl FnOnce() -> R) -> R {
    let frame = black_box([0u8; 256]);
    let r = if gogreen::stack::remaining().unwrap() > left {
        at_depth(left, f)
    } else {
        f()
    };
    black_box(frame);
    r
}

/// Runs `f` on a green thread of `size` bytes and returns its result.
fn on_stack<R: Send + 'static>(size: usize, f: impl FnOnce() -> R + Send + 'static) -> R {
    gogreen::Builder::new()
        .stack_size(size)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

fn check_child(test: &str, scenario: &str, envs: &[(&str, &str)]) -> String {
    let out = run_child_watchdog(test, scenario, envs);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{scenario} {envs:?}: {:?} (signal {:?}), stderr:\n{err}",
        out.status,
        signal_of(&out)
    );
    err
}

#[test]
fn a_panic_fits_on_the_smallest_stack_with_any_backtrace() {
    if child_scenario().as_deref() == Some("panic-min") {
        let e = gogreen::Builder::new()
            .stack_size(MIN_STACK_SIZE)
            .spawn(|| budget_marker_panics(7))
            .unwrap()
            .join()
            .unwrap_err();
        assert_eq!(
            e.downcast_ref::<String>().map(String::as_str),
            Some("boom 7")
        );
        // A second one: nothing was left behind by the first.
        let caught = on_stack(MIN_STACK_SIZE, || {
            catch_unwind(|| budget_marker_panics(8)).is_err()
        });
        assert!(caught);
        return;
    }
    let test = "a_panic_fits_on_the_smallest_stack_with_any_backtrace";
    for bt in ["0", "1", "full"] {
        let err = check_child(test, "panic-min", &[("RUST_BACKTRACE", bt)]);
        assert!(err.contains("boom 7") && err.contains("boom 8"), "{err}");
        if bt != "0" {
            // The hook ran on a segment, yet the backtrace reaches the panicking code.
            assert!(
                err.contains("budget_marker_panics"),
                "RUST_BACKTRACE={bt}: {err}"
            );
        }
    }
}

#[test]
fn a_panic_deep_in_a_default_stack_fits() {
    if child_scenario().as_deref() == Some("panic-deep") {
        // Leave a little more than a panic's unwinding needs (about 5.5 KiB measured).
        let caught = on_stack(DEFAULT_STACK_SIZE, || {
            at_depth(8 * 1024, || {
                catch_unwind(|| budget_marker_panics(9)).is_err()
            })
        });
        assert!(caught);
        return;
    }
    for bt in ["0", "full"] {
        let err = check_child(
            "a_panic_deep_in_a_default_stack_fits",
            "panic-deep",
            &[("RUST_BACKTRACE", bt)],
        );
        assert!(err.contains("boom 9"), "{err}");
        if bt != "0" {
            assert!(err.contains("at_depth"), "{err}");
        }
    }
}

#[test]
fn a_backtrace_on_a_grow_segment_reaches_the_caller() {
    if child_scenario().as_deref() == Some("grow-bt") {
        #[inline(never)]
        fn budget_caller_of_grow() -> bool {
            // Always a new segment.
            let caught = gogreen::stack::grow(usize::MAX, 128 * 1024, || {
                catch_unwind(|| budget_marker_panics(10)).is_err()
            });
            // Not a tail call: this frame stays on the stack below the segment.
            black_box(caught)
        }
        assert!(on_stack(DEFAULT_STACK_SIZE, budget_caller_of_grow));
        assert!(std::thread::spawn(budget_caller_of_grow).join().unwrap());
        return;
    }
    let err = check_child(
        "a_backtrace_on_a_grow_segment_reaches_the_caller",
        "grow-bt",
        &[("RUST_BACKTRACE", "1")],
    );
    // The frame that called `grow`, below the segment's: twice, in a green thread and
    // on an OS thread.
    let callers = err
        .lines()
        .filter(|l| l.trim_end().ends_with("::budget_caller_of_grow"))
        .count();
    assert_eq!(callers, 2, "{err}");
}

#[test]
fn common_operations_fit_on_the_smallest_stack() {
    if child_scenario().as_deref() != Some("ops-min") {
        check_child(
            "common_operations_fit_on_the_smallest_stack",
            "ops-min",
            &[("GOGREEN_PROCS", "1")],
        );
        return;
    }
    let total = on_stack(MIN_STACK_SIZE, || {
        println!("println on the smallest stack: {}", black_box(1));
        let (tx, rx) = gogreen::chan::bounded::<u64>(0);
        let peer = gogreen::Builder::new()
            .stack_size(MIN_STACK_SIZE)
            .spawn(move || rx.recv().unwrap() + 1)
            .unwrap();
        tx.send(41).unwrap();
        let mut total = peer.join().unwrap();
        gogreen::sleep(Duration::from_millis(1));
        gogreen::yield_now();
        let never = gogreen::chan::never::<u64>();
        gogreen::select! {
            recv(never) -> _ => unreachable!(),
            default(Duration::from_millis(1)) => total += 1,
        }
        let wg = gogreen::sync::WaitGroup::new();
        wg.add(1);
        let w = wg.clone();
        gogreen::spawn(move || w.done());
        wg.wait();
        gogreen::task_local! { static X: std::cell::Cell<u64> = std::cell::Cell::new(1); }
        total += X.with(|x| x.get());
        total += format!("{:?}", vec![1.5f64; 16]).len() as u64;
        total
    });
    assert_eq!(total, 42 + 1 + 1 + 80);
}
