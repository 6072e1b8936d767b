//! The reference workloads of `../shared/anchors/go/main.go`, on gogreen: same
//! arguments (`WORKLOAD [N]`), same output lines, so `compare.py` can put them side by
//! side with Go's.

use gogreen::chan;
use gogreen::sync::{Mutex, WaitGroup};
use std::sync::Arc;
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

/// With `WORKLOADS_COUNTERS=1`, one more line: the scheduler's counters per operation
/// (steals, Ms woken, Ms put to sleep), the cross-core traffic a timing hides.
fn counters(name: &str, ops: usize) {
    if std::env::var_os("WORKLOADS_COUNTERS").is_none() {
        return;
    }
    let c = gogreen::stats().counters;
    let per = |x: u64| x as f64 / ops as f64;
    println!(
        "{name}_counters steals_per_op={:.5} wakeups_per_op={:.5} sleeps_per_op={:.5} switches_per_op={:.3}",
        per(c.steals),
        per(c.m_wakeups),
        per(c.m_sleeps),
        per(c.switches)
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
        // Go closes `gate`; here every sender is dropped, which closes it the same way.
        let (gate_tx, gate) = chan::bounded::<()>(0);
        let (started, done) = (WaitGroup::new(), WaitGroup::new());
        started.add(n);
        done.add(n);
        let t = Instant::now();
        for _ in 0..n {
            let (gate, started, done) = (gate.clone(), started.clone(), done.clone());
            gogreen::spawn(move || {
                started.done();
                let _ = gate.recv();
                done.done();
            });
        }
        started.wait(); // every task has run and is about to block on gate
        let spawned = t.elapsed();
        let rss = max_rss_kb();
        drop(gate_tx);
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

fn ping_pong(n: usize) {
    gogreen::run(move || {
        let (a_tx, a_rx) = chan::bounded::<usize>(0);
        let (b_tx, b_rx) = chan::bounded::<usize>(0);
        gogreen::spawn(move || {
            for v in a_rx {
                if b_tx.send(v + 1).is_err() {
                    break;
                }
            }
        });
        let t = Instant::now();
        for i in 0..n {
            a_tx.send(i).unwrap();
            b_rx.recv().unwrap();
        }
        drop(a_tx);
        report("ping_pong", n, t.elapsed(), "roundtrip");
    });
}

fn chain(n: usize) {
    gogreen::run(move || {
        let t = Instant::now();
        let (leftmost_tx, leftmost_rx) = chan::bounded::<usize>(0);
        let mut left = leftmost_tx;
        for _ in 0..n {
            let (right_tx, right_rx) = chan::bounded::<usize>(0);
            gogreen::spawn(move || {
                let v = right_rx.recv().unwrap();
                left.send(v + 1).unwrap();
            });
            left = right_tx;
        }
        gogreen::spawn(move || left.send(0).unwrap());
        let got = leftmost_rx.recv().unwrap();
        if got != n {
            println!("chain: got {got} want {n}");
            std::process::exit(1);
        }
        report("chain", n, t.elapsed(), "task");
    });
}

fn sieve(n: usize) {
    gogreen::run(move || {
        let t = Instant::now();
        let (tx, mut rx) = chan::bounded::<u64>(0);
        gogreen::spawn(move || {
            for i in 2.. {
                if tx.send(i).is_err() {
                    break;
                }
            }
        });
        let mut last = 0;
        for _ in 0..n {
            let prime = rx.recv().unwrap();
            last = prime;
            let (tx1, rx1) = chan::bounded::<u64>(0);
            let input = rx;
            gogreen::spawn(move || {
                for i in input {
                    if i % prime != 0 && tx1.send(i).is_err() {
                        break;
                    }
                }
            });
            rx = rx1;
        }
        report("sieve", n, t.elapsed(), "prime");
        println!("sieve last_prime={last}");
    });
}

fn mpmc(n: usize) {
    gogreen::run(move || {
        const P: usize = 4;
        const C: usize = 4;
        let (tx, rx) = chan::bounded::<usize>(1024);
        let t = Instant::now();
        let producers = WaitGroup::new();
        producers.add(P);
        for _ in 0..P {
            let (tx, wg) = (tx.clone(), producers.clone());
            gogreen::spawn(move || {
                for j in 0..n / P {
                    tx.send(j).unwrap();
                }
                wg.done();
            });
        }
        let consumers: Vec<_> = (0..C)
            .map(|_| {
                let rx = rx.clone();
                gogreen::spawn(move || rx.iter().fold(0usize, |s, v| s.wrapping_add(v)))
            })
            .collect();
        producers.wait();
        drop(tx);
        for c in consumers {
            c.join().unwrap();
        }
        report("mpmc", n, t.elapsed(), "msg");
    });
}

fn select4(n: usize) {
    gogreen::run(move || {
        const K: usize = 4;
        // Go's senders leave their channels open when they are done. Ours would close
        // them as they drop their `Sender`, and every later select would count the
        // `Err` from a closed channel as a receive: the loop holds a clone of each
        // until it ends.
        let mut keep = Vec::with_capacity(K);
        let chans: Vec<_> = (0..K)
            .map(|_| {
                let (tx, rx) = chan::bounded::<usize>(0);
                keep.push(tx.clone());
                gogreen::spawn(move || {
                    for j in 0..n / K {
                        if tx.send(j).is_err() {
                            break;
                        }
                    }
                });
                rx
            })
            .collect();
        let t = Instant::now();
        for _ in 0..(n / K) * K {
            gogreen::select! {
                recv(chans[0]) -> msg => { msg.expect("a sender is kept open"); },
                recv(chans[1]) -> msg => { msg.expect("a sender is kept open"); },
                recv(chans[2]) -> msg => { msg.expect("a sender is kept open"); },
                recv(chans[3]) -> msg => { msg.expect("a sender is kept open"); },
            }
        }
        report("select4", n, t.elapsed(), "recv");
        counters("select4", (n / K) * K);
        drop(keep);
    });
}

fn mutex(n: usize) {
    gogreen::run(move || {
        const WORKERS: usize = 8;
        let counter = Arc::new(Mutex::new(0usize));
        let wg = WaitGroup::new();
        wg.add(WORKERS);
        let t = Instant::now();
        for _ in 0..WORKERS {
            let (counter, wg) = (counter.clone(), wg.clone());
            gogreen::spawn(move || {
                for _ in 0..n / WORKERS {
                    *counter.lock().unwrap() += 1;
                }
                wg.done();
            });
        }
        wg.wait();
        let got = *counter.lock().unwrap();
        if got != (n / WORKERS) * WORKERS {
            println!("mutex: counter {got} want {}", (n / WORKERS) * WORKERS);
            std::process::exit(1);
        }
        report("mutex", n, t.elapsed(), "lock");
    });
}

/// The cost of a blocking call that returns at once, with nothing queued behind it:
/// the processor waits in its syscall word and is taken back with one CAS. (gogreen
/// only: Go makes this step inside every system call.)
fn blocking_calls(n: usize) {
    gogreen::run(move || {
        let t = Instant::now();
        for i in 0..n {
            std::hint::black_box(gogreen::blocking(|| std::hint::black_box(i)));
        }
        report("blocking", n, t.elapsed(), "call");
    });
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 2 {
        println!(
            "usage: workloads spawn_join|ping_pong|yield|parked|sieve|mpmc|select4|chain|mutex|blocking [N]"
        );
        std::process::exit(2);
    }
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0);
    let def = |d: usize| if n > 0 { n } else { d };
    match args[1].as_str() {
        "spawn_join" => spawn_join(def(1_000_000)),
        "yield" => yield_switch(def(1_000_000)),
        "parked" => parked(def(1_000_000)),
        "ping_pong" => ping_pong(def(1_000_000)),
        "chain" => chain(def(100_000)),
        "sieve" => sieve(def(2000)),
        "mpmc" => mpmc(def(10_000_000)),
        "select4" => select4(def(1_000_000)),
        "mutex" => mutex(def(10_000_000)),
        "blocking" => blocking_calls(def(10_000_000)),
        _ => {
            println!("unknown workload");
            std::process::exit(2);
        }
    }
}
