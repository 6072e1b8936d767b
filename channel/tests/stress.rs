//! Stress tests that count: many producers and consumers, random yields, every message
//! received exactly once and nothing left behind — per flavor, through `select!`, with
//! timeouts, and with the channel closed under load.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use gogreen_channel::{
    Receiver, RecvTimeoutError, SendTimeoutError, Sender, bounded, park, select, unbounded,
};

const P: usize = 4;
const C: usize = 4;
const N: usize = if cfg!(miri) { 30 } else { 20_000 };

/// Sometimes gives way, so that threads interleave in many different ways.
fn maybe_yield() {
    static SEED: AtomicUsize = AtomicUsize::new(1);
    thread_local!(static RNG: Cell<u32> = Cell::new(
        (SEED.fetch_add(0x9e37_79b9, Ordering::Relaxed) as u32) | 1
    ));
    let x = RNG.with(|r| {
        let mut x = r.get();
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        r.set(x);
        x
    });
    if x.is_multiple_of(16) {
        park::snooze();
    }
}

/// A message that counts its drops.
struct Msg {
    producer: usize,
    seq: usize,
    drops: Arc<AtomicUsize>,
}

impl Drop for Msg {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::Relaxed);
    }
}

fn make(cap: Option<usize>) -> (Sender<Msg>, Receiver<Msg>) {
    match cap {
        Some(n) => bounded(n),
        None => unbounded(),
    }
}

/// Checks that each (producer, seq) arrived exactly once and in order per consumer.
fn check(per_consumer: Vec<Vec<(usize, usize)>>) {
    let mut seen = vec![vec![false; N]; P];
    for got in per_consumer {
        let mut last = [None::<usize>; P];
        for (p, i) in got {
            assert!(!seen[p][i], "message {p}/{i} received twice");
            seen[p][i] = true;
            assert!(
                last[p].is_none_or(|l| l < i),
                "out of order from producer {p}"
            );
            last[p] = Some(i);
        }
    }
    for (p, s) in seen.iter().enumerate() {
        if let Some(i) = s.iter().position(|&x| !x) {
            panic!("message {p}/{i} lost");
        }
    }
}

