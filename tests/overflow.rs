//! Stack overflow is reported, never silent; a real segfault still looks like one;
//! `stack::grow` lets recursion go deeper than a slot.

mod common;

use common::{child_scenario, run_child, signal_of};
use std::hint::black_box;

/// Recursion the optimiser cannot flatten: each frame keeps a buffer alive.
#[inline(never)]
fn recurse(n: u64) -> u64 {
    let buf = black_box([n as u8; 256]);
    if n == 0 {
        buf[0] as u64
    } else {
        recurse(black_box(n - 1)) + buf[1] as u64
    }
}

#[test]
fn a_stack_overflow_is_reported_and_aborts() {
    if child_scenario().as_deref() == Some("overflow") {
        let h = gogreen::Builder::new()
            .name("deep")
            .spawn(|| recurse(1_000_000))
            .unwrap();
        let _ = h.join();
        unreachable!("the overflow must abort the process");
    }
    let out = run_child("a_stack_overflow_is_reported_and_aborts", "overflow", &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        signal_of(&out),
        Some(libc::SIGABRT),
        "exit: {:?}, stderr: {err}",
        out.status
    );
    let line = err
        .lines()
        .find(|l| l.contains("overflowed"))
        .unwrap_or_else(|| panic!("no report in: {err}"));
    assert!(
        line.starts_with("gogreen: green thread 'deep' (id "),
        "{line}"
    );
    assert!(line.ends_with(") overflowed its stack of 64 KiB"), "{line}");
}

#[test]
fn an_unnamed_task_with_a_custom_stack_is_reported_too() {
    if child_scenario().as_deref() == Some("overflow-small") {
        let h = gogreen::Builder::new()
            .stack_size(32 * 1024)
            .spawn(|| recurse(1_000_000))
            .unwrap();
        let _ = h.join();
        unreachable!();
    }
    let out = run_child(
        "an_unnamed_task_with_a_custom_stack_is_reported_too",
        "overflow-small",
        &[],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(signal_of(&out), Some(libc::SIGABRT), "stderr: {err}");
    assert!(
        err.contains("gogreen: green thread '<unnamed>' (id "),
        "{err}"
    );
    assert!(err.contains("overflowed its stack of 32 KiB"), "{err}");
}

#[test]
fn a_real_segfault_is_still_a_segfault() {
    if child_scenario().as_deref() == Some("segv") {
        gogreen::run(|| {
            // SAFETY: deliberately not: the point of the test.
            unsafe { std::ptr::write_volatile(black_box(8usize) as *mut u64, 1) };
        });
        unreachable!();
    }
    let out = run_child("a_real_segfault_is_still_a_segfault", "segv", &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(signal_of(&out), Some(libc::SIGSEGV), "stderr: {err}");
    assert!(!err.contains("overflowed"), "{err}");
}

#[test]
fn grow_runs_deep_recursion_on_new_segments() {
    fn depth(n: u64) -> u64 {
        gogreen::stack::grow(16 * 1024, 256 * 1024, || {
            let buf = black_box([1u8; 512]);
            if n == 0 {
                0
            } else {
                1 + depth(n - 1) + (buf[0] as u64 - 1)
            }
        })
    }
    // 20,000 frames of > 512 bytes: far more than a 64 KiB slot.
    assert_eq!(gogreen::run(|| depth(20_000)), 20_000);
    // On an OS thread too.
    assert_eq!(std::thread::spawn(|| depth(20_000)).join().unwrap(), 20_000);
}

#[test]
fn a_panic_on_a_grown_segment_reaches_join() {
    fn dive(n: u64) -> u64 {
        gogreen::stack::grow(16 * 1024, 128 * 1024, || {
            let buf = black_box([1u8; 512]);
            if n == 0 {
                panic!("bottom")
            } else {
                dive(n - 1) + buf[0] as u64
            }
        })
    }
    let e = gogreen::spawn(|| dive(5000)).join().unwrap_err();
    assert_eq!(e.downcast_ref::<&str>(), Some(&"bottom"));
}

#[test]
fn a_task_can_park_on_a_grown_segment() {
    let gate = gogreen::sync::WaitGroup::new();
    gate.add(1);
    let g = gate.clone();
    let h = gogreen::spawn(move || {
        gogreen::stack::grow(usize::MAX, 128 * 1024, || {
            // Always on a new segment: park there, and come back on whatever thread.
            g.wait();
            gogreen::yield_now();
            7
        })
    });
    std::thread::sleep(std::time::Duration::from_millis(10));
    gate.done();
    assert_eq!(h.join().unwrap(), 7);
}

/// Virtual memory of this process, in KiB.
fn vm_size_kb() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmSize:"))
        .expect("VmSize");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// An M that exits (its locked green thread ended) unmaps the alternate signal stack
/// the runtime made for it. Ms get one of their own only where std gave the thread none
/// (std installs none if SIGSEGV and SIGBUS were not at their default actions when the
/// process started): the child is started with both ignored, and each of 256 Ms that
/// come and go leaked its 64 KiB before (16 MiB in all, measured).
#[test]
fn an_exiting_m_unmaps_its_alternate_signal_stack() {
    if child_scenario().as_deref() == Some("altstack") {
        let churn = |n: usize| {
            for _ in 0..n {
                gogreen::Builder::new()
                    .locked(true)
                    .spawn(|| ())
                    .unwrap()
                    .join()
                    .unwrap();
            }
        };
        churn(64); // warm up glibc's cache of thread stacks and malloc's arenas
        let before = vm_size_kb();
        churn(256);
        let grown = vm_size_kb().saturating_sub(before);
        assert!(grown < 256 * 64 / 2, "grew {grown} KiB over 256 M exits");
        return;
    }
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = std::process::Command::new(exe);
    cmd.args([
        "--exact",
        "an_exiting_m_unmaps_its_alternate_signal_stack",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("GOGREEN_TEST_CHILD", "altstack")
    .env("MALLOC_ARENA_MAX", "1");
    // SAFETY: `signal` is async-signal-safe, as `pre_exec` requires.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGSEGV, libc::SIG_IGN);
            libc::signal(libc::SIGBUS, libc::SIG_IGN);
            Ok(())
        });
    }
    let out = common::watch(cmd);
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
