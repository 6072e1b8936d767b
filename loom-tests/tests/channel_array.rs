//! loom models of the bounded (ring buffer) channel: blocking on full and empty, MPMC, close.
#![cfg(loom)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use gogreen_channel::{RecvError, SendError, bounded};
use loom::thread;

/// Capacity 1 and two messages: the sender blocks on full, the receiver on empty.
#[test]
fn send_recv_blocking() {
    loom::model(|| {
        let (s, r) = bounded::<u32>(1);
        let t = thread::spawn(move || {
            s.send(1).unwrap();
            s.send(2).unwrap();
        });
        assert_eq!(r.recv(), Ok(1));
        assert_eq!(r.recv(), Ok(2));
        assert_eq!(r.recv(), Err(RecvError));
        t.join().unwrap();
    });
}

/// Two senders race for one slot; the receiver gets both messages, each once.
#[test]
fn two_senders() {
    loom::model(|| {
        let (s, r) = bounded::<u32>(1);
        let s2 = s.clone();
        let t1 = thread::spawn(move || s.send(1).unwrap());
        let t2 = thread::spawn(move || s2.send(2).unwrap());
        let a = r.recv().unwrap();
        let b = r.recv().unwrap();
        assert_eq!(a + b, 3);
        t1.join().unwrap();
        t2.join().unwrap();
    });
}

/// Two receivers race for messages sent through one slot.
#[test]
fn two_receivers() {
    loom::model(|| {
        let (s, r) = bounded::<u32>(1);
        let r2 = r.clone();
        let t = thread::spawn(move || r2.recv().unwrap());
        s.send(1).unwrap();
        s.send(2).unwrap();
        let a = r.recv().unwrap();
        assert_eq!(a + t.join().unwrap(), 3);
    });
}

/// Close wakes a blocked receiver; what was sent before the close is still received.
#[test]
fn close_wakes_receiver() {
    loom::model(|| {
        let (s, r) = bounded::<u32>(1);
        let t = thread::spawn(move || {
            let first = r.recv();
            let second = r.recv();
            (first, second)
        });
        s.send(1).unwrap();
        s.close();
        assert_eq!(s.send(2), Err(SendError(2)));
        assert_eq!(t.join().unwrap(), (Ok(1), Err(RecvError)));
    });
}

/// Close races a sender blocked on a full buffer and a receiver: every value is either
/// received or handed back, never both, never lost; buffered values drop once.
#[test]
fn close_races_blocked_sender_and_receiver() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        struct D(Arc<AtomicUsize>);
        impl Drop for D {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
        let (s, r) = bounded::<D>(1);
        s.send(D(drops.clone())).ok().unwrap();
        let closer = s.clone();
        let d = drops.clone();
        let ts = thread::spawn(move || s.send(D(d)).is_ok());
        let tr = thread::spawn(move || r.recv().is_ok());
        closer.close();
        let sent = ts.join().unwrap();
        let received = tr.join().unwrap();
        assert!(received, "the first value was buffered before the close");
        drop(closer);
        let _ = sent;
        assert_eq!(drops.load(Ordering::Relaxed), 2);
    });
}

/// The last receiver goes while a sender sends and another sender stays: every message
/// is dropped by the time the sending thread is done (discarded by the receiver's drop,
/// or refused), not left for the channel's own drop; none twice (a double drop would
/// underflow the count).
#[test]
fn last_receiver_drops_buffered_messages() {
    loom::model(|| {
        let token = Arc::new(());
        let (s, r) = bounded::<Arc<()>>(2);
        let keep = s.clone();
        let t = {
            let token = token.clone();
            thread::spawn(move || {
                let _ = s.send(token.clone());
                let _ = s.send(token);
            })
        };
        drop(r);
        t.join().unwrap();
        assert_eq!(Arc::strong_count(&token), 1);
        drop(keep);
    });
}
