//! Channel throughput on OS threads: gogreen's channels against crossbeam-channel and
//! std::sync::mpsc; and gogreen's channels between green threads against the same
//! channels between OS threads (`green_vs_os`).
//!
//! Each benchmark moves `MSGS` messages through one channel: spsc (1 producer, 1 consumer),
//! mpsc (4 producers, 1 consumer) and mpmc (4 and 4; std's receiver cannot be shared) over
//! `bounded(0)`, `bounded(1)`, `bounded(CAP)` and `unbounded()`; plus `ping_pong`, a value
//! bounced `ROUND_TRIPS` times between two threads over two rendezvous channels, and
//! `select4`, one thread selecting over four rendezvous channels fed by four threads
//! (the anchors' workload; std has no select).
//! Thread start-up is inside the measurement, equally for every library.
//!
//!     cargo bench --bench channels                 # everything, a few minutes
//!     cargo bench --bench channels -- ping_pong    # one group
//!     INTERLEAVED=21 cargo bench --bench channels  # see below
//!
//! Criterion measures one library after the other, so on a machine shared with other
//! work a load change between the two shows up as a difference between them. With
//! `INTERLEAVED=n` the bench instead runs each workload n times per library, alternating
//! the libraries run by run, and prints the medians and their ratio.

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

/// Shapes as (name, producers, consumers).
const SHAPES: [(&str, usize, usize); 3] = [("spsc", 1, 1), ("mpsc", 4, 1), ("mpmc", 4, 4)];

fn gogreen_run(cap: Option<usize>, producers: usize, consumers: usize) -> Duration {
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
}

fn crossbeam_run(cap: Option<usize>, producers: usize, consumers: usize) -> Duration {
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
}

/// std's receiver cannot be shared: single consumer only.
fn std_run(cap: Option<usize>, producers: usize) -> Duration {
    match cap {
        Some(n) => {
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
        }
        None => {
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
        }
    }
}

