//! Channel throughput on OS threads: gogreen's channels against crossbeam-channel and std::sync::mpsc.
//!
//! Each benchmark moves `MSGS` messages through one channel: spsc (1 producer, 1 consumer),
//! mpsc (4 producers, 1 consumer) and mpmc (4 and 4; std's receiver cannot be shared) over
//! `bounded(0)`, `bounded(1)`, `bounded(CAP)` and `unbounded()`; plus `ping_pong`, a value
//! bounced `ROUND_TRIPS` times between two threads over two rendezvous channels.
//! Thread start-up is inside the measurement, equally for every library.
//!
//!     cargo bench --bench channels                 # everything, a few minutes
//!     cargo bench --bench channels -- ping_pong    # one group

use std::hint::black_box;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput, measurement::WallTime};

const MSGS: usize = 20_000;
const ROUND_TRIPS: usize = 10_000;
const CAP: usize = 1024;

/// Runs `producers` threads that send `MSGS` messages in all and one thread per receiver
/// in `rs`, each receiving its share; returns the elapsed time.
fn run<S, R>(
    s: S,
    rs: Vec<R>,
    producers: usize,
    send: impl Fn(&S, usize) + Sync,
    recv: impl Fn(&R) + Sync,
) -> Duration
where
    S: Clone + Send,
    R: Send,
{
    let consumers = rs.len();
    let start = Instant::now();
    thread::scope(|scope| {
        for _ in 0..producers {
            let s = s.clone();
            let send = &send;
            scope.spawn(move || {
                for i in 0..MSGS / producers {
                    send(&s, i);
                }
            });
        }
        for r in rs {
            let recv = &recv;
            scope.spawn(move || {
                for _ in 0..MSGS / consumers {
                    recv(&r);
                }
            });
        }
    });
    start.elapsed()
}

fn bench<F: Fn() -> Duration>(g: &mut BenchmarkGroup<'_, WallTime>, name: &str, f: F) {
    g.bench_function(name, |b| {
        b.iter_custom(|iters| (0..iters).map(|_| f()).sum())
    });
}

/// Capacity variants as (name, capacity), `None` meaning unbounded.
const FLAVORS: [(&str, Option<usize>); 4] = [
    ("bounded0", Some(0)),
    ("bounded1", Some(1)),
    ("bounded_n", Some(CAP)),
    ("unbounded", None),
];

fn throughput(c: &mut Criterion) {
    for (shape, producers, consumers) in [("spsc", 1, 1), ("mpsc", 4, 1), ("mpmc", 4, 4)] {
        for (flavor, cap) in FLAVORS {
            let mut g = c.benchmark_group(format!("{shape}/{flavor}"));
            g.sampling_mode(SamplingMode::Flat)
                .sample_size(10)
                .warm_up_time(Duration::from_millis(500))
                .measurement_time(Duration::from_secs(2))
                .throughput(Throughput::Elements(MSGS as u64));

            bench(&mut g, "gogreen", || {
                let (s, r) = match cap {
                    Some(n) => gogreen::chan::bounded::<usize>(n),
                    None => gogreen::chan::unbounded::<usize>(),
                };
                let rs = (0..consumers).map(|_| r.clone()).collect();
                drop(r);
                run(
                    s,
                    rs,
                    producers,
                    |s, i| s.send(i).unwrap(),
                    |r| {
                        black_box(r.recv().unwrap());
                    },
                )
            });
            bench(&mut g, "crossbeam", || {
                let (s, r) = match cap {
                    Some(n) => crossbeam_channel::bounded::<usize>(n),
                    None => crossbeam_channel::unbounded::<usize>(),
                };
                let rs = (0..consumers).map(|_| r.clone()).collect();
                drop(r);
                run(
                    s,
                    rs,
                    producers,
                    |s, i| s.send(i).unwrap(),
                    |r| {
                        black_box(r.recv().unwrap());
                    },
                )
            });
            if consumers == 1 {
                match cap {
                    Some(n) => bench(&mut g, "std_mpsc", || {
                        let (s, r) = std::sync::mpsc::sync_channel::<usize>(n);
                        run(
                            s,
                            vec![r],
                            producers,
                            |s, i| s.send(i).unwrap(),
                            |r| {
                                black_box(r.recv().unwrap());
                            },
                        )
                    }),
                    None => bench(&mut g, "std_mpsc", || {
                        let (s, r) = std::sync::mpsc::channel::<usize>();
                        run(
                            s,
                            vec![r],
                            producers,
                            |s, i| s.send(i).unwrap(),
                            |r| {
                                black_box(r.recv().unwrap());
                            },
                        )
                    }),
                }
            }
            g.finish();
        }
    }
}

/// Bounces a value `ROUND_TRIPS` times between the caller and a second thread.
fn ping_pong_with<S, R>(
    (a_s, a_r): (S, R),
    (b_s, b_r): (S, R),
    send: impl Fn(&S, usize) + Sync,
    recv: impl Fn(&R) -> usize + Sync,
) -> Duration
where
    S: Send,
    R: Send,
{
    let start = Instant::now();
    thread::scope(|scope| {
        let (send, recv) = (&send, &recv);
        scope.spawn(move || {
            for _ in 0..ROUND_TRIPS {
                let v = recv(&a_r);
                send(&b_s, v + 1);
            }
        });
        for i in 0..ROUND_TRIPS {
            send(&a_s, i);
            black_box(recv(&b_r));
        }
    });
    start.elapsed()
}

fn ping_pong(c: &mut Criterion) {
    let mut g = c.benchmark_group("ping_pong");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(ROUND_TRIPS as u64));
    bench(&mut g, "gogreen", || {
        ping_pong_with(
            gogreen::chan::bounded(0),
            gogreen::chan::bounded(0),
            |s, v| s.send(v).unwrap(),
            |r| r.recv().unwrap(),
        )
    });
    bench(&mut g, "crossbeam", || {
        ping_pong_with(
            crossbeam_channel::bounded(0),
            crossbeam_channel::bounded(0),
            |s, v| s.send(v).unwrap(),
            |r| r.recv().unwrap(),
        )
    });
    bench(&mut g, "std_mpsc", || {
        ping_pong_with(
            std::sync::mpsc::sync_channel(0),
            std::sync::mpsc::sync_channel(0),
            |s, v| s.send(v).unwrap(),
            |r| r.recv().unwrap(),
        )
    });
    g.finish();
}

criterion::criterion_group!(benches, ping_pong, throughput);
criterion::criterion_main!(benches);
