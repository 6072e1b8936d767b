//! loom models of `gogreen::sync::RwLock` (`raw_rwlock.rs`): readers together, writers
//! alone, hand-over to queued readers and writers, and `downgrade`.
//!
//! The data is a loom `UnsafeCell`: readers read it, writers write it, and loom reports
//! any write the lock does not order against every other access. A waiter left parked
//! shows up as a deadlock.
#![cfg(loom)]

mod sched_common;

use gogreen::sync::{RwLock, RwLockWriteGuard};
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use sched_common::check;

struct Data(UnsafeCell<u32>);

// SAFETY: accessed only under the lock, which is what the models check.
unsafe impl Send for Data {}
// SAFETY: as above.
unsafe impl Sync for Data {}

fn new() -> Arc<RwLock<Data>> {
    Arc::new(RwLock::new(Data(UnsafeCell::new(0))))
}

fn write(l: &RwLock<Data>) {
    let g = l.write().unwrap();
    // SAFETY: the write lock is held; loom checks the claim.
    g.0.with_mut(|p| unsafe { *p += 1 });
}

fn read(l: &RwLock<Data>) -> u32 {
    let g = l.read().unwrap();
    // SAFETY: a read lock is held; loom checks the claim.
    g.0.with(|p| unsafe { *p })
}

/// A writer and two readers: every reader sees 0 or 1, the writer is alone.
#[test]
fn writer_and_readers() {
    check("rwlock writer_and_readers", |start| {
        let l = new();
        let (l2, l3) = (l.clone(), l.clone());
        let r1 = thread::spawn(move || read(&l2));
        let r2 = thread::spawn(move || read(&l3));
        start.spawned();
        write(&l);
        assert!(r1.join().unwrap() <= 1);
        assert!(r2.join().unwrap() <= 1);
        assert_eq!(read(&l), 1);
    });
}

/// Two writers and a reader: the writers take turns through hand-overs.
#[test]
fn two_writers_and_a_reader() {
    check("rwlock two_writers", |start| {
        let l = new();
        let (l2, l3) = (l.clone(), l.clone());
        let w = thread::spawn(move || write(&l2));
        let r = thread::spawn(move || read(&l3));
        start.spawned();
        write(&l);
        w.join().unwrap();
        assert!(r.join().unwrap() <= 2);
        assert_eq!(read(&l), 2);
    });
}

/// A writer downgrades while a reader and a writer may be queued: the reader may join
/// the downgraded lock, the writer waits for both.
#[test]
fn downgrade_lets_readers_in() {
    check("rwlock downgrade", |start| {
        let l = new();
        let (l2, l3) = (l.clone(), l.clone());
        let r = thread::spawn(move || read(&l2));
        let w = thread::spawn(move || write(&l3));
        start.spawned();
        let g = l.write().unwrap();
        // SAFETY: the write lock is held.
        g.0.with_mut(|p| unsafe { *p += 10 });
        let g = RwLockWriteGuard::downgrade(g);
        // SAFETY: a read lock is held.
        let seen = g.0.with(|p| unsafe { *p });
        assert!(seen == 10 || seen == 11, "{seen}");
        drop(g);
        r.join().unwrap();
        w.join().unwrap();
        assert_eq!(read(&l), 11);
    });
}