fn throughput(c: &mut Criterion) {
    for (shape, producers, consumers) in SHAPES {
        for (flavor, cap) in FLAVORS {
            let mut g = c.benchmark_group(format!("{shape}/{flavor}"));
            g.sampling_mode(SamplingMode::Flat)
                .sample_size(10)
                .warm_up_time(Duration::from_millis(500))
                .measurement_time(Duration::from_secs(2))
                .throughput(Throughput::Elements(MSGS as u64));
            bench(&mut g, "gogreen", || gogreen_run(cap, producers, consumers));
            bench(&mut g, "crossbeam", || {
                crossbeam_run(cap, producers, consumers)
            });
            if consumers == 1 {
                bench(&mut g, "std_mpsc", || std_run(cap, producers));
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

fn gogreen_ping_pong() -> Duration {
    ping_pong_with(
        gogreen::chan::bounded(0),
        gogreen::chan::bounded(0),
        |s, v| s.send(v).unwrap(),
        |r| r.recv().unwrap(),
    )
}

fn crossbeam_ping_pong() -> Duration {
    ping_pong_with(
        crossbeam_channel::bounded(0),
        crossbeam_channel::bounded(0),
        |s, v| s.send(v).unwrap(),
        |r| r.recv().unwrap(),
    )
}

fn std_ping_pong() -> Duration {
    ping_pong_with(
        std::sync::mpsc::sync_channel(0),
        std::sync::mpsc::sync_channel(0),
        |s, v| s.send(v).unwrap(),
        |r| r.recv().unwrap(),
    )
}

/// One thread receives `MSGS` messages through a `select` over four rendezvous channels,
/// each fed by its own thread.
macro_rules! select4 {
    ($chan:ident, $select:ident) => {{
        let chans: Vec<_> = (0..4).map(|_| $chan::bounded::<usize>(0)).collect();
        let start = Instant::now();
        thread::scope(|scope| {
            for (s, _) in &chans {
                scope.spawn(move || {
                    for i in 0..MSGS / 4 {
                        s.send(i).unwrap();
                    }
                });
            }
            let (r0, r1, r2, r3) = (&chans[0].1, &chans[1].1, &chans[2].1, &chans[3].1);
            for _ in 0..MSGS {
                $select! {
                    recv(r0) -> v => { black_box(v.unwrap()); }
                    recv(r1) -> v => { black_box(v.unwrap()); }
                    recv(r2) -> v => { black_box(v.unwrap()); }
                    recv(r3) -> v => { black_box(v.unwrap()); }
                }
            }
        });
        start.elapsed()
    }};
}

fn gogreen_select4() -> Duration {
    use gogreen::chan;
    use gogreen_channel::select;
    select4!(chan, select)
}

fn crossbeam_select4() -> Duration {
    use crossbeam_channel::select;
    select4!(crossbeam_channel, select)
}

fn select4(c: &mut Criterion) {
    let mut g = c.benchmark_group("select4");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(MSGS as u64));
    bench(&mut g, "gogreen", gogreen_select4);
    bench(&mut g, "crossbeam", crossbeam_select4);
    g.finish();
}

fn ping_pong(c: &mut Criterion) {
    let mut g = c.benchmark_group("ping_pong");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(ROUND_TRIPS as u64));
    bench(&mut g, "gogreen", gogreen_ping_pong);
    bench(&mut g, "crossbeam", crossbeam_ping_pong);
    bench(&mut g, "std_mpsc", std_ping_pong);
    g.finish();
}

/// The `ping_pong` workload with both ends green threads.
fn green_ping_pong() -> Duration {
    gogreen::run(|| {
        let (a_s, a_r) = gogreen::chan::bounded::<usize>(0);
        let (b_s, b_r) = gogreen::chan::bounded::<usize>(0);
        let start = Instant::now();
        let peer = gogreen::spawn(move || {
            for _ in 0..ROUND_TRIPS {
                let v = a_r.recv().unwrap();
                b_s.send(v + 1).unwrap();
            }
        });
        for i in 0..ROUND_TRIPS {
            a_s.send(i).unwrap();
            black_box(b_r.recv().unwrap());
        }
        peer.join().unwrap();
        start.elapsed()
    })
}

/// The mpmc workload (4 producers, 4 consumers) with every task a green thread.
fn green_mpmc(cap: Option<usize>) -> Duration {
    gogreen::run(move || {
        let (s, r) = match cap {
            Some(n) => gogreen::chan::bounded::<usize>(n),
            None => gogreen::chan::unbounded(),
        };
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let s = s.clone();
            tasks.push(gogreen::spawn(move || {
                for i in 0..MSGS / 4 {
                    s.send(i).unwrap();
                }
            }));
            let r = r.clone();
            tasks.push(gogreen::spawn(move || {
                for _ in 0..MSGS / 4 {
                    black_box(r.recv().unwrap());
                }
            }));
        }
        for t in tasks {
            t.join().unwrap();
        }
        start.elapsed()
    })
}

/// The `select4` workload with every task a green thread.
fn green_select4() -> Duration {
    gogreen::run(|| {
        let chans: Vec<_> = (0..4).map(|_| gogreen::chan::bounded::<usize>(0)).collect();
        let start = Instant::now();
        let feeders: Vec<_> = chans
            .iter()
            .map(|(s, _)| {
                let s = s.clone();
                gogreen::spawn(move || {
                    for i in 0..MSGS / 4 {
                        s.send(i).unwrap();
                    }
                })
            })
            .collect();
        let (r0, r1, r2, r3) = (&chans[0].1, &chans[1].1, &chans[2].1, &chans[3].1);
        for _ in 0..MSGS {
            gogreen::select! {
                recv(r0) -> v => { black_box(v.unwrap()); }
                recv(r1) -> v => { black_box(v.unwrap()); }
                recv(r2) -> v => { black_box(v.unwrap()); }
                recv(r3) -> v => { black_box(v.unwrap()); }
            }
        }
        for f in feeders {
            f.join().unwrap();
        }
        start.elapsed()
    })
}

/// gogreen's channels between green threads, against the same channels between OS threads.
fn green_vs_os(c: &mut Criterion) {
    type Run<'a> = &'a dyn Fn() -> Duration;
    let cases: [(&str, usize, Run, Run); 4] = [
        (
            "ping_pong",
            ROUND_TRIPS,
            &green_ping_pong,
            &gogreen_ping_pong,
        ),
        ("select4", MSGS, &green_select4, &gogreen_select4),
        (
            "mpmc/bounded(1024)",
            MSGS,
            &|| green_mpmc(Some(CAP)),
            &|| gogreen_run(Some(CAP), 4, 4),
        ),
        ("mpmc/bounded(0)", MSGS, &|| green_mpmc(Some(0)), &|| {
            gogreen_run(Some(0), 4, 4)
        }),
    ];
    for (name, per, green, os) in cases {
        let mut g = c.benchmark_group(format!("green_vs_os/{name}"));
        g.sampling_mode(SamplingMode::Flat)
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2))
            .throughput(Throughput::Elements(per as u64));
        bench(&mut g, "green threads", green);
        bench(&mut g, "OS threads", os);
        g.finish();
    }
}