fn producers_consumers(cap: Option<usize>) {
    let drops = Arc::new(AtomicUsize::new(0));
    let (s, r) = make(cap);
    let start = Arc::new(Barrier::new(P + C));
    let producers: Vec<_> = (0..P)
        .map(|p| {
            let (s, start, drops) = (s.clone(), start.clone(), drops.clone());
            thread::spawn(move || {
                start.wait();
                for seq in 0..N {
                    let m = Msg {
                        producer: p,
                        seq,
                        drops: drops.clone(),
                    };
                    s.send(m).expect("receivers are alive");
                    maybe_yield();
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..C)
        .map(|_| {
            let (r, start) = (r.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                let mut got = Vec::new();
                for m in r.iter() {
                    got.push((m.producer, m.seq));
                    maybe_yield();
                }
                got
            })
        })
        .collect();
    drop(s);
    for t in producers {
        t.join().unwrap();
    }
    let got = consumers.into_iter().map(|t| t.join().unwrap()).collect();
    check(got);
    assert!(r.is_empty(), "messages left behind");
    drop(r);
    assert_eq!(drops.load(Ordering::Relaxed), P * N);
}

#[test]
fn rendezvous() {
    producers_consumers(Some(0));
}

#[test]
fn bounded_one() {
    producers_consumers(Some(1));
}

#[test]
fn bounded_small() {
    producers_consumers(Some(3));
}

#[test]
fn bounded_large() {
    producers_consumers(Some(1024));
}

#[test]
fn unbounded_list() {
    producers_consumers(None);
}

/// Producers send through `select!` to one of two channels of flavor `cap`; consumers
/// receive through `select!` from both (and a third that never fires).
fn through_select(cap: Option<usize>) {
    let drops = Arc::new(AtomicUsize::new(0));
    let (s1, r1) = make(cap);
    let (s2, r2) = make(cap);
    let (_s3, r3) = make(cap);
    let producers: Vec<_> = (0..P)
        .map(|p| {
            let (s1, s2, drops) = (s1.clone(), s2.clone(), drops.clone());
            thread::spawn(move || {
                for seq in 0..N {
                    let m = || Msg {
                        producer: p,
                        seq,
                        drops: drops.clone(),
                    };
                    select! {
                        send(s1, m()) -> res => assert!(res.is_ok()),
                        send(s2, m()) -> res => assert!(res.is_ok()),
                    }
                    maybe_yield();
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..C)
        .map(|_| {
            let (r1, r2, r3) = (r1.clone(), r2.clone(), r3.clone());
            thread::spawn(move || {
                let mut got = Vec::new();
                let (mut open1, mut open2) = (true, true);
                while open1 || open2 {
                    select! {
                        recv(if open1 { &r1 } else { &r3 }) -> m => match m {
                            Ok(m) => got.push((m.producer, m.seq)),
                            Err(_) => open1 = false,
                        },
                        recv(if open2 { &r2 } else { &r3 }) -> m => match m {
                            Ok(m) => got.push((m.producer, m.seq)),
                            Err(_) => open2 = false,
                        },
                    }
                    maybe_yield();
                }
                got
            })
        })
        .collect();
    drop((s1, s2));
    for t in producers {
        t.join().unwrap();
    }
    // Per-consumer order across two channels is not guaranteed; check exactly-once only.
    let mut all: Vec<(usize, usize)> = consumers
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    all.sort_unstable();
    assert_eq!(all.len(), P * N, "lost or duplicated messages");
    all.dedup();
    assert_eq!(all.len(), P * N, "duplicated messages");
    drop((r1, r2, r3));
    assert_eq!(drops.load(Ordering::Relaxed), P * N);
}

#[test]
fn select_rendezvous() {
    through_select(Some(0));
}

#[test]
fn select_bounded() {
    through_select(Some(2));
}

#[test]
fn select_unbounded() {
    through_select(None);
}

/// Senders and receivers with tiny timeouts: a message that times out comes back and is
/// sent again; each one still arrives exactly once.
fn with_timeouts(cap: Option<usize>) {
    let drops = Arc::new(AtomicUsize::new(0));
    let (s, r) = make(cap);
    // Under Miri time runs with the interpreter, so a few microseconds pass in a blink.
    let t = Duration::from_micros(if cfg!(miri) { 2000 } else { 20 });
    let producers: Vec<_> = (0..P)
        .map(|p| {
            let (s, drops) = (s.clone(), drops.clone());
            thread::spawn(move || {
                for seq in 0..N / 4 {
                    let mut m = Msg {
                        producer: p,
                        seq,
                        drops: drops.clone(),
                    };
                    loop {
                        match s.send_timeout(m, t) {
                            Ok(()) => break,
                            Err(SendTimeoutError::Timeout(back)) => m = back,
                            Err(SendTimeoutError::Disconnected(_)) => panic!("closed"),
                        }
                    }
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..C)
        .map(|_| {
            let r = r.clone();
            thread::spawn(move || {
                let mut got = Vec::new();
                loop {
                    match r.recv_timeout(t) {
                        Ok(m) => got.push((m.producer, m.seq)),
                        Err(RecvTimeoutError::Timeout) => maybe_yield(),
                        Err(RecvTimeoutError::Disconnected) => return got,
                    }
                }
            })
        })
        .collect();
    drop(s);
    for t in producers {
        t.join().unwrap();
    }
    let mut all: Vec<(usize, usize)> = consumers
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    all.sort_unstable();
    let expect: Vec<(usize, usize)> = (0..P)
        .flat_map(|p| (0..N / 4).map(move |i| (p, i)))
        .collect();
    assert_eq!(all, expect);
    drop(r);
    assert_eq!(drops.load(Ordering::Relaxed), P * (N / 4));
}

#[test]
fn timeouts_rendezvous() {
    with_timeouts(Some(0));
}

#[test]
fn timeouts_bounded() {
    with_timeouts(Some(1));
}

#[test]
fn timeouts_unbounded() {
    with_timeouts(None);
}

/// The channel is closed while producers and consumers are busy: every message is either
/// received or handed back to its sender, and every message is dropped exactly once.
fn close_under_load(cap: Option<usize>) {
    let drops = Arc::new(AtomicUsize::new(0));
    let (s, r) = make(cap);
    let sent = Arc::new(AtomicUsize::new(0));
    let returned = Arc::new(AtomicUsize::new(0));
    let producers: Vec<_> = (0..P)
        .map(|p| {
            let (s, drops, sent, returned) =
                (s.clone(), drops.clone(), sent.clone(), returned.clone());
            thread::spawn(move || {
                for seq in 0.. {
                    let m = Msg {
                        producer: p,
                        seq,
                        drops: drops.clone(),
                    };
                    match s.send(m) {
                        Ok(()) => {
                            sent.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            assert_eq!(e.0.producer, p);
                            returned.fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                    }
                    maybe_yield();
                }
            })
        })
        .collect();
    let received = Arc::new(AtomicUsize::new(0));
    let consumers: Vec<_> = (0..C)
        .map(|_| {
            let (r, received) = (r.clone(), received.clone());
            thread::spawn(move || {
                for _m in r.iter() {
                    received.fetch_add(1, Ordering::Relaxed);
                    maybe_yield();
                }
            })
        })
        .collect();
    while received.load(Ordering::Relaxed) < N {
        thread::yield_now();
    }
    assert!(s.close());
    for t in producers.into_iter().chain(consumers) {
        t.join().unwrap();
    }
    assert_eq!(returned.load(Ordering::Relaxed), P);
    assert_eq!(
        received.load(Ordering::Relaxed),
        sent.load(Ordering::Relaxed)
    );
    drop((s, r));
    assert_eq!(
        drops.load(Ordering::Relaxed),
        sent.load(Ordering::Relaxed) + P
    );
}

#[test]
fn close_under_load_rendezvous() {
    close_under_load(Some(0));
}

#[test]
fn close_under_load_bounded() {
    close_under_load(Some(4));
}

#[test]
fn close_under_load_unbounded() {
    close_under_load(None);
}
