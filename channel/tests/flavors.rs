//! Every operation and error path, for every flavor: rendezvous, bounded(1), bounded(4), unbounded.
//!
//! Each test is a function of the flavor; `for_each_flavor!` instantiates it four times.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use gogreen_channel::{
    Receiver, RecvError, RecvTimeoutError, SendError, SendTimeoutError, Sender, TryRecvError,
    TrySendError, bounded, unbounded,
};

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Zero,
    One,
    Four,
    Unbounded,
}

impl Kind {
    fn make<T>(self) -> (Sender<T>, Receiver<T>) {
        match self {
            Kind::Zero => bounded(0),
            Kind::One => bounded(1),
            Kind::Four => bounded(4),
            Kind::Unbounded => unbounded(),
        }
    }

    /// How many messages fit without a receiver.
    fn room(self) -> usize {
        match self {
            Kind::Zero => 0,
            Kind::One => 1,
            Kind::Four => 4,
            Kind::Unbounded => usize::MAX,
        }
    }
}

/// Messages per test: few under Miri, which interprets every step.
const MSGS: usize = if cfg!(miri) { 40 } else { 10_000 };

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Counts drops, to check that every message is dropped exactly once.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

macro_rules! for_each_flavor {
    ($($test:ident),* $(,)?) => {
        mod zero {
            $( #[test] fn $test() { super::$test(super::Kind::Zero) } )*
        }
        mod one {
            $( #[test] fn $test() { super::$test(super::Kind::One) } )*
        }
        mod four {
            $( #[test] fn $test() { super::$test(super::Kind::Four) } )*
        }
        mod unbounded {
            $( #[test] fn $test() { super::$test(super::Kind::Unbounded) } )*
        }
    };
}

for_each_flavor!(
    fifo_across_threads,
    try_send_full_and_try_recv_empty,
    send_timeout_gives_value_back,
    recv_timeout_and_deadline,
    close_then_drain_then_error,
    send_on_closed_returns_value,
    last_sender_drop_disconnects,
    last_receiver_drop_fails_sends,
    close_wakes_blocked_receivers,
    close_wakes_blocked_senders,
    len_capacity_empty_full,
    clones_share_the_channel,
    iterators,
    zero_sized_messages,
    large_messages,
    drops_exactly_once,
    last_receiver_drop_races_senders,
    discard_survives_a_panicking_drop,
    blocked_sends_drop_once_on_close,
    mpmc_counts,
);

/// Fills the channel with `n` messages (up to its room) without a receiver.
fn prefill(s: &Sender<i32>, kind: Kind, n: usize) {
    for i in 0..n.min(kind.room()) {
        s.try_send(i as i32).unwrap();
    }
}

fn fifo_across_threads(kind: Kind) {
    let (s, r) = kind.make();
    let t = thread::spawn(move || {
        for i in 0..MSGS as i32 {
            s.send(i).unwrap();
        }
    });
    for i in 0..MSGS as i32 {
        assert_eq!(r.recv(), Ok(i));
    }
    assert_eq!(r.recv(), Err(RecvError));
    t.join().unwrap();
}

fn try_send_full_and_try_recv_empty(kind: Kind) {
    let (s, r) = kind.make::<i32>();
    assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    if kind == Kind::Unbounded {
        for i in 0..1000 {
            s.try_send(i).unwrap();
        }
        assert_eq!(r.try_iter().count(), 1000);
    } else {
        prefill(&s, kind, kind.room());
        assert_eq!(s.try_send(99), Err(TrySendError::Full(99)));
        for i in 0..kind.room() {
            assert_eq!(r.try_recv(), Ok(i as i32));
        }
    }
    assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    drop(s);
    assert_eq!(r.try_recv(), Err(TryRecvError::Disconnected));
}

fn send_timeout_gives_value_back(kind: Kind) {
    let (s, r) = kind.make::<String>();
    if kind == Kind::Unbounded {
        assert_eq!(s.send_timeout("x".into(), ms(10)), Ok(()));
        assert_eq!(r.recv().unwrap(), "x");
        return;
    }
    for _ in 0..kind.room() {
        s.try_send("fill".into()).unwrap();
    }
    let start = Instant::now();
    match s.send_timeout("late".into(), ms(50)) {
        Err(SendTimeoutError::Timeout(v)) => assert_eq!(v, "late"),
        other => panic!("{other:?}"),
    }
    assert!(start.elapsed() >= ms(50));
    match s.send_deadline("past".into(), Instant::now()) {
        Err(e) => {
            assert!(e.is_timeout());
            assert_eq!(e.into_inner(), "past");
        }
        Ok(()) => panic!("sent into a full channel"),
    }
    // With a receiver arriving in time, the send goes through.
    let t = thread::spawn(move || {
        thread::sleep(ms(20));
        r.iter().take(kind.room() + 1).count()
    });
    assert_eq!(s.send_timeout("ok".into(), Duration::from_secs(10)), Ok(()));
    assert_eq!(t.join().unwrap(), kind.room() + 1);
}

fn recv_timeout_and_deadline(kind: Kind) {
    let (s, r) = kind.make::<i32>();
    let start = Instant::now();
    assert_eq!(r.recv_timeout(ms(50)), Err(RecvTimeoutError::Timeout));
    assert!(start.elapsed() >= ms(50));
    assert_eq!(
        r.recv_deadline(Instant::now() - ms(1)),
        Err(RecvTimeoutError::Timeout)
    );
    let t = thread::spawn(move || {
        thread::sleep(ms(20));
        s.send(7).unwrap();
    });
    assert_eq!(r.recv_timeout(Duration::from_secs(10)), Ok(7));
    t.join().unwrap();
    assert_eq!(
        r.recv_timeout(Duration::from_secs(10)),
        Err(RecvTimeoutError::Disconnected)
    );
}

fn close_then_drain_then_error(kind: Kind) {
    let (s, r) = kind.make::<i32>();
    let n = kind.room().min(3);
    prefill(&s, kind, n);
    assert!(!s.is_closed() && !r.is_closed());
    assert!(s.close());
    assert!(!s.close(), "closing twice is not an error, and reports it");
    assert!(s.is_closed() && r.is_closed());
    for i in 0..n {
        assert_eq!(r.recv(), Ok(i as i32));
    }
    assert_eq!(r.recv(), Err(RecvError));
    assert_eq!(r.try_recv(), Err(TryRecvError::Disconnected));
    assert_eq!(r.recv_timeout(ms(10)), Err(RecvTimeoutError::Disconnected));
    assert_eq!(r.iter().count(), 0);
}

fn send_on_closed_returns_value(kind: Kind) {
    let (s, _r) = kind.make::<Vec<u8>>();
    s.close();
    assert_eq!(s.send(vec![1]), Err(SendError(vec![1])));
    assert_eq!(
        s.try_send(vec![2]),
        Err(TrySendError::Disconnected(vec![2]))
    );
    assert_eq!(
        s.send_timeout(vec![3], ms(10)),
        Err(SendTimeoutError::Disconnected(vec![3]))
    );
    assert_eq!(s.send(vec![4]).unwrap_err().into_inner(), vec![4]);
    // Another sender of the same channel sees it closed too.
    let s2 = s.clone();
    assert_eq!(s2.send(vec![5]), Err(SendError(vec![5])));
}

fn last_sender_drop_disconnects(kind: Kind) {
    let (s, r) = kind.make::<i32>();
    let s2 = s.clone();
    prefill(&s, kind, 1);
    drop(s);
    assert!(!r.is_closed(), "one sender is left");
    drop(s2);
    assert!(r.is_closed());
    if kind.room() > 0 {
        assert_eq!(r.recv(), Ok(0));
    }
    assert_eq!(r.recv(), Err(RecvError));
}

fn last_receiver_drop_fails_sends(kind: Kind) {
    let (s, r) = kind.make::<i32>();
    let r2 = r.clone();
    drop(r);
    prefill(&s, kind, 1);
    drop(r2);
    assert!(s.is_closed());
    assert_eq!(s.send(1), Err(SendError(1)));
    assert_eq!(s.try_send(2), Err(TrySendError::Disconnected(2)));
}

fn close_wakes_blocked_receivers(kind: Kind) {
    let (s, r) = kind.make::<i32>();
    let ts: Vec<_> = (0..3)
        .map(|_| {
            let r = r.clone();
            thread::spawn(move || r.recv())
        })
        .collect();
    thread::sleep(ms(30));
    s.close();
    for t in ts {
        assert_eq!(t.join().unwrap(), Err(RecvError));
    }
}

fn close_wakes_blocked_senders(kind: Kind) {
    if kind == Kind::Unbounded {
        return; // senders never block
    }
    let (s, r) = kind.make::<i32>();
    prefill(&s, kind, kind.room());
    let ts: Vec<_> = (0..3)
        .map(|i| {
            let s = s.clone();
            thread::spawn(move || s.send(100 + i))
        })
        .collect();
    thread::sleep(ms(30));
    s.close();
    let mut back: Vec<i32> = ts
        .into_iter()
        .map(|t| t.join().unwrap().unwrap_err().into_inner())
        .collect();
    back.sort();
    assert_eq!(back, vec![100, 101, 102]);
    assert_eq!(r.iter().count(), kind.room());
}

fn len_capacity_empty_full(kind: Kind) {
    let (s, r) = kind.make::<i32>();
    let cap = match kind {
        Kind::Unbounded => None,
        k => Some(k.room()),
    };
    assert_eq!(s.capacity(), cap);
    assert_eq!(r.capacity(), cap);
    assert_eq!(s.len(), 0);
    assert!(s.is_empty() && r.is_empty());
    assert_eq!(s.is_full(), kind == Kind::Zero);
    if kind == Kind::Zero {
        assert!(r.is_full());
        return;
    }
    let n = kind.room().min(100);
    for i in 0..n {
        s.send(i as i32).unwrap();
        assert_eq!(r.len(), i + 1);
    }
    assert!(!r.is_empty());
    assert_eq!(s.is_full(), kind != Kind::Unbounded);
    r.recv().unwrap();
    assert_eq!(s.len(), n - 1);
    assert!(!r.is_full());
}

fn clones_share_the_channel(kind: Kind) {
    let (s, r) = kind.make::<i32>();
    let (s2, r2) = (s.clone(), r.clone());
    assert!(s.same_channel(&s2) && r.same_channel(&r2));
    let (other, _) = kind.make::<i32>();
    assert!(!s.same_channel(&other));
    let t = thread::spawn(move || s2.send(5).unwrap());
    assert_eq!(r2.recv(), Ok(5));
    t.join().unwrap();
    drop((s, r2));
    assert_eq!(r.recv(), Err(RecvError));
}

fn iterators(kind: Kind) {
    let (s, r) = kind.make::<i32>();
    let t = thread::spawn(move || {
        for i in 0..100 {
            s.send(i).unwrap();
        }
    });
    assert_eq!(
        r.iter().take(10).collect::<Vec<_>>(),
        (0..10).collect::<Vec<_>>()
    );
    let mut rest = Vec::new();
    for v in &r {
        rest.push(v);
    }
    assert_eq!(rest, (10..100).collect::<Vec<_>>());
    t.join().unwrap();

    let (s, r) = kind.make::<i32>();
    prefill(&s, kind, 3);
    assert_eq!(r.try_iter().count(), kind.room().min(3));
    assert_eq!(r.try_iter().next(), None);
    let t = thread::spawn(move || {
        for i in 0..5 {
            s.send(i).unwrap();
        }
    });
    assert_eq!(r.into_iter().sum::<i32>(), 10);
    t.join().unwrap();
}

fn zero_sized_messages(kind: Kind) {
    let (s, r) = kind.make::<()>();
    let t = thread::spawn(move || {
        for _ in 0..MSGS {
            s.send(()).unwrap();
        }
    });
    assert_eq!(r.iter().count(), MSGS);
    t.join().unwrap();

    // Go's [0]byte.
    let (s, r) = kind.make::<[u8; 0]>();
    let t = thread::spawn(move || s.send([]).unwrap());
    assert_eq!(r.recv(), Ok([]));
    t.join().unwrap();
}

fn large_messages(kind: Kind) {
    #[derive(Clone, PartialEq, Debug)]
    struct Big([u64; 1024]);
    let (s, r) = kind.make::<Box<Big>>();
    let t = thread::spawn(move || {
        for i in 0..MSGS.min(50) as u64 {
            s.send(Box::new(Big([i; 1024]))).unwrap();
        }
    });
    for i in 0..MSGS.min(50) as u64 {
        let b = r.recv().unwrap();
        assert!(b.0.iter().all(|&x| x == i));
    }
    t.join().unwrap();

    // A large message by value (8 KiB), on a thread with room for it.
    let (s, r) = kind.make::<Big>();
    let t = thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            for i in 0..MSGS.min(20) as u64 {
                s.send(Big([i; 1024])).unwrap();
            }
        })
        .unwrap();
    for i in 0..MSGS.min(20) as u64 {
        assert_eq!(r.recv().unwrap().0[1023], i);
    }
    t.join().unwrap();
}

fn drops_exactly_once(kind: Kind) {
    let drops = Arc::new(AtomicUsize::new(0));
    let (s, r) = kind.make::<Counted>();
    let n = if kind == Kind::Unbounded {
        100
    } else {
        kind.room()
    };
    for _ in 0..n {
        s.try_send(Counted(drops.clone())).ok().unwrap();
    }
    // A failed send hands the value back; dropping the error drops it.
    if kind != Kind::Unbounded {
        let err = s.try_send(Counted(drops.clone())).unwrap_err();
        assert!(err.is_full());
        drop(err);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        drops.store(0, Ordering::SeqCst);
    }
    if n > 0 {
        drop(r.recv().unwrap());
    }
    assert_eq!(drops.load(Ordering::SeqCst), n.min(1));
    drop(r);
    // Nobody can receive what is still buffered: the last receiver's drop drops it,
    // although a sender keeps the channel alive.
    assert_eq!(drops.load(Ordering::SeqCst), n);
    assert!(s.is_empty());
    assert_eq!(s.len(), 0);
    drop(s);
    assert_eq!(drops.load(Ordering::SeqCst), n);
}

/// The last receiver goes while senders keep sending: every message a send accepted is
/// dropped by the time the senders are done, before the channel itself goes.
fn last_receiver_drop_races_senders(kind: Kind) {
    if kind == Kind::Zero {
        return; // nothing is ever buffered
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let (s, r) = kind.make::<Counted>();
    let senders: Vec<_> = (0..2)
        .map(|_| {
            let (s, drops) = (s.clone(), drops.clone());
            thread::spawn(move || {
                let mut sent = 0;
                while s.try_send(Counted(drops.clone())).is_ok() || !s.is_closed() {
                    sent += 1;
                }
                sent
            })
        })
        .collect();
    drop(r.recv().unwrap());
    for _ in 0..100 {
        let _ = r.try_recv();
    }
    drop(r);
    let tries: usize = senders.into_iter().map(|t| t.join().unwrap()).sum();
    // Every try made a message; each one was received, refused or discarded, and dropped.
    assert!(s.is_closed() && s.is_empty());
    assert_eq!(drops.load(Ordering::SeqCst), tries + 2);
    drop(s);
}

/// A message whose drop panics while the last receiver discards the buffer: the panic
/// reaches the dropper, the messages after it leak, and none is dropped twice. (The
/// messages own nothing, so that the leak is not one for Miri; the count is the dropping
/// thread's, this one's.)
fn discard_survives_a_panicking_drop(kind: Kind) {
    if kind == Kind::Zero {
        return;
    }
    thread_local! {
        static DROPS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            let n = DROPS.get();
            DROPS.set(n + 1);
            if n == 0 {
                panic!("first drop");
            }
        }
    }
    let (s, r) = kind.make::<Bomb>();
    let n = kind.room().min(3);
    for _ in 0..n {
        s.try_send(Bomb).ok().unwrap();
    }
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(r)));
    assert!(res.is_err());
    drop(s);
    assert_eq!(DROPS.get(), 1, "the rest leaked, none twice");
}

