//! The reference workloads of `../shared/anchors/go/main.go`, on gogreen: same
//! arguments (`WORKLOAD [N]`), same output lines, so `compare.py` can put them side by
//! side with Go's.

use gogreen::sync::WaitGroup;
use std::time::{Duration, Instant};

fn max_rss_kb() -> i64 {
    // SAFETY: getrusage writes into the zeroed struct.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru.ru_maxrss
    }
}

fn report(name: &str, n: usize, d: Duration, unit: &str) {
    let ns = d.as_nanos() as f64;
    println!(
        "{name} n={n} total_ms={:.1} ns_per_{unit}={:.1} maxrss_kb={}",
        ns / 1e6,
        ns / n as f64,
        max_rss_kb()
    );
}

fn spawn_join(n: usize) {
    gogreen::run(move || {
        let wg = WaitGroup::new();
        let t = Instant::now();
        wg.add(n);
        for _ in 0..n {
            let wg = wg.clone();
            gogreen::spawn(move || wg.done());
        }
        wg.wait();
        report("spawn_join", n, t.elapsed(), "task");
    });
}

fn yield_switch(n: usize) {
    // Go's version sets GOMAXPROCS(1); ours pins the runtime to one processor before it starts.
    gogreen::Config::new()
        .procs(1)
        .apply()
        .expect("the runtime must not be running yet");
    gogreen::run(move || {
        let wg = WaitGroup::new();
        wg.add(2);
        let t = Instant::now();
        for _ in 0..2 {
            let wg = wg.clone();
            gogreen::spawn(move || {
                for _ in 0..n {
                    gogreen::yield_now();
                }
                wg.done();
            });
        }
        wg.wait();
        report("yield", 2 * n, t.elapsed(), "switch");
    });
}

fn parked(n: usize) {
    gogreen::run(move || {
        let gate = WaitGroup::new();
        gate.add(1);
        let (started, done) = (WaitGroup::new(), WaitGroup::new());
        started.add(n);
        done.add(n);
        let t = Instant::now();
        for _ in 0..n {
            let (gate, started, done) = (gate.clone(), started.clone(), done.clone());
            gogreen::spawn(move || {
                started.done();
                gate.wait();
                done.done();
            });
        }
        started.wait();
        let spawned = t.elapsed();
        let rss = max_rss_kb();
        gate.done();
        done.wait();
        let d = t.elapsed();
        println!(
            "parked n={n} spawn_ms={:.1} total_ms={:.1} maxrss_kb={rss} bytes_per_task={:.0}",
            spawned.as_secs_f64() * 1e3,
            d.as_secs_f64() * 1e3,
            (rss * 1024) as f64 / n as f64
        );
    });
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 2 {
        println!("usage: workloads spawn_join|ping_pong|yield|parked|sieve|mpmc|select4|chain [N]");
        std::process::exit(2);
    }
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0);
    let def = |d: usize| if n > 0 { n } else { d };
    match args[1].as_str() {
        "spawn_join" => spawn_join(def(1_000_000)),
        "yield" => yield_switch(def(1_000_000)),
        "parked" => parked(def(1_000_000)),
        _ => {
            println!("unknown workload");
            std::process::exit(2);
        }
    }
}
