//! Small programs to watch on a timeline: each shows one thing the scheduler does.
//! `docs/timeline.md` has their pictures and the commands that made them.
//!
//! `GOGREEN_TRACE=t.json cargo run --release --example timeline -- SCENE`, with SCENE:
//!
//! - `fanout`: one green thread spawns 8 CPU-bound ones and joins them; with two
//!   processors, the idle one steals half of the queue.
//! - `blocked`: a green thread calls `std::thread::sleep` (a blocking call gogreen is
//!   not told of) while others wait on its processor; sysmon puts a spare processor
//!   in play for them. Run it with `GOGREEN_PROCS=1`, so no other processor is idle.
//! - `marked`: the same sleep inside `gogreen::blocking`: the processor is handed to
//!   another thread at once.

use std::hint::black_box;
use std::time::Duration;

/// About `rounds` × 1 ns of work that never enters the runtime.
fn spin(rounds: u64) -> u64 {
    let mut x = black_box(rounds);
    for _ in 0..rounds {
        x = black_box(
            x.wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407),
        );
    }
    x
}

/// Spawns `n` green threads that each spin about `rounds` times, a few slices each.
fn workers(n: usize, rounds: u64) -> Vec<gogreen::JoinHandle<u64>> {
    (0..n)
        .map(|i| {
            gogreen::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(move || {
                    let mut x = 0;
                    for _ in 0..4 {
                        x ^= spin(rounds / 4);
                        gogreen::yield_now();
                    }
                    x
                })
                .expect("spawn")
        })
        .collect()
}

fn fanout() {
    gogreen::run(|| {
        let handles = workers(8, 400_000);
        let sum: u64 = handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .fold(0, |a, b| a ^ b);
        black_box(sum);
    });
}

fn blocked(marked: bool) {
    gogreen::run(move || {
        let handles = workers(4, 200_000);
        // 30 ms in a call that blocks the OS thread: unmarked, the processor is stuck
        // with it until sysmon notices (10 ms); marked, it is handed over at once.
        if marked {
            gogreen::blocking(|| std::thread::sleep(Duration::from_millis(30)));
        } else {
            std::thread::sleep(Duration::from_millis(30));
        }
        for h in handles {
            h.join().unwrap();
        }
    });
}

fn main() {
    let scene = std::env::args().nth(1).unwrap_or_default();
    match scene.as_str() {
        "fanout" => fanout(),
        "blocked" => blocked(false),
        "marked" => blocked(true),
        _ => {
            eprintln!(
                "usage: timeline fanout|blocked|marked (see the top of examples/timeline.rs)"
            );
            std::process::exit(2);
        }
    }
}
