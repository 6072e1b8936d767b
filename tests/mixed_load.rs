//! Everything at once: green threads that spawn, send, receive, select, sleep, yield,
//! block their OS thread and panic, on every channel flavor, while OS threads take part.
//! Whatever the interleaving, every message is accounted for and every task finishes.

mod common;

use gogreen::chan::{self, Receiver, Sender};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

const WORKERS: u64 = 64;
const ROUNDS: u64 = 1000;

/// A tiny per-task random generator.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

struct Shared {
    channels: Vec<(Sender<u64>, Receiver<u64>)>,
    sent: AtomicU64,
    received: AtomicU64,
    spawned_done: AtomicUsize,
}

fn worker(id: u64, shared: Arc<Shared>) -> u64 {
    let mut rng = Rng(id.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut children = Vec::new();
    for _ in 0..ROUNDS {
        let (tx, rx) = &shared.channels[rng.below(shared.channels.len() as u64) as usize];
        match rng.below(9) {
            0 | 1 => {
                // A send that gives up after a while, so no round can hang.
                let v = rng.below(1000) + 1;
                if tx.send_timeout(v, Duration::from_millis(2)).is_ok() {
                    shared.sent.fetch_add(v, Ordering::Relaxed);
                }
            }
            2 | 3 => {
                if let Ok(v) = rx.recv_timeout(Duration::from_millis(2)) {
                    shared.received.fetch_add(v, Ordering::Relaxed);
                }
            }
            4 => {
                let (tx2, rx2) = &shared.channels[rng.below(shared.channels.len() as u64) as usize];
                let v = rng.below(1000) + 1;
                gogreen::select! {
                    recv(rx) -> m => if let Ok(m) = m { shared.received.fetch_add(m, Ordering::Relaxed); },
                    recv(rx2) -> m => if let Ok(m) = m { shared.received.fetch_add(m, Ordering::Relaxed); },
                    send(tx2, v) -> r => if r.is_ok() { shared.sent.fetch_add(v, Ordering::Relaxed); },
                    default(Duration::from_millis(1)) => {},
                }
            }
            5 => gogreen::yield_now(),
            6 => gogreen::sleep(Duration::from_micros(rng.below(500))),
            7 => {
                let shared = shared.clone();
                children.push(gogreen::spawn(move || {
                    if id.is_multiple_of(5) {
                        // A blocking call the runtime does not know of.
                        std::thread::sleep(Duration::from_micros(200));
                    }
                    shared.spawned_done.fetch_add(1, Ordering::Relaxed);
                }));
            }
            _ => {
                let h = gogreen::spawn(move || -> u64 { panic!("planned panic") });
                assert!(h.join().is_err());
            }
        }
    }
    let n = children.len() as u64;
    for c in children {
        c.join().unwrap();
    }
    n
}

#[test]
fn a_mixed_load_loses_nothing() {
    // The planned panics would flood the output; any other panic is reported as usual.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<&str>() != Some(&"planned panic") {
            default_hook(info);
        }
    }));
    let shared = Arc::new(Shared {
        channels: vec![
            chan::bounded(0),
            chan::bounded(1),
            chan::bounded(8),
            chan::unbounded(),
        ],
        sent: AtomicU64::new(0),
        received: AtomicU64::new(0),
        spawned_done: AtomicUsize::new(0),
    });
    // Two OS threads take part on the same channels.
    let os: Vec<_> = (0..2)
        .map(|i| {
            let shared = shared.clone();
            std::thread::spawn(move || worker(1000 + i, shared))
        })
        .collect();
    let greens: Vec<_> = (0..WORKERS)
        .map(|id| {
            let shared = shared.clone();
            gogreen::spawn(move || worker(id, shared))
        })
        .collect();
    let mut spawned = 0;
    for h in greens {
        spawned += h.join().unwrap();
    }
    for t in os {
        spawned += t.join().unwrap();
    }
    assert_eq!(shared.spawned_done.load(Ordering::Relaxed) as u64, spawned);
    // Drain what is still buffered; then every value sent was received exactly once.
    for (_, rx) in &shared.channels {
        while let Ok(v) = rx.try_recv() {
            shared.received.fetch_add(v, Ordering::Relaxed);
        }
    }
    assert_eq!(
        shared.sent.load(Ordering::Relaxed),
        shared.received.load(Ordering::Relaxed)
    );
}
