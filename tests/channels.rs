//! Channels between green threads, and between green threads and OS threads, on every
//! flavor and through `select!`: every message arrives exactly once, nothing is left
//! behind, and blocking parks only the green thread.

mod common;

use gogreen::chan::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const PRODUCERS: usize = 4;
const CONSUMERS: usize = 4;
const PER_PRODUCER: usize = 5_000;

/// Who runs a task.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Green,
    Os,
}

/// Starts `f` as a green thread or an OS thread; the result joins it.
fn start<T: Send + 'static>(
    kind: Kind,
    f: impl FnOnce() -> T + Send + 'static,
) -> Box<dyn FnOnce() -> T> {
    match kind {
        Kind::Green => {
            let h = gogreen::spawn(f);
            Box::new(move || h.join().unwrap())
        }
        Kind::Os => {
            let h = std::thread::spawn(f);
            Box::new(move || h.join().unwrap())
        }
    }
}

/// Makes a channel of one flavor.
type Make = fn() -> (Sender<Msg>, Receiver<Msg>);

fn flavors() -> Vec<(&'static str, Make)> {
    vec![
        ("bounded(0)", || chan::bounded(0)),
        ("bounded(1)", || chan::bounded(1)),
        ("bounded(16)", || chan::bounded(16)),
        ("unbounded", chan::unbounded),
    ]
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

/// Every (producer, seq) seen exactly once, in order per producer and consumer.
fn check_exactly_once(got: Vec<Vec<(usize, usize)>>) {
    let mut seen = vec![vec![false; PER_PRODUCER]; PRODUCERS];
    for list in got {
        let mut last = [None::<usize>; PRODUCERS];
        for (p, s) in list {
            assert!(!seen[p][s], "message {p}/{s} received twice");
            seen[p][s] = true;
            assert!(last[p].is_none_or(|l| l < s), "producer {p} out of order");
            last[p] = Some(s);
        }
    }
    for (p, row) in seen.iter().enumerate() {
        assert!(row.iter().all(|&x| x), "a message of producer {p} was lost");
    }
}

fn traffic(producers: Kind, consumers: Kind) {
    for (name, make) in flavors() {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = make();
        let ps: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let (tx, drops) = (tx.clone(), drops.clone());
                start(producers, move || {
                    for seq in 0..PER_PRODUCER {
                        tx.send(Msg {
                            producer: p,
                            seq,
                            drops: drops.clone(),
                        })
                        .unwrap();
                        if seq % 7 == 0 {
                            gogreen::yield_now();
                        }
                    }
                })
            })
            .collect();
        let cs: Vec<_> = (0..CONSUMERS)
            .map(|_| {
                let rx = rx.clone();
                start(consumers, move || {
                    let mut got = Vec::new();
                    for m in rx.iter() {
                        got.push((m.producer, m.seq));
                        if got.len() % 5 == 0 {
                            gogreen::yield_now();
                        }
                    }
                    got
                })
            })
            .collect();
        drop(tx);
        for p in ps {
            p();
        }
        let got = cs.into_iter().map(|c| c()).collect();
        check_exactly_once(got);
        assert_eq!(
            rx.try_recv().err(),
            Some(TryRecvError::Disconnected),
            "{name}: left behind"
        );
        drop(rx);
        assert_eq!(
            drops.load(Ordering::Relaxed),
            PRODUCERS * PER_PRODUCER,
            "{name}: drops"
        );
    }
}

#[test]
fn green_to_green() {
    traffic(Kind::Green, Kind::Green);
}

#[test]
fn os_threads_to_green_threads() {
    traffic(Kind::Os, Kind::Green);
}

#[test]
fn green_threads_to_os_threads() {
    traffic(Kind::Green, Kind::Os);
}