fn blocked_sends_drop_once_on_close(kind: Kind) {
    if kind == Kind::Unbounded {
        return;
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let (s, r) = kind.make::<Counted>();
    for _ in 0..kind.room() {
        s.send(Counted(drops.clone())).ok().unwrap();
    }
    let senders: Vec<_> = (0..4)
        .map(|_| {
            let (s, d) = (s.clone(), drops.clone());
            thread::spawn(move || {
                let err = s.send(Counted(d)).unwrap_err();
                drop(err);
            })
        })
        .collect();
    thread::sleep(ms(30));
    drop(r);
    for t in senders {
        t.join().unwrap();
    }
    // The buffered ones went with the last receiver, the refused ones with their errors.
    assert_eq!(drops.load(Ordering::SeqCst), 4 + kind.room());
    drop(s);
    assert_eq!(drops.load(Ordering::SeqCst), 4 + kind.room());
}

fn mpmc_counts(kind: Kind) {
    const P: usize = 4;
    const C: usize = 4;
    const N: usize = if cfg!(miri) { 10 } else { 5_000 };
    let (s, r) = kind.make::<usize>();
    let seen: Arc<Vec<AtomicUsize>> = Arc::new((0..P * N).map(|_| AtomicUsize::new(0)).collect());
    let start = Arc::new(Barrier::new(P + C));
    let mut ts = Vec::new();
    for p in 0..P {
        let (s, start) = (s.clone(), start.clone());
        ts.push(thread::spawn(move || {
            start.wait();
            for i in 0..N {
                s.send(p * N + i).unwrap();
            }
        }));
    }
    for _ in 0..C {
        let (r, seen, start) = (r.clone(), seen.clone(), start.clone());
        ts.push(thread::spawn(move || {
            start.wait();
            for v in r.iter() {
                seen[v].fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    drop((s, r));
    for t in ts {
        t.join().unwrap();
    }
    assert!(seen.iter().all(|c| c.load(Ordering::Relaxed) == 1));
}

#[test]
fn rendezvous_send_waits_for_the_receiver() {
    let (s, r) = bounded::<i32>(0);
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let t = thread::spawn(move || {
        s.send(1).unwrap();
        d.store(true, Ordering::SeqCst);
    });
    thread::sleep(ms(50));
    assert!(
        !done.load(Ordering::SeqCst),
        "send completed without a receiver"
    );
    assert_eq!(r.recv(), Ok(1));
    t.join().unwrap();
    assert!(done.load(Ordering::SeqCst));
}

#[test]
fn bounded_capacity_is_respected_across_wraparound() {
    let (s, r) = bounded::<usize>(3);
    for round in 0..100 {
        for i in 0..3 {
            s.try_send(round * 3 + i).unwrap();
        }
        assert!(s.try_send(0).unwrap_err().is_full());
        assert_eq!(r.len(), 3);
        for i in 0..3 {
            assert_eq!(r.try_recv(), Ok(round * 3 + i));
        }
    }
}

#[test]
fn unbounded_spans_many_blocks() {
    let (s, r) = unbounded::<usize>();
    let n = if cfg!(miri) { 70 } else { 100_000 };
    for i in 0..n {
        s.send(i).unwrap();
    }
    assert_eq!(r.len(), n);
    for i in 0..n {
        assert_eq!(r.try_recv(), Ok(i));
        assert_eq!(r.len(), n - i - 1);
    }
}

#[test]
fn error_types_display_and_debug() {
    use std::error::Error;
    struct NotDebug;
    let e: Box<dyn Error> = Box::new(SendError(NotDebug));
    assert_eq!(e.to_string(), "send on closed channel");
    assert_eq!(format!("{:?}", SendError(NotDebug)), "SendError { .. }");
    assert_eq!(format!("{:?}", TrySendError::Full(NotDebug)), "Full(..)");
    assert_eq!(TrySendError::Full(1).to_string(), "send on full channel");
    assert_eq!(
        SendTimeoutError::Timeout(1).to_string(),
        "timed out waiting on send"
    );
    assert_eq!(RecvError.to_string(), "receive on closed and empty channel");
    assert_eq!(TryRecvError::Empty.to_string(), "receive on empty channel");
    assert!(TryRecvError::Disconnected.is_disconnected());
    assert!(RecvTimeoutError::Timeout.is_timeout());
    assert_eq!(
        TrySendError::from(SendError(3)),
        TrySendError::Disconnected(3)
    );
    assert_eq!(
        SendTimeoutError::from(SendError(3)),
        SendTimeoutError::Disconnected(3)
    );
    assert_eq!(TryRecvError::from(RecvError), TryRecvError::Disconnected);
    assert_eq!(
        RecvTimeoutError::from(RecvError),
        RecvTimeoutError::Disconnected
    );
    let _: Box<dyn Error + Send + Sync> = Box::new(TrySendError::Full(0u8));
    let _: Box<dyn Error + Send + Sync> = Box::new(SendTimeoutError::Timeout(0u8));
    let _: Box<dyn Error + Send + Sync> = Box::new(RecvTimeoutError::Timeout);
}

#[test]
fn handles_are_send_sync_and_debug() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Sender<String>>();
    assert_send_sync::<Receiver<String>>();
    let (s, r) = bounded::<i32>(1);
    assert_eq!(format!("{s:?} {r:?}"), "Sender { .. } Receiver { .. }");
}

/// A capacity whose buffer cannot be allocated panics with the reason at `bounded`,
/// where it used to abort the process ("memory allocation of N bytes failed", or a bare
/// "capacity overflow"). 2^44 slots of 16 bytes are 256 TiB, more than a 47-bit user
/// address space, so the allocation fails whatever the overcommit policy.
#[test]
fn bounded_capacity_beyond_memory_panics_with_the_reason() {
    for cap in [1usize << 44, usize::MAX / 2, usize::MAX] {
        let payload = std::panic::catch_unwind(|| bounded::<u64>(cap)).unwrap_err();
        let msg = payload
            .downcast_ref::<String>()
            .expect("a formatted message");
        assert!(
            msg.contains(&format!("bounded({cap}): cannot allocate the buffer"))
                && msg.contains("use a smaller capacity"),
            "{msg}"
        );
    }
    // Zero-sized messages still need a stamp per slot.
    assert!(std::panic::catch_unwind(|| bounded::<()>(usize::MAX / 4)).is_err());
}
