//! A million green threads, all parked at once, then released and joined.
//!
//! `cargo run --release --example million [N]`
//!
//! Each task starts, reports in, and blocks receiving from a gate channel. Once every one
//! of them is parked, the gate is closed, which wakes them all, and the main task joins
//! them. The last line has the same form as the `parked` workload of
//! `examples/workloads.rs`. It says how many OS threads carried the million: one per
//! processor, plus any that sysmon added for a processor whose thread looked stuck
//! (on a loaded machine, the OS deschedules threads for longer than sysmon's 10 ms).
//!
//! If the machine cannot hold N stacks at once (a kernel without `MADV_GUARD_INSTALL`
//! and the default `vm.max_map_count` stops near 32,000), the spawn that finds no stack
//! fails; the demo prints how far it got and the runtime's advice, and exits with
//! status 1.

use gogreen::chan;
use gogreen::sync::WaitGroup;
use std::time::Instant;

fn max_rss_kb() -> i64 {
    // SAFETY: getrusage writes into the zeroed struct.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru.ru_maxrss
    }
}

/// What the OS-thread count means: one thread (M) per processor runs the green threads;
/// more appear only when a processor's thread is held up — a blocking call, or a thread
/// the OS did not schedule for 10 ms, which sysmon cannot tell from a stuck one and
/// replaces with a spare processor on a new thread (so a loaded machine shows more).
fn explain_threads(stats: &gogreen::Stats) {
    let ms = &stats.ms;
    println!(
        "  OS threads: {} for {} processors — {} running green threads, \
         {} spinning for work, {} idle, {} in a blocking call — plus sysmon's own",
        stats.threads, stats.procs, ms.running, ms.spinning, ms.idle, ms.blocking
    );
    let c = &stats.counters;
    if c.spare_ps > 0 || stats.threads > stats.procs {
        println!(
            "  (threads beyond one per processor: sysmon put {} spare processors in play for \
             ones whose thread looked stuck for 10 ms — a busy machine deschedules threads — \
             and {} blocking calls handed theirs off; idle threads are kept for reuse)",
            c.spare_ps, c.syscall_handoffs
        );
    }
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    gogreen::run(move || {
        let t = Instant::now();
        let (gate_tx, gate) = chan::bounded::<()>(0);
        let started = WaitGroup::new();
        started.add(n);
        let mut handles = Vec::with_capacity(n);
        for i in 0..n {
            let (gate, started) = (gate.clone(), started.clone());
            let spawned = gogreen::Builder::new().spawn(move || {
                started.done();
                // Blocks until the gate closes: Err(RecvError), as Go's closed channel.
                let _ = gate.recv();
                i
            });
            match spawned {
                Ok(h) => handles.push(h),
                Err(e) => {
                    eprintln!("million: spawned {i} of {n} green threads, then: {e}");
                    std::process::exit(1);
                }
            }
        }
        started.wait();
        let spawned = t.elapsed();
        let rss = max_rss_kb();
        let stats = gogreen::stats();
        println!(
            "{n} green threads parked after {:.0} ms, on {} OS threads; {} stacks, {} KiB resident",
            spawned.as_secs_f64() * 1e3,
            stats.threads,
            stats.stacks,
            rss
        );
        explain_threads(&stats);
        gate_tx.close();
        let mut sum = 0usize;
        for h in handles {
            sum += h.join().expect("no task panics");
        }
        assert_eq!(sum, n * (n - 1) / 2);
        let total = t.elapsed();
        println!("all {n} joined after {:.0} ms", total.as_secs_f64() * 1e3);
        println!(
            "parked n={n} spawn_ms={:.1} total_ms={:.1} maxrss_kb={rss} bytes_per_task={:.0}",
            spawned.as_secs_f64() * 1e3,
            total.as_secs_f64() * 1e3,
            (rss * 1024) as f64 / n as f64
        );
    });
}
