//! Green threads against OS threads: a switch between two tasks on one processor.
//!
//! `cargo bench --bench switch`. Like the Go anchor's `yield` (GOMAXPROCS=1), the
//! runtime gets one processor, and the OS threads are pinned to one core.

use criterion::{Criterion, Throughput};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Two tasks on one processor yield to each other `iters` times each.
fn green_yield(iters: u64) -> Duration {
    gogreen::run(move || {
        let start = Instant::now();
        let hs: Vec<_> = (0..2)
            .map(|_| {
                gogreen::spawn(move || {
                    for _ in 0..iters {
                        gogreen::yield_now();
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        start.elapsed()
    })
}

/// Two OS threads pinned to one core yield to each other `iters` times each.
fn os_yield(iters: u64) -> Duration {
    let go = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let go = go.clone();
            std::thread::spawn(move || {
                pin_to_cpu0();
                while !go.load(Ordering::Acquire) {
                    std::hint::spin_loop();
                }
                for _ in 0..iters {
                    std::thread::yield_now();
                }
            })
        })
        .collect();
    let start = Instant::now();
    go.store(true, Ordering::Release);
    for t in threads {
        t.join().unwrap();
    }
    start.elapsed()
}

fn pin_to_cpu0() {
    // SAFETY: sched_setaffinity on the calling thread with a zeroed, then filled, set.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

fn yield_switch(c: &mut Criterion) {
    let mut g = c.benchmark_group("yield");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(20);
    // One element = one switch: two tasks yielding `iters` times each.
    g.throughput(Throughput::Elements(2));
    g.bench_function("gogreen", |b| b.iter_custom(green_yield));
    g.bench_function("std::thread (one core)", |b| b.iter_custom(os_yield));
    g.finish();
}

fn main() {
    gogreen::Config::new()
        .procs(1)
        .apply()
        .expect("the runtime starts here");
    let mut c = Criterion::default().configure_from_args();
    yield_switch(&mut c);
    c.final_summary();
}
