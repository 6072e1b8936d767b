//! The cost of `gogreen::blocking` around a call that returns at once: with nothing
//! queued (the processor waits in its syscall word), and with a green thread queued
//! behind it (the processor is handed to another OS thread and taken back), against
//! the bare call.
//!
//! `cargo bench --bench blocking`. Figures are in `docs/BENCHMARKS.md`.

use criterion::{BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const CALLS: usize = 1000;

/// `CALLS` calls of `f`, inside a green thread.
fn calls(f: fn(usize) -> usize) {
    gogreen::run(move || {
        for i in 0..CALLS {
            black_box(f(black_box(i)));
        }
    });
}

/// `CALLS` blocking calls, each with a green thread queued behind it on the same
/// processor (a yielding loop), so that each hands the processor off.
fn calls_with_queued_work() {
    gogreen::run(move || {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let other = gogreen::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                gogreen::yield_now();
            }
        });
        gogreen::yield_now();
        for i in 0..CALLS {
            black_box(gogreen::blocking(|| black_box(i)));
        }
        stop.store(true, Ordering::Relaxed);
        other.join().unwrap();
    });
}

fn blocking(c: &mut Criterion) {
    gogreen::Config::new()
        .procs(1)
        .apply()
        .expect("the runtime must not be running yet");
    let mut g = c.benchmark_group("blocking");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(20)
        .throughput(Throughput::Elements(CALLS as u64));
    g.bench_function(BenchmarkId::new("bare call", CALLS), |b| {
        b.iter(|| calls(|i| i))
    });
    g.bench_function(BenchmarkId::new("blocking, nothing queued", CALLS), |b| {
        b.iter(|| calls(|i| gogreen::blocking(|| black_box(i))))
    });
    g.bench_function(BenchmarkId::new("blocking, a task queued", CALLS), |b| {
        b.iter(calls_with_queued_work)
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    blocking(&mut c);
    c.final_summary();
}
