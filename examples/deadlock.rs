//! A classic bug, reported: `main` waits for its workers before it reads their results,
//! and the workers wait, each with a result in hand, for someone to read it. Nothing can
//! move, and gogreen proves it: it prints
//! `gogreen: fatal: all green threads are asleep - deadlock!`, the task dump (who waits
//! for what, since when, spawned where, and the frames of each), and exits with status 2.
//!
//!     cargo run --release --example deadlock; echo "exit status $?"
//!
//! The fix is one line: receive before waiting (or give the channel room for every
//! result). See docs/watching.md, "The deadlock report".

use gogreen::chan::bounded;
use gogreen::sync::WaitGroup;

fn main() {
    gogreen::run(|| {
        // A rendezvous channel: a send waits for its receiver.
        let (results_tx, results_rx) = bounded::<u64>(0);
        let wg = WaitGroup::new();
        for id in 0..3u64 {
            wg.add(1);
            let tx = results_tx.clone();
            let wg = wg.clone();
            gogreen::Builder::new()
                .name(format!("worker-{id}"))
                .spawn(move || {
                    tx.send(id * id).unwrap();
                    wg.done();
                })
                .unwrap();
        }
        drop(results_tx);
        // The bug: every worker is still blocked in its send.
        wg.wait();
        let sum: u64 = results_rx.iter().sum();
        println!("sum of squares: {sum}");
    });
}