#[test]
fn select_across_kinds() {
    // Two channels of each flavor, fed by one green and one OS producer; green and OS
    // consumers take from both through `select!` with a timeout arm.
    for (name, make) in flavors() {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx_a, rx_a) = make();
        let (tx_b, rx_b) = make();
        let ps = [(Kind::Green, tx_a, 0usize), (Kind::Os, tx_b, 1usize)].map(|(kind, tx, p)| {
            let drops = drops.clone();
            start(kind, move || {
                for seq in 0..PER_PRODUCER {
                    tx.send(Msg {
                        producer: p,
                        seq,
                        drops: drops.clone(),
                    })
                    .unwrap();
                }
            })
        });
        let cs: Vec<_> = [Kind::Green, Kind::Os, Kind::Green]
            .into_iter()
            .map(|kind| {
                let (rx_a, rx_b) = (rx_a.clone(), rx_b.clone());
                start(kind, move || {
                    let mut got = Vec::new();
                    let (mut a_open, mut b_open) = (true, true);
                    while a_open || b_open {
                        gogreen::select! {
                            recv(if a_open { &rx_a } else { &NEVER_MSG }) -> m => match m {
                                Ok(m) => got.push((m.producer, m.seq)),
                                Err(_) => a_open = false,
                            },
                            recv(if b_open { &rx_b } else { &NEVER_MSG }) -> m => match m {
                                Ok(m) => got.push((m.producer, m.seq)),
                                Err(_) => b_open = false,
                            },
                            default(Duration::from_millis(1)) => {},
                        }
                    }
                    got
                })
            })
            .collect();
        for p in ps {
            p();
        }
        let mut seen = [vec![false; PER_PRODUCER], vec![false; PER_PRODUCER]];
        for list in cs.into_iter().map(|c| c()) {
            for (p, s) in list {
                assert!(!seen[p][s], "{name}: message {p}/{s} twice");
                seen[p][s] = true;
            }
        }
        assert!(
            seen.iter().all(|row| row.iter().all(|&x| x)),
            "{name}: a message was lost"
        );
        assert_eq!(
            drops.load(Ordering::Relaxed),
            2 * PER_PRODUCER,
            "{name}: drops"
        );
    }
}

/// A receiver on which nothing ever arrives, for disabled `select!` arms.
static NEVER_MSG: std::sync::LazyLock<Receiver<Msg>> = std::sync::LazyLock::new(chan::never);

#[test]
fn a_blocked_green_thread_does_not_block_its_os_thread() {
    // One processor's worth of green threads, most of them blocked in channel waits:
    // the rest still run.
    let (tx, rx) = chan::bounded::<u32>(0);
    let blocked: Vec<_> = (0..1000)
        .map(|_| {
            let rx = rx.clone();
            gogreen::spawn(move || rx.recv().unwrap())
        })
        .collect();
    assert_eq!(gogreen::run(|| (1..=100u32).sum::<u32>()), 5050);
    for i in 0..1000 {
        tx.send(i).unwrap();
    }
    let mut got: Vec<u32> = blocked.into_iter().map(|h| h.join().unwrap()).collect();
    got.sort_unstable();
    assert_eq!(got, (0..1000).collect::<Vec<_>>());
}

#[test]
fn timeouts_in_green_threads() {
    gogreen::run(|| {
        let (_tx, rx) = chan::bounded::<u8>(1);
        let start = Instant::now();
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(20)),
            Err(RecvTimeoutError::Timeout)
        );
        assert!(start.elapsed() >= Duration::from_millis(20));

        let (tx, _rx) = chan::bounded::<u8>(0);
        let start = Instant::now();
        assert!(tx.send_timeout(1, Duration::from_millis(20)).is_err());
        assert!(start.elapsed() >= Duration::from_millis(20));

        let timer = chan::after(Duration::from_millis(15));
        let start = Instant::now();
        gogreen::select! {
            recv(timer) -> at => assert!(at.unwrap() >= start),
            recv(chan::never::<u8>()) -> _ => unreachable!(),
        }
        assert!(start.elapsed() >= Duration::from_millis(15));
    });
}

#[test]
fn many_green_threads_time_out_while_others_work() {
    let timeouts: Vec<_> = (0..200)
        .map(|i| {
            gogreen::spawn(move || {
                let (_tx, rx) = chan::bounded::<u8>(0);
                let d = Duration::from_millis(5 + i % 20);
                let start = Instant::now();
                assert_eq!(rx.recv_timeout(d), Err(RecvTimeoutError::Timeout));
                start.elapsed() >= d
            })
        })
        .collect();
    let (tx, rx) = chan::bounded::<u64>(0);
    let worker = gogreen::spawn(move || rx.iter().sum::<u64>());
    gogreen::run(move || {
        for i in 0..10_000 {
            tx.send(i).unwrap();
        }
    });
    assert_eq!(worker.join().unwrap(), (0..10_000).sum());
    assert!(timeouts.into_iter().all(|h| h.join().unwrap()));
}

#[test]
fn close_wakes_blocked_green_senders_and_receivers() {
    let (tx, rx) = chan::bounded::<u32>(0);
    let receivers: Vec<_> = (0..50)
        .map(|_| {
            let rx = rx.clone();
            gogreen::spawn(move || rx.recv().is_err())
        })
        .collect();
    let (tx2, rx2) = chan::bounded::<u32>(0);
    let senders: Vec<_> = (0..50)
        .map(|i| {
            let tx2 = tx2.clone();
            gogreen::spawn(move || tx2.send(i).map_err(|e| e.0))
        })
        .collect();
    // Let them block (if they are not blocked yet, close fails them all the same), then
    // close both channels.
    std::thread::sleep(Duration::from_millis(20));
    tx.close();
    tx2.close();
    drop(rx2);
    assert!(receivers.into_iter().all(|h| h.join().unwrap()));
    let mut returned: Vec<u32> = senders
        .into_iter()
        .map(|h| h.join().unwrap().unwrap_err())
        .collect();
    returned.sort_unstable();
    assert_eq!(
        returned,
        (0..50).collect::<Vec<_>>(),
        "a failed send hands its value back"
    );
}

