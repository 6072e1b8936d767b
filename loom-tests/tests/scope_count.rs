//! loom models of a scope's count (`gogreen::scope_count`): the owner of a scope waits
//! until every thread has counted out, and is woken by the last one.
//!
//! What must hold:
//!
//! - **No lost wake-up**: whatever the interleaving of the owner's `wait` with the
//!   threads' `count_out`, the owner returns (loom reports a deadlock otherwise).
//! - **The threads' work happens before the owner returns**: each thread writes a loom
//!   `UnsafeCell` before counting out, the owner reads it after `wait`; loom reports a
//!   pair of accesses that the count's Release/Acquire does not order.
//! - **A thread may spawn another**: counted in by a thread that is still counted, the
//!   count never reaches zero early.
#![cfg(loom)]

use gogreen::scope_count::Count;
use gogreen_channel::park;
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;

/// What a thread borrowed: written by the thread, read by the owner after `wait`.
struct Borrowed(UnsafeCell<usize>);

// SAFETY: the models rely on the count to order the accesses; loom checks that it does.
unsafe impl Sync for Borrowed {}

/// Two threads count out while the owner waits.
#[test]
fn the_owner_waits_for_two_threads() {
    loom::model(|| {
        let count = Arc::new(Count::new());
        let cells = Arc::new([Borrowed(UnsafeCell::new(0)), Borrowed(UnsafeCell::new(0))]);
        let owner = park::current();
        let threads: Vec<_> = (0..2)
            .map(|i| {
                count.count_in();
                let (count, cells, owner) = (count.clone(), cells.clone(), owner.clone());
                thread::spawn(move || {
                    // SAFETY: only this thread writes cell `i` before counting out.
                    cells[i].0.with_mut(|p| unsafe { *p = i + 1 });
                    count.count_out(&owner);
                })
            })
            .collect();
        count.wait();
        for (i, cell) in cells.iter().enumerate() {
            // SAFETY: every thread has counted out.
            assert_eq!(cell.0.with(|p| unsafe { *p }), i + 1);
        }
        for t in threads {
            t.join().unwrap();
        }
    });
}

/// A thread counts in another before counting itself out; the owner waits for both.
#[test]
fn a_thread_spawns_a_thread() {
    loom::model(|| {
        let count = Arc::new(Count::new());
        let cell = Arc::new(Borrowed(UnsafeCell::new(0)));
        let owner = park::current();
        count.count_in();
        let outer = {
            let (count, cell, owner) = (count.clone(), cell.clone(), owner.clone());
            thread::spawn(move || {
                count.count_in();
                let inner = {
                    let (count, owner) = (count.clone(), owner.clone());
                    thread::spawn(move || {
                        // SAFETY: the only writer; the owner reads after `wait`.
                        cell.0.with_mut(|p| unsafe { *p = 7 });
                        count.count_out(&owner);
                    })
                };
                count.count_out(&owner);
                inner
            })
        };
        count.wait();
        // SAFETY: every thread has counted out.
        assert_eq!(cell.0.with(|p| unsafe { *p }), 7);
        outer.join().unwrap().join().unwrap();
    });
}

/// The owner waits twice on the same context (two scopes one after the other): a
/// late unpark from the first scope's last thread must not end the second wait early.
#[test]
fn a_stale_wake_up_does_not_end_the_next_wait() {
    loom::model(|| {
        let owner = park::current();
        let first = Arc::new(Count::new());
        first.count_in();
        let t1 = {
            let (first, owner) = (first.clone(), owner.clone());
            thread::spawn(move || first.count_out(&owner))
        };
        first.wait();

        let second = Arc::new(Count::new());
        let cell = Arc::new(Borrowed(UnsafeCell::new(0)));
        second.count_in();
        let t2 = {
            let (second, cell, owner) = (second.clone(), cell.clone(), owner.clone());
            thread::spawn(move || {
                // SAFETY: the only writer; the owner reads after `wait`.
                cell.0.with_mut(|p| unsafe { *p = 1 });
                second.count_out(&owner);
            })
        };
        second.wait();
        // SAFETY: the second scope's thread has counted out.
        assert_eq!(cell.0.with(|p| unsafe { *p }), 1);
        t1.join().unwrap();
        t2.join().unwrap();
    });
}
