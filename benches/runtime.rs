//! Green threads against OS threads: spawn + join.
//!
//! `cargo bench --bench runtime`. Figures are in `docs/BENCHMARKS.md` with the command
//! that produced them; the switch between two tasks is in `benches/switch.rs`.

use criterion::{BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::time::Duration;

/// Spawn `n` tasks that do nothing and join them all, from inside a green thread.
fn green_spawn_join(n: usize) {
    gogreen::run(move || {
        let handles: Vec<_> = (0..n)
            .map(|i| gogreen::spawn(move || black_box(i)))
            .collect();
        for h in handles {
            black_box(h.join().unwrap());
        }
    });
}

fn os_spawn_join(n: usize) {
    let handles: Vec<_> = (0..n)
        .map(|i| std::thread::spawn(move || black_box(i)))
        .collect();
    for h in handles {
        black_box(h.join().unwrap());
    }
}

fn spawn_join(c: &mut Criterion) {
    let mut g = c.benchmark_group("spawn_join");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(20);
    for n in [100usize, 1000] {
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("gogreen", n), &n, |b, &n| {
            b.iter(|| green_spawn_join(n))
        });
        g.bench_with_input(BenchmarkId::new("std::thread", n), &n, |b, &n| {
            b.iter(|| os_spawn_join(n))
        });
    }
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    spawn_join(&mut c);
    c.final_summary();
}