/// A message of `N` bytes, 4 KiB-aligned: alignment makes every frame that holds a copy
/// larger still.
#[derive(Clone, Copy)]
#[repr(C, align(4096))]
struct Page<const N: usize>([u8; N]);

// One operation per function, each holding the caller's one copy of the message, as a
// program that sends large messages would be written (a frame that inlines them all would
// hold a copy per call site).

#[inline(never)]
fn send_page<const N: usize>(s: &Sender<Page<N>>, fill: u8) -> bool {
    s.send(Page([fill; N])).is_ok()
}

#[inline(never)]
fn send_page_timeout<const N: usize>(s: &Sender<Page<N>>, fill: u8) -> bool {
    s.send_timeout(Page([fill; N]), Duration::from_secs(10))
        .is_ok()
}

#[inline(never)]
fn select_send_page<const N: usize>(s: &Sender<Page<N>>, fill: u8) -> bool {
    gogreen::select! {
        send(s, Page([fill; N])) -> res => res.is_ok(),
    }
}

#[inline(never)]
fn dyn_select_send_page<const N: usize>(s: &Sender<Page<N>>, fill: u8) -> bool {
    let mut sel = chan::Select::new();
    sel.send(s);
    let oper = sel.select();
    oper.send(s, Page([fill; N])).is_ok()
}

#[inline(never)]
fn recv_page<const N: usize>(r: &Receiver<Page<N>>) -> u8 {
    r.recv().as_ref().map_or(0, |m| m.0[N - 1])
}

#[inline(never)]
fn recv_page_timeout<const N: usize>(r: &Receiver<Page<N>>) -> u8 {
    r.recv_timeout(Duration::from_secs(10))
        .as_ref()
        .map_or(0, |m| m.0[N - 1])
}

#[inline(never)]
fn select_recv_page<const N: usize>(r: &Receiver<Page<N>>) -> u8 {
    gogreen::select! {
        recv(r) -> m => m.as_ref().map_or(0, |m| m.0[N - 1]),
    }
}

#[inline(never)]
fn dyn_select_recv_page<const N: usize>(r: &Receiver<Page<N>>) -> u8 {
    let mut sel = chan::Select::new();
    sel.recv(r);
    let oper = sel.select();
    oper.recv(r).as_ref().map_or(0, |m| m.0[N - 1])
}

/// Sends and receives messages of `N` bytes between two green threads whose stacks are
/// `stack` bytes, through every flavor, plain, with a timeout, in `select!` and in
/// `Select`. Before messages travelled by pointer (docs/channels.md, "Stack"), a message
/// was copied into each generic frame on its way, and these stacks overflowed (the
/// runtime aborts the process).
fn large_messages_fit<const N: usize>(stack: usize) {
    for (name, cap) in [
        ("rendezvous", Some(0)),
        ("bounded(1)", Some(1)),
        ("unbounded", None),
    ] {
        let (s, r) = cap.map_or_else(chan::unbounded::<Page<N>>, chan::bounded::<Page<N>>);
        let sender = gogreen::Builder::new()
            .stack_size(stack)
            .spawn(move || {
                assert!(send_page(&s, 1));
                assert!(send_page_timeout(&s, 2));
                assert!(select_send_page(&s, 3));
                assert!(dyn_select_send_page(&s, 4));
            })
            .unwrap();
        let receiver = gogreen::Builder::new()
            .stack_size(stack)
            .spawn(move || {
                [
                    recv_page(&r),
                    recv_page_timeout(&r),
                    select_recv_page(&r),
                    dyn_select_recv_page(&r),
                ]
            })
            .unwrap();
        sender.join().unwrap();
        assert_eq!(receiver.join().unwrap(), [1, 2, 3, 4], "{name}");
    }
}

/// The cases: a 16 KiB message on a default 64 KiB stack (a rendezvous receive
/// needed more than 60 KiB), and a 32 KiB message through 128 KiB stacks. Optimized
/// builds only: without optimization every generic frame keeps its own copy of the
/// message, and the stack overflows (the runtime reports it and aborts, taking every
/// test of this file with it) — as it would in any debug build that sends pages.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "unoptimized frames copy the message; the bound holds for --release builds"
)]
fn large_messages_on_small_green_stacks() {
    gogreen::run(|| {
        large_messages_fit::<{ 16 * 1024 }>(64 * 1024);
        large_messages_fit::<{ 32 * 1024 }>(128 * 1024);
    });
}
