//! loom models of the rendezvous channel: the hand-off in both orders, sole and timed waiters, close racing blocked peers.
#![cfg(loom)]

use gogreen_channel::{RecvError, RecvTimeoutError, bounded};
use loom::thread;
use std::time::Duration;

/// Whichever side comes first blocks; the other completes the hand-off through its packet.
#[test]
fn hand_off() {
    loom::model(|| {
        let (s, r) = bounded::<Box<u32>>(0);
        let t = thread::spawn(move || s.send(Box::new(7)).unwrap());
        assert_eq!(*r.recv().unwrap(), 7);
        t.join().unwrap();
    });
}

/// Two senders, one receiver: both messages arrive, each once.
#[test]
fn two_senders() {
    loom::model(|| {
        let (s, r) = bounded::<u32>(0);
        let s2 = s.clone();
        let t1 = thread::spawn(move || s.send(1).unwrap());
        let t2 = thread::spawn(move || s2.send(2).unwrap());
        let a = r.recv().unwrap();
        let b = r.recv().unwrap();
        assert_eq!(a + b, 3);
        t1.join().unwrap();
        t2.join().unwrap();
        assert_eq!(r.recv(), Err(RecvError));
    });
}

/// `close` races a sender and a receiver that may both be blocked: either they meet
/// (and the value arrives once) or both fail, and the sender gets its value back.
#[test]
fn close_races_blocked_sender_and_receiver() {
    loom::model(|| {
        let (s, r) = bounded::<Box<u32>>(0);
        let closer = s.clone();
        let ts = thread::spawn(move || s.send(Box::new(5)).map_err(|e| *e.into_inner()));
        let tr = thread::spawn(move || r.recv().map(|b| *b));
        closer.close();
        let sent = ts.join().unwrap();
        let got = tr.join().unwrap();
        match (sent, got) {
            (Ok(()), Ok(5)) => {}
            (Err(5), Err(RecvError)) => {}
            other => panic!("inconsistent outcome: {other:?}"),
        }
    });
}

/// Dropping the last receiver wakes a blocked sender with its value.
#[test]
fn receiver_drop_wakes_sender() {
    loom::model(|| {
        let (s, r) = bounded::<u32>(0);
        let t = thread::spawn(move || s.send(9));
        drop(r);
        assert_eq!(t.join().unwrap().unwrap_err().into_inner(), 9);
    });
}

/// A sole waiter (a plain `send`, which wakers select with a store) and a waiter with a
/// deadline (selected with a CAS, because it may give up by itself) on one channel: the
/// receive either takes the value or times out, and then a plain receive takes it.
#[test]
fn sole_sender_meets_timed_receiver() {
    loom::model(|| {
        let (s, r) = bounded::<Box<u32>>(0);
        let t = thread::spawn(move || s.send(Box::new(3)).unwrap());
        let v = match r.recv_timeout(Duration::from_millis(1)) {
            Ok(v) => v,
            Err(RecvTimeoutError::Timeout) => r.recv().unwrap(),
            Err(e) => panic!("unexpected {e:?}"),
        };
        assert_eq!(*v, 3);
        t.join().unwrap();
    });
}
