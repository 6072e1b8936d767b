//! The dynamic `Select`: selecting, readiness, timeouts, removal, and a thousand channels.

use std::thread;
use std::time::{Duration, Instant};

use gogreen_channel::{
    Receiver, RecvError, Select, SendError, Sender, after, bounded, never, unbounded,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn select_returns_the_index_of_the_ready_operation() {
    let (s1, r1) = unbounded::<i32>();
    let (s2, r2) = unbounded::<i32>();
    s2.send(2).unwrap();
    let mut sel = Select::new();
    let i1 = sel.recv(&r1);
    let i2 = sel.recv(&r2);
    assert_eq!((i1, i2), (0, 1));
    let op = sel.select();
    assert_eq!(op.index(), i2);
    assert_eq!(op.recv(&r2), Ok(2));
    drop(s1);
    let op = sel.select();
    assert_eq!(op.index(), i1);
    assert_eq!(op.recv(&r1), Err(RecvError));
}

#[test]
fn try_select_and_timeouts() {
    let (s, r) = bounded::<i32>(0);
    let mut sel = Select::new();
    sel.recv(&r);
    assert!(sel.try_select().is_err());
    let start = Instant::now();
    assert!(sel.select_timeout(ms(30)).is_err());
    assert!(start.elapsed() >= ms(30));
    assert!(sel.select_deadline(Instant::now() + ms(10)).is_err());
    let t = thread::spawn(move || s.send(4).unwrap());
    let op = sel.select_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(op.recv(&r), Ok(4));
    t.join().unwrap();
}

#[test]
fn send_operations_and_value_return() {
    let (s, r) = bounded::<String>(1);
    let mut sel = Select::new();
    let i = sel.send(&s);
    let op = sel.select();
    assert_eq!(op.index(), i);
    op.send(&s, "a".into()).unwrap();
    // Full now: not ready, and the value stays with the caller.
    assert!(sel.try_select().is_err());
    assert_eq!(r.recv().unwrap(), "a");
    drop(r);
    let op = sel.select();
    assert_eq!(op.send(&s, "b".into()), Err(SendError("b".to_string())));
}

#[test]
fn remove_keeps_other_indices() {
    let (s1, r1) = unbounded::<i32>();
    let (s2, r2) = unbounded::<i32>();
    let (s3, r3) = unbounded::<i32>();
    let mut sel = Select::new();
    let i1 = sel.recv(&r1);
    let i2 = sel.recv(&r2);
    let i3 = sel.recv(&r3);
    sel.remove(i2);
    s2.send(2).unwrap();
    assert!(sel.try_select().is_err(), "removed operation was selected");
    s3.send(3).unwrap();
    let op = sel.select();
    assert_eq!(op.index(), i3);
    assert_eq!(op.recv(&r3), Ok(3));
    s1.send(1).unwrap();
    let op = sel.select();
    assert_eq!(op.index(), i1);
    op.recv(&r1).unwrap();
}

#[test]
fn ready_reports_without_performing() {
    let (s, r) = unbounded::<i32>();
    let mut sel = Select::new();
    sel.recv(&r);
    assert!(sel.try_ready().is_err());
    assert!(sel.ready_timeout(ms(20)).is_err());
    s.send(1).unwrap();
    assert_eq!(sel.ready(), 0);
    assert_eq!(sel.ready(), 0, "ready does not consume");
    assert_eq!(r.try_recv(), Ok(1));
    let t = thread::spawn(move || {
        thread::sleep(ms(20));
        s.send(2).unwrap();
    });
    assert_eq!(
        sel.ready_deadline(Instant::now() + Duration::from_secs(10)),
        Ok(0)
    );
    assert_eq!(r.recv(), Ok(2));
    t.join().unwrap();
}

#[test]
fn ready_on_rendezvous_channels() {
    let (s, r) = bounded::<i32>(0);
    let mut sel = Select::new();
    sel.send(&s);
    assert!(sel.try_ready().is_err());
    let t = thread::spawn(move || r.recv());
    // Readiness of a send needs a waiting receiver.
    assert_eq!(sel.ready_timeout(Duration::from_secs(10)), Ok(0));
    loop {
        match s.try_send(5) {
            Ok(()) => break,
            Err(e) if e.is_full() => thread::yield_now(),
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(t.join().unwrap(), Ok(5));
}

#[test]
#[should_panic(expected = "without completing")]
fn dropping_a_selected_operation_panics() {
    let (s, r) = unbounded::<i32>();
    s.send(1).unwrap();
    let mut sel = Select::new();
    sel.recv(&r);
    let op = sel.select();
    drop(op);
}

#[test]
#[should_panic(expected = "another channel than the one selected")]
fn completing_with_another_receiver_panics() {
    let (s, r) = unbounded::<i32>();
    let (_s2, r2) = unbounded::<i32>();
    s.send(1).unwrap();
    let mut sel = Select::new();
    sel.recv(&r);
    let op = sel.select();
    let _ = op.recv(&r2);
}

#[test]
fn empty_select_times_out() {
    let mut sel = Select::new();
    assert!(sel.try_select().is_err());
    assert!(sel.select_timeout(ms(10)).is_err());
    assert!(sel.try_ready().is_err());
}

#[test]
fn timers_in_a_dynamic_select() {
    let t = after(ms(20));
    let n = never::<Instant>();
    let mut sel = Select::new();
    sel.recv(&n);
    let i = sel.recv(&t);
    let op = sel.select_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(op.index(), i);
    assert!(op.recv(&t).is_ok());
}

#[test]
fn biased_select_prefers_the_first() {
    let (s1, r1) = unbounded::<()>();
    let (s2, r2) = unbounded::<()>();
    s1.send(()).unwrap();
    s2.send(()).unwrap();
    let mut sel = Select::new_biased();
    sel.recv(&r1);
    sel.recv(&r2);
    for _ in 0..10 {
        let op = sel.select();
        assert_eq!(op.index(), 0);
        op.recv(&r1).unwrap();
        s1.send(()).unwrap();
    }
}

/// Builds a select over `rs`, waits for one message, and returns (index, value).
fn select_one(rs: &[Receiver<usize>]) -> (usize, usize) {
    let mut sel = Select::new();
    for r in rs {
        sel.recv(r);
    }
    let op = sel.select();
    let i = op.index();
    (i, op.recv(&rs[i]).unwrap())
}

fn thousand_channels(cap: usize) {
    const N: usize = if cfg!(miri) { 8 } else { 1000 };
    let (senders, receivers): (Vec<Sender<usize>>, Vec<Receiver<usize>>) =
        (0..N).map(|_| bounded(cap)).unzip();
    // A producer that feeds the channels in a scrambled order.
    let producer = thread::spawn(move || {
        for k in 0..N {
            let i = (k * 7919) % N;
            senders[i].send(i).unwrap();
        }
        senders
    });
    let mut seen = vec![false; N];
    for _ in 0..N {
        let (i, v) = select_one(&receivers);
        assert_eq!(i, v);
        assert!(!seen[i]);
        seen[i] = true;
    }
    assert!(seen.iter().all(|&s| s));
    producer.join().unwrap();
}

#[test]
fn thousand_rendezvous_channels() {
    thousand_channels(0);
}

#[test]
fn thousand_buffered_channels() {
    thousand_channels(1);
}

#[test]
fn thousand_send_operations() {
    const N: usize = if cfg!(miri) { 8 } else { 1000 };
    let (senders, receivers): (Vec<Sender<usize>>, Vec<Receiver<usize>>) =
        (0..N).map(|_| bounded(0)).unzip();
    let consumer = thread::spawn(move || {
        let mut got = 0;
        while got < N {
            for (i, r) in receivers.iter().enumerate() {
                if let Ok(v) = r.recv_timeout(Duration::from_micros(50)) {
                    assert_eq!(v, i);
                    got += 1;
                }
            }
        }
    });
    let mut sel = Select::new();
    for s in &senders {
        sel.send(s);
    }
    for _ in 0..N {
        let op = sel.select();
        let i = op.index();
        op.send(&senders[i], i).unwrap();
        sel.remove(i);
    }
    consumer.join().unwrap();
}

/// A clone of the added handle names the same channel, so it may complete the operation;
/// for every flavor and both directions.
#[test]
fn completing_with_a_clone_of_the_selected_handle() {
    for cap in [None, Some(0), Some(1), Some(4)] {
        let (s, r) = cap.map_or_else(unbounded::<i32>, bounded::<i32>);
        let s2 = s.clone();
        let peer = thread::spawn(move || s2.send(1).unwrap());
        let mut sel = Select::new();
        sel.recv(&r);
        let oper = sel.select();
        let r_clone = r.clone();
        assert_eq!(oper.recv(&r_clone), Ok(1));
        peer.join().unwrap();

        let r2 = r.clone();
        let peer = thread::spawn(move || r2.recv().unwrap());
        let mut sel = Select::new();
        sel.send(&s);
        let oper = sel.select();
        let s_clone = s.clone();
        assert_eq!(oper.send(&s_clone, 2), Ok(()));
        assert_eq!(peer.join().unwrap(), 2);
    }
}

/// A sender of the channel whose *receive* was selected is the wrong side. The receive
/// is completed (its message dropped) before the panic, so the channel stays usable.
#[test]
fn completing_a_receive_with_the_sender_panics() {
    let (s, r) = bounded::<i32>(1);
    s.send(1).unwrap();
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut sel = Select::new();
        sel.recv(&r);
        let oper = sel.select();
        let _ = oper.send(&s, 2);
    }));
    let msg = res.unwrap_err();
    assert!(
        msg.downcast_ref::<&str>()
            .unwrap()
            .contains("another channel than the one selected")
    );
    s.send(3).unwrap();
    assert_eq!(r.recv(), Ok(3));
}