/// Runs every workload `rounds` times per library, alternating the libraries, and prints
/// median times (per message, per round trip) and the ratio gogreen / crossbeam.
fn interleaved(rounds: usize) {
    fn median(mut v: Vec<Duration>, per: usize) -> f64 {
        v.sort();
        v[v.len() / 2].as_nanos() as f64 / per as f64
    }
    println!(
        "{:<18} {:>12} {:>12} {:>12} {:>8}",
        "ns per message", "gogreen", "crossbeam", "std_mpsc", "g / cb"
    );
    let line = |name: &str, per: usize, libs: &[&dyn Fn() -> Duration]| {
        let mut times = vec![Vec::new(); libs.len()];
        for _ in 0..rounds {
            for (t, f) in times.iter_mut().zip(libs) {
                t.push(f());
            }
        }
        let m: Vec<f64> = times.into_iter().map(|t| median(t, per)).collect();
        let std = m.get(2).map_or(String::new(), |s| format!("{s:.1}"));
        println!(
            "{name:<18} {:>12.1} {:>12.1} {std:>12} {:>8.2}",
            m[0],
            m[1],
            m[0] / m[1]
        );
    };
    for (shape, producers, consumers) in SHAPES {
        for (flavor, cap) in FLAVORS {
            let g = move || gogreen_run(cap, producers, consumers);
            let cb = move || crossbeam_run(cap, producers, consumers);
            let st = move || std_run(cap, producers);
            let name = format!("{shape}/{flavor}");
            if consumers == 1 {
                line(&name, MSGS, &[&g, &cb, &st]);
            } else {
                line(&name, MSGS, &[&g, &cb]);
            }
        }
    }
    line(
        "ping_pong",
        ROUND_TRIPS,
        &[&gogreen_ping_pong, &crossbeam_ping_pong, &std_ping_pong],
    );
    line("select4", MSGS, &[&gogreen_select4, &crossbeam_select4]);
    println!();
    println!(
        "{:<18} {:>12} {:>12} {:>12} {:>8}",
        "green vs OS", "green", "OS threads", "", "g / os"
    );
    line(
        "ping_pong",
        ROUND_TRIPS,
        &[&green_ping_pong, &gogreen_ping_pong],
    );
    line("select4", MSGS, &[&green_select4, &gogreen_select4]);
    let (g, os) = (|| green_mpmc(Some(CAP)), || gogreen_run(Some(CAP), 4, 4));
    line("mpmc/bounded(1024)", MSGS, &[&g, &os]);
    let (g, os) = (|| green_mpmc(Some(0)), || gogreen_run(Some(0), 4, 4));
    line("mpmc/bounded(0)", MSGS, &[&g, &os]);
}

fn main() {
    if let Some(rounds) = std::env::var("INTERLEAVED")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        interleaved(rounds);
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    ping_pong(&mut c);
    select4(&mut c);
    throughput(&mut c);
    green_vs_os(&mut c);
    c.final_summary();
}
