//! loom models of the unbounded (linked blocks) channel; under loom a block holds 3 messages.
#![cfg(loom)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use gogreen_channel::{RecvError, unbounded};
use loom::thread;

/// Four messages cross a block boundary while the receiver chases them.
#[test]
fn across_a_block_boundary() {
    loom::model(|| {
        let (s, r) = unbounded::<u32>();
        let t = thread::spawn(move || {
            for i in 0..4 {
                s.send(i).unwrap();
            }
        });
        for i in 0..4 {
            assert_eq!(r.recv(), Ok(i));
        }
        assert_eq!(r.recv(), Err(RecvError));
        t.join().unwrap();
    });
}

/// Two senders race to install the first block and claim slots.
#[test]
fn two_senders() {
    loom::model(|| {
        let (s, r) = unbounded::<u32>();
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

/// Two receivers free a block between them (the `DESTROY` hand-over).
#[test]
fn two_receivers_free_a_block() {
    loom::model(|| {
        let (s, r) = unbounded::<u32>();
        for i in 0..3 {
            s.send(i).unwrap();
        }
        drop(s);
        let r2 = r.clone();
        let t = thread::spawn(move || r2.iter().count());
        let mine = r.iter().count();
        assert_eq!(mine + t.join().unwrap(), 3);
    });
}

/// Dropping the senders wakes a blocked receiver; dropping the channel drops what is
/// left, once.
#[test]
fn close_and_drop_leftovers() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        struct D(Arc<AtomicUsize>);
        impl Drop for D {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
        let (s, r) = unbounded::<D>();
        // The receiver stays alive (returned by the thread): sends must not fail.
        let t = thread::spawn(move || (r.recv().is_ok(), r));
        let d = drops.clone();
        let s2 = s.clone();
        let t2 = thread::spawn(move || {
            for _ in 0..4 {
                s2.send(D(d.clone())).ok().unwrap();
            }
        });
        t2.join().unwrap();
        drop(s);
        let (received, r) = t.join().unwrap();
        assert!(received);
        assert_eq!(drops.load(Ordering::Relaxed), 1);
        drop(r.recv().unwrap());
        drop(r); // two left in the channel, dropped with it
        assert_eq!(drops.load(Ordering::Relaxed), 4);
    });
}

/// The last receiver goes while a sender fills more than one block and another sender
/// stays: every message is dropped when the sending thread is done, and every block freed
/// (loom reports a leak), not left for the channel's own drop.
#[test]
fn last_receiver_drops_buffered_messages() {
    loom::model(|| {
        let token = std::sync::Arc::new(());
        let (s, r) = unbounded::<std::sync::Arc<()>>();
        let keep = s.clone();
        let t = {
            let token = token.clone();
            thread::spawn(move || {
                for _ in 0..4 {
                    let _ = s.send(token.clone());
                }
            })
        };
        drop(r);
        t.join().unwrap();
        assert_eq!(std::sync::Arc::strong_count(&token), 1);
        drop(keep);
    });
}