#[test]
fn select_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Select<'_>>();
    // And usable from another thread, on channels of messages that are not `Sync`.
    let (s, r) = unbounded::<std::cell::Cell<i32>>();
    s.send(std::cell::Cell::new(5)).unwrap();
    let mut sel = Select::new();
    let i = sel.recv(&r);
    thread::scope(|scope| {
        scope.spawn(move || assert_eq!(sel.ready(), i));
    });
    assert_eq!(r.recv().unwrap().get(), 5);
}

/// One message moves between two channels while a non-blocking select looks at both: it
/// must always find it (trying the channels one after the other would sometimes miss it).
/// The dynamic `try_select`, `try_ready` and `select!` with `default` share the engine.
#[test]
fn non_blocking_select_is_linearizable() {
    const ROUNDS: usize = if cfg!(miri) { 20 } else { 20_000 };
    for cap in [None, Some(1)] {
        let ((s1, r1), (s2, r2)) = match cap {
            None => (unbounded::<i32>(), unbounded::<i32>()),
            Some(n) => (bounded(n), bounded(n)),
        };
        let (go_s, go_r) = bounded::<()>(0);
        let (done_s, done_r) = bounded::<()>(0);
        thread::scope(|scope| {
            scope.spawn(|| {
                for _ in 0..ROUNDS {
                    go_r.recv().unwrap();
                    // Move the message from r1 to r2, keeping one in at least one of them.
                    s2.send(1).unwrap();
                    let _ = r1.try_recv();
                    done_r.recv().unwrap();
                }
            });
            for round in 0..ROUNDS {
                s1.send(1).unwrap();
                go_s.send(()).unwrap();
                let mut sel = Select::new();
                sel.recv(&r1);
                sel.recv(&r2);
                match round % 3 {
                    0 => {
                        let oper = sel.try_select().expect("a message is always there");
                        let r = if oper.index() == 0 { &r1 } else { &r2 };
                        oper.recv(r).unwrap();
                    }
                    1 => {
                        sel.try_ready().expect("a message is always there");
                    }
                    _ => gogreen_channel::select! {
                        recv(r1) -> v => { v.unwrap(); }
                        recv(r2) -> v => { v.unwrap(); }
                        default => panic!("a message is always there"),
                    },
                }
                done_s.send(()).unwrap();
                while r1.try_recv().is_ok() || r2.try_recv().is_ok() {}
            }
        });
    }
}
