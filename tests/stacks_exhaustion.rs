//! When stacks run out: a spawn that returned `Ok` runs, the next one fails at the call
//! with advice that says what to change, nothing hangs, and the error is had without
//! allocating when memory is what ran out.
//!
//! The cases run in child processes under a watchdog, with `GOGREEN_GUARD=mprotect`
//! (the guards of kernels before 6.13, which stop near 32,000 stacks) or an address-space
//! limit.

mod common;

use common::{child_scenario, run_child_watchdog, signal_of, watch};
use gogreen::sync::WaitGroup;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::ErrorKind;

/// The system allocator, except that it fails on a thread that asked it to: to check
/// that an error path does not allocate.
struct Failing;

thread_local! {
    static FAIL: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: forwards to the system allocator, or returns null, which callers handle.
unsafe impl GlobalAlloc for Failing {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if FAIL.with(Cell::get) {
            return std::ptr::null_mut();
        }
        // SAFETY: per the caller's contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: per the caller's contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Failing = Failing;

/// Runs `f` with every allocation on this thread failing.
fn without_memory<R>(f: impl FnOnce() -> R) -> R {
    FAIL.with(|c| c.set(true));
    let r = f();
    FAIL.with(|c| c.set(false));
    r
}

/// Tasks parked on one gate, spawned until a spawn fails.
struct Parked {
    gate: WaitGroup,
    started: WaitGroup,
    handles: Vec<gogreen::JoinHandle<usize>>,
}

impl Parked {
    fn new() -> Self {
        let gate = WaitGroup::new();
        gate.add(1);
        Parked {
            gate,
            started: WaitGroup::new(),
            handles: Vec::new(),
        }
    }

    /// Spawns until the first error, which it returns.
    fn fill(&mut self) -> std::io::Error {
        loop {
            let (gate, started) = (self.gate.clone(), self.started.clone());
            let i = self.handles.len();
            self.started.add(1);
            match gogreen::Builder::new().spawn(move || {
                started.done();
                gate.wait();
                i
            }) {
                Ok(h) => self.handles.push(h),
                Err(e) => {
                    self.started.done();
                    return e;
                }
            }
        }
    }

    /// Every task that was spawned starts (the watchdog ends a wait that cannot end);
    /// then they are released and joined, each with its own result.
    fn release(self) -> usize {
        let n = self.handles.len();
        self.started.wait();
        self.gate.done();
        for (i, h) in self.handles.into_iter().enumerate() {
            assert_eq!(h.join().expect("a spawned task failed"), i);
        }
        n
    }
}

fn assert_advice(e: &std::io::Error) {
    assert_eq!(e.kind(), ErrorKind::OutOfMemory, "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("vm.max_map_count") && msg.contains("sysctl"),
        "{msg}"
    );
}

#[test]
fn at_the_mapping_limit_spawns_fail_at_the_call_and_the_rest_run() {
    if child_scenario().as_deref() == Some("map-limit") {
        let n = gogreen::run(|| {
            let mut parked = Parked::new();
            let e = parked.fill();
            assert_advice(&e);
            // From an OS thread too, and through the panicking `spawn`.
            let e = std::thread::spawn(|| gogreen::Builder::new().spawn(|| ()).unwrap_err())
                .join()
                .unwrap();
            assert_advice(&e);
            let p = std::panic::catch_unwind(|| gogreen::spawn(|| ())).unwrap_err();
            let p = p.downcast_ref::<String>().unwrap();
            assert!(p.contains("vm.max_map_count"), "{p}");
            parked.release()
        });
        eprintln!("{n} tasks ran");
        assert!(n > 1000, "{n}");
        // Their stacks are free again: as many fit once more.
        let again = gogreen::run(move || {
            let mut parked = Parked::new();
            let _ = parked.fill();
            parked.release()
        });
        assert!(again >= n, "{again} < {n}");
        return;
    }
    for procs in ["1", "4"] {
        let out = run_child_watchdog(
            "at_the_mapping_limit_spawns_fail_at_the_call_and_the_rest_run",
            "map-limit",
            &[("GOGREEN_GUARD", "mprotect"), ("GOGREEN_PROCS", procs)],
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "procs {procs}: {:?} {err}",
            out.status
        );
    }
}

#[test]
fn out_of_stacks_and_out_of_memory_the_error_comes_back_anyway() {
    if child_scenario().as_deref() == Some("no-alloc") {
        gogreen::run(|| {
            let mut parked = Parked::new();
            let _ = parked.fill();
            // In a green thread, then on an OS thread.
            let e = without_memory(|| gogreen::Builder::new().spawn(|| 0usize).unwrap_err());
            assert_eq!(e.kind(), ErrorKind::OutOfMemory);
            let e = std::thread::spawn(|| {
                without_memory(|| gogreen::Builder::new().spawn(|| ()).unwrap_err())
            })
            .join()
            .unwrap();
            assert_eq!(e.kind(), ErrorKind::OutOfMemory);
            parked.release();
        });
        return;
    }
    if child_scenario().as_deref() == Some("no-alloc-address-space") {
        common::limit_address_space();
        gogreen::run(|| {
            let mut parked = Parked::new();
            let e = parked.fill();
            assert!(e.to_string().contains("address space"), "{e}");
            let e = without_memory(|| gogreen::Builder::new().spawn(|| 0usize).unwrap_err());
            assert_eq!(e.kind(), ErrorKind::OutOfMemory);
            parked.release();
        });
        return;
    }
    let test = "out_of_stacks_and_out_of_memory_the_error_comes_back_anyway";
    for (scenario, envs) in [
        ("no-alloc", &[("GOGREEN_GUARD", "mprotect")][..]),
        (
            "no-alloc-address-space",
            &[("GOGREEN_GUARD", "madvise"), common::ADDRESS_SPACE_ENV][..],
        ),
    ] {
        let out = run_child_watchdog(test, scenario, envs);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{scenario}: {:?} (signal {:?}) {err}",
            out.status,
            signal_of(&out)
        );
    }
}

#[test]
fn the_million_demo_fails_fast_where_stacks_run_out() {
    // Cargo builds the examples next to the test binaries' directory.
    let exe = std::env::current_exe().unwrap();
    let demo = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join("examples/million"))
        .unwrap();
    assert!(
        demo.exists(),
        "build the examples first: {}",
        demo.display()
    );
    let mut cmd = std::process::Command::new(&demo);
    cmd.arg("200000").env("GOGREEN_GUARD", "mprotect");
    let out = watch(cmd);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{:?}: {err}", out.status);
    assert!(err.contains("million: spawned "), "{err}");
    assert!(
        err.contains("vm.max_map_count") && err.contains("sysctl -w"),
        "{err}"
    );
}
