//! A contended mutex: `gogreen::sync::Mutex` against `std::sync::Mutex` and
//! `parking_lot::Mutex`, inside green threads and on OS threads.
//!
//! `cargo bench --bench mutex`. Eight workers increment one counter under one lock;
//! the figure is the time per lock-increment-unlock (throughput: one element per
//! lock). Inside green threads, std's and parking_lot's locks block the OS thread under
//! the green thread when contended, so the other green threads of that processor wait
//! too; gogreen's parks only the green thread. The `yield_inside` group has each
//! holder reach a scheduling point before it unlocks (`yield_now`, as a channel
//! operation or a sleep would). It runs gogreen's mutex alone: std's and parking_lot's
//! deadlock there — a waiter blocks the OS thread, and the holder is queued behind it
//! on the same processor (2,000 locks did not finish in 30 s). Figures are in
//! `docs/BENCHMARKS.md`.

use criterion::{BenchmarkId, Criterion, Throughput};
use gogreen::sync::{Barrier, WaitGroup};
use std::sync::Arc;
use std::time::{Duration, Instant};

const WORKERS: u64 = 8;

/// A mutex-protected counter, for each lock under test.
trait Counter: Send + Sync + 'static {
    const NAME: &'static str;
    fn new() -> Self;
    fn increment(&self);
    fn get(&self) -> u64;
}

impl Counter for gogreen::sync::Mutex<u64> {
    const NAME: &'static str = "gogreen::sync::Mutex";
    fn new() -> Self {
        gogreen::sync::Mutex::new(0)
    }
    fn increment(&self) {
        *self.lock().unwrap() += 1;
    }
    fn get(&self) -> u64 {
        *self.lock().unwrap()
    }
}

impl Counter for std::sync::Mutex<u64> {
    const NAME: &'static str = "std::sync::Mutex";
    fn new() -> Self {
        std::sync::Mutex::new(0)
    }
    fn increment(&self) {
        *self.lock().unwrap() += 1;
    }
    fn get(&self) -> u64 {
        *self.lock().unwrap()
    }
}

impl Counter for parking_lot::Mutex<u64> {
    const NAME: &'static str = "parking_lot::Mutex";
    fn new() -> Self {
        parking_lot::Mutex::new(0)
    }
    fn increment(&self) {
        *self.lock() += 1;
    }
    fn get(&self) -> u64 {
        *self.lock()
    }
}

/// `iters` increments in all by `WORKERS` green threads; the time they took.
fn green<C: Counter>(iters: u64) -> Duration {
    green_with(iters, C::increment)
}

/// The same with gogreen's mutex, each holder yielding before it unlocks.
fn green_yielding(iters: u64) -> Duration {
    green_with::<gogreen::sync::Mutex<u64>>(iters, |counter| {
        let mut g = counter.lock().unwrap();
        *g += 1;
        gogreen::yield_now();
    })
}

fn green_with<C: Counter>(iters: u64, increment: fn(&C)) -> Duration {
    let per = iters.div_ceil(WORKERS);
    gogreen::run(move || {
        let counter = Arc::new(C::new());
        let wg = WaitGroup::new();
        wg.add(WORKERS as usize);
        let start = Instant::now();
        for _ in 0..WORKERS {
            let (counter, wg) = (counter.clone(), wg.clone());
            gogreen::spawn(move || {
                for _ in 0..per {
                    increment(&counter);
                }
                wg.done();
            });
        }
        wg.wait();
        let took = start.elapsed();
        assert_eq!(counter.get(), per * WORKERS);
        took
    })
}

/// The same on `WORKERS` OS threads, timed from when all of them have started.
fn os<C: Counter>(iters: u64) -> Duration {
    let per = iters.div_ceil(WORKERS);
    let counter = Arc::new(C::new());
    let start_line = Arc::new(Barrier::new(WORKERS as usize + 1));
    let threads: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (counter, start_line) = (counter.clone(), start_line.clone());
            std::thread::spawn(move || {
                start_line.wait();
                for _ in 0..per {
                    counter.increment();
                }
            })
        })
        .collect();
    start_line.wait();
    let start = Instant::now();
    for t in threads {
        t.join().unwrap();
    }
    let took = start.elapsed();
    assert_eq!(counter.get(), per * WORKERS);
    took
}

fn bench<C: Counter>(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    g.bench_function(BenchmarkId::new("green", C::NAME), |b| {
        b.iter_custom(green::<C>)
    });
    g.bench_function(BenchmarkId::new("os", C::NAME), |b| b.iter_custom(os::<C>));
}

fn contended(c: &mut Criterion) {
    let mut g = c.benchmark_group("contended_mutex_8");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(20)
        .throughput(Throughput::Elements(1));
    bench::<gogreen::sync::Mutex<u64>>(&mut g);
    bench::<std::sync::Mutex<u64>>(&mut g);
    bench::<parking_lot::Mutex<u64>>(&mut g);
    g.finish();
}

fn yield_inside(c: &mut Criterion) {
    let mut g = c.benchmark_group("contended_mutex_8_yield_inside");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(20)
        .throughput(Throughput::Elements(1));
    // Not std's nor parking_lot's: they deadlock here (module docs).
    g.bench_function("gogreen::sync::Mutex", |b| b.iter_custom(green_yielding));
    g.finish();
}

/// One thread, no contention: what the fast paths cost.
fn uncontended(c: &mut Criterion) {
    let mut g = c.benchmark_group("uncontended_mutex");
    g.measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(300))
        .sample_size(20)
        .throughput(Throughput::Elements(1));
    let ours = gogreen::sync::Mutex::new(0u64);
    g.bench_function("gogreen::sync::Mutex", |b| {
        b.iter(|| *ours.lock().unwrap() += 1)
    });
    let std = std::sync::Mutex::new(0u64);
    g.bench_function("std::sync::Mutex", |b| b.iter(|| *std.lock().unwrap() += 1));
    let pl = parking_lot::Mutex::new(0u64);
    g.bench_function("parking_lot::Mutex", |b| b.iter(|| *pl.lock() += 1));
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    contended(&mut c);
    yield_inside(&mut c);
    uncontended(&mut c);
    c.final_summary();
}
