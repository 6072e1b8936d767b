//! loom models of select: registering on two channels while both fire, abort by close,
//! a send arm meeting a receiver, and readiness.
#![cfg(loom)]

use gogreen_channel::{Select, bounded, select, unbounded};
use loom::thread;

/// Both channels fire while the select registers on them: it wins exactly one, and the
/// other message is still there to receive.
#[test]
fn two_channels_fire_at_once_rendezvous() {
    loom::model(|| {
        let (s1, r1) = bounded::<u32>(0);
        let (s2, r2) = bounded::<u32>(0);
        let t1 = thread::spawn(move || s1.send(1).unwrap());
        let t2 = thread::spawn(move || s2.send(2).unwrap());
        let first = select! {
            recv(r1) -> v => v.unwrap(),
            recv(r2) -> v => v.unwrap(),
        };
        let second = if first == 1 { r2.recv() } else { r1.recv() }.unwrap();
        assert_eq!(first + second, 3);
        t1.join().unwrap();
        t2.join().unwrap();
    });
}

/// As above, on buffered channels, where the waker only says "try again".
#[test]
fn two_channels_fire_at_once_buffered() {
    loom::model(|| {
        let (s1, r1) = bounded::<u32>(1);
        let (s2, r2) = bounded::<u32>(1);
        let t1 = thread::spawn(move || s1.send(1).unwrap());
        let t2 = thread::spawn(move || s2.send(2).unwrap());
        let first = select! {
            recv(r1) -> v => v.unwrap(),
            recv(r2) -> v => v.unwrap(),
        };
        let second = if first == 1 { r2.recv() } else { r1.recv() }.unwrap();
        assert_eq!(first + second, 3);
        t1.join().unwrap();
        t2.join().unwrap();
    });
}

/// A select blocked on two channels is woken by the close of one of them.
#[test]
fn select_aborted_by_disconnect() {
    loom::model(|| {
        let (s1, r1) = bounded::<u32>(0);
        let (_s2, r2) = bounded::<u32>(1);
        let t = thread::spawn(move || drop(s1));
        let closed = select! {
            recv(r1) -> v => v.is_err(),
            recv(r2) -> _ => false,
        };
        assert!(closed);
        t.join().unwrap();
    });
}

/// A select send arm on a rendezvous channel, chosen by a receiver: the message is
/// written after the arm wins, and the receiver waits for it.
#[test]
fn send_arm_meets_receiver() {
    loom::model(|| {
        let (s1, r1) = bounded::<u32>(0);
        let (s2, _r2) = bounded::<u32>(0);
        let t = thread::spawn(move || r1.recv().unwrap());
        select! {
            send(s1, 10) -> res => res.unwrap(),
            send(s2, 20) -> _ => unreachable!("nobody receives on the second channel"),
        }
        assert_eq!(t.join().unwrap(), 10);
    });
}

/// `Select::ready` is woken when a message arrives, and does not consume it.
#[test]
fn ready_is_woken() {
    loom::model(|| {
        let (s, r) = bounded::<u32>(1);
        let t = thread::spawn(move || s.send(3).unwrap());
        let mut sel = Select::new();
        sel.recv(&r);
        assert_eq!(sel.ready(), 0);
        assert_eq!(r.recv(), Ok(3));
        t.join().unwrap();
    });
}

/// A message moves from one channel to the other while a non-blocking select looks at
/// both, the emptied one first: trying them one after the other would see both empty, but
/// there is always a message, and the select must find it (through the versions, or the
/// registering round when one changed). Buffered and unbounded; `try_select` and
/// `try_ready`.
#[test]
fn non_blocking_select_is_linearizable() {
    for unbounded_flavor in [false, true] {
        for ready_only in [false, true] {
            loom::model(move || {
                let ((s1, r1), (s2, r2)) = if unbounded_flavor {
                    (unbounded::<u32>(), unbounded::<u32>())
                } else {
                    (bounded::<u32>(1), bounded::<u32>(1))
                };
                s1.send(1).unwrap();
                let r1b = r1.clone();
                let t = thread::spawn(move || {
                    s2.send(2).unwrap();
                    let _ = r1b.try_recv();
                });
                // Under loom the order is kept: r2 is tried first.
                let mut sel = Select::new();
                let i2 = sel.recv(&r2);
                sel.recv(&r1);
                if ready_only {
                    sel.try_ready().expect("a message is always there");
                } else {
                    let oper = sel.try_select().expect("a message is always there");
                    let r = if oper.index() == i2 { &r2 } else { &r1 };
                    assert!(oper.recv(r).is_ok());
                }
                t.join().unwrap();
                drop(s1);
            });
        }
    }
}
