//! Bad input gets a clear error, and nothing else breaks.

mod common;

use common::{child_scenario, run_child};
use std::io::ErrorKind;

#[test]
fn stack_sizes_out_of_range_are_refused() {
    for bad in [
        0,
        1,
        gogreen::stack::MIN_STACK_SIZE - 1,
        gogreen::stack::MAX_STACK_SIZE + 1,
        usize::MAX,
    ] {
        let e = gogreen::Builder::new()
            .stack_size(bad)
            .spawn(|| ())
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "stack size {bad}");
        assert!(e.to_string().contains("stack size"), "{e}");
    }
    let e = gogreen::Builder::new()
        .stack_size(0)
        .spawn(|| ())
        .unwrap_err();
    assert!(e.to_string().contains("minimum"), "{e}");
    let e = gogreen::Builder::new()
        .stack_size(usize::MAX)
        .spawn(|| ())
        .unwrap_err();
    assert!(e.to_string().contains("maximum"), "{e}");
    // The runtime is unharmed.
    assert_eq!(gogreen::run(|| 3), 3);
}

#[test]
fn odd_but_valid_stack_sizes_work() {
    for size in [gogreen::stack::MIN_STACK_SIZE, 100_000, 1 << 20, 8 << 20] {
        let depth = gogreen::Builder::new()
            .stack_size(size)
            .spawn(move || size / 1000)
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(depth, size / 1000);
    }
}

#[test]
fn config_errors() {
    // These are checked before anything starts.
    let e = gogreen::Config::new().procs(0).apply().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("procs"), "{e}");
    let e = gogreen::Config::new()
        .procs(gogreen::MAX_PROCS + 1)
        .apply()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let e = gogreen::Config::new().stack_size(10).apply().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    // Once the runtime runs, applying a config is an error, not a silent no-op.
    gogreen::run(|| ());
    let e = gogreen::Config::new().procs(2).apply().unwrap_err();
    assert!(e.to_string().contains("already running"), "{e}");
}

#[test]
fn bad_environment_is_reported_and_ignored() {
    if child_scenario().as_deref() == Some("bad-env") {
        assert_eq!(gogreen::run(|| 1 + 1), 2);
        return;
    }
    let out = run_child(
        "bad_environment_is_reported_and_ignored",
        "bad-env",
        &[
            ("GOGREEN_PROCS", "zero"),
            ("GOGREEN_STACK_SIZE", "12"),
            ("GOGREEN_GUARD", "mprotekt"),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed: {err}");
    assert!(err.contains("ignoring GOGREEN_PROCS=\"zero\""), "{err}");
    assert!(err.contains("ignoring GOGREEN_STACK_SIZE=\"12\""), "{err}");
    // It used to be ignored in silence.
    assert!(err.contains("ignoring GOGREEN_GUARD=\"mprotekt\""), "{err}");
}

/// Spawns parked tasks until spawning fails; returns the error. A spawn that cannot
/// have a stack fails at the call (the tasks spawned before it all run: see
/// `stacks_exhaustion.rs`).
fn spawn_until_failure(limit: usize) -> std::io::Error {
    let gate = gogreen::sync::WaitGroup::new();
    gate.add(1);
    let mut handles = Vec::new();
    while handles.len() < limit {
        let g = gate.clone();
        match gogreen::Builder::new().spawn(move || g.wait()) {
            Ok(h) => handles.push(h),
            Err(e) => return e,
        }
    }
    panic!("spawned {limit} tasks without an error");
}

#[test]
fn the_mapping_limit_is_an_error_that_names_it() {
    if child_scenario().as_deref() == Some("map-limit") {
        let e = spawn_until_failure(200_000);
        eprintln!("spawn error: {e}");
        assert_eq!(e.kind(), ErrorKind::OutOfMemory);
        std::process::exit(0);
    }
    // Force the old-kernel guards (mprotect), which cost two mappings each.
    let out = run_child(
        "the_mapping_limit_is_an_error_that_names_it",
        "map-limit",
        &[("GOGREEN_GUARD", "mprotect")],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed: {err}");
    assert!(err.contains("vm.max_map_count"), "{err}");
}

#[test]
fn exhausted_address_space_is_an_error() {
    if child_scenario().as_deref() == Some("no-address-space") {
        // Leave room for what exists, but not for another stack reservation.
        // Start the runtime, its OS threads (each M's malloc arena reserves address
        // space too) and its first stack reservation before the limit.
        let hs: Vec<_> = (0..64)
            .map(|_| gogreen::spawn(|| std::thread::sleep(std::time::Duration::from_millis(20))))
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        // SAFETY: setrlimit on our own process.
        unsafe {
            let lim = libc::rlimit {
                rlim_cur: current_vm_bytes() + (512 << 20),
                rlim_max: libc::RLIM_INFINITY,
            };
            assert_eq!(libc::setrlimit(libc::RLIMIT_AS, &lim), 0);
        }
        let e = spawn_until_failure(1_000_000);
        eprintln!("spawn error: {e}");
        assert_eq!(e.kind(), ErrorKind::OutOfMemory);
        std::process::exit(0);
    }
    let out = run_child(
        "exhausted_address_space_is_an_error",
        "no-address-space",
        &[],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed: {err}");
    assert!(err.contains("address space"), "{err}");
}

fn current_vm_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    statm
        .split_whitespace()
        .next()
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 4096
}
