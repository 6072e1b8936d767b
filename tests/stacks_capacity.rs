//! Nothing fails while free stacks exist: not while the scavenger trims pooled ones,
//! not while other processors' caches hold them, not while more can be carved.
//!
//! Each case runs in a child process under a watchdog, where stacks are limited: by the
//! mapping limit (`GOGREEN_GUARD=mprotect`) or by the address space. It measures how
//! many parked tasks fit, then lets them all end and spawns as many again, round after
//! round — right after each burst ends, from several processors at once, while the
//! scavenger runs — and every spawn must succeed.

mod common;

use common::{child_scenario, run_child_watchdog, signal_of};
use gogreen::sync::WaitGroup;
use std::time::{Duration, Instant};

const SPAWNERS: usize = 4;

/// One round: `SPAWNERS` green threads spawn parked tasks at once, each up to its quota
/// (`None`: until a spawn fails). Spawners stay alive until all are done, so the stacks
/// in use at the end are the same in every round. Then every task starts, is released
/// and joined. Returns how many were spawned and the errors.
fn round(quota: Option<usize>) -> (usize, Vec<String>) {
    let gate = WaitGroup::new();
    gate.add(1);
    let started = WaitGroup::new();
    let finished = WaitGroup::new();
    finished.add(SPAWNERS);
    let spawners: Vec<_> = (0..SPAWNERS)
        .map(|k| {
            let (gate, started, finished) = (gate.clone(), started.clone(), finished.clone());
            let quota = quota.map(|q| q / SPAWNERS + usize::from(k < q % SPAWNERS));
            gogreen::spawn(move || {
                let mut handles = Vec::new();
                let mut error = None;
                while quota.is_none_or(|q| handles.len() < q) {
                    let (g, s) = (gate.clone(), started.clone());
                    started.add(1);
                    match gogreen::Builder::new().spawn(move || {
                        s.done();
                        g.wait();
                    }) {
                        Ok(h) => handles.push(h),
                        Err(e) => {
                            started.done();
                            error = Some(e.to_string());
                            break;
                        }
                    }
                }
                finished.done();
                finished.wait();
                (handles, error)
            })
        })
        .collect();
    let mut handles = Vec::new();
    let mut errors = Vec::new();
    for s in spawners {
        let (h, e) = s.join().unwrap();
        handles.extend(h);
        errors.extend(e);
    }
    started.wait();
    gate.done();
    let n = handles.len();
    for h in handles {
        h.join().unwrap();
    }
    (n, errors)
}

fn rounds() {
    gogreen::run(|| {
        let (capacity, errors) = round(None);
        assert!(
            !errors.is_empty() && capacity > 1000,
            "{capacity} {errors:?}"
        );
        eprintln!("{capacity} parked tasks fit: {}", errors[0]);
        let t = Instant::now();
        let mut n = 0;
        // Long enough for the scavenger's periodic rounds (every 0.5 s) to come in
        // between; it also trims everything whenever all tasks are parked.
        while n < 4 || t.elapsed() < Duration::from_millis(1500) {
            let (spawned, errors) = round(Some(capacity));
            assert!(
                errors.is_empty() && spawned == capacity,
                "round {n}: {spawned} of {capacity} spawned; {errors:?}"
            );
            n += 1;
        }
    });
}

#[test]
fn no_spawn_fails_while_free_stacks_exist() {
    match child_scenario().as_deref() {
        Some("mapping-limit") => return rounds(),
        Some("address-space") => {
            common::limit_address_space();
            return rounds();
        }
        _ => {}
    }
    for (scenario, guard) in [("mapping-limit", "mprotect"), ("address-space", "madvise")] {
        let out = run_child_watchdog(
            "no_spawn_fails_while_free_stacks_exist",
            scenario,
            &[
                ("GOGREEN_GUARD", guard),
                ("GOGREEN_PROCS", "4"),
                common::ADDRESS_SPACE_ENV,
            ],
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{scenario}: {:?} (signal {:?}) {err}",
            out.status,
            signal_of(&out)
        );
    }
}
