//! loom models of `gogreen::sync::WaitGroup`: every waiter wakes once the count drops
//! to zero, and sees the tasks' work.
#![cfg(loom)]

mod sched_common;

use gogreen::sync::WaitGroup;
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use sched_common::check;

struct Work(UnsafeCell<u32>);

// SAFETY: written by the task before its `done`, read by waiters after `wait`: the
// claim under test, which loom checks.
unsafe impl Send for Work {}
// SAFETY: as above.
unsafe impl Sync for Work {}

/// Two tasks finish — a thread, and `main` itself — while two waiters (another
/// thread, and `main` after its task) wait: both waiters wake, and see both writes.
#[test]
fn waiters_wake_and_see_the_work() {
    check("wait_group", |start| {
        let wg = WaitGroup::new();
        wg.add(2);
        let work = Arc::new([Work(UnsafeCell::new(0)), Work(UnsafeCell::new(0))]);
        let (wg1, work1) = (wg.clone(), work.clone());
        let task = thread::spawn(move || {
            // SAFETY: only this task writes its slot, before `done`.
            work1[0].0.with_mut(|p| unsafe { *p = 1 });
            wg1.done();
        });
        let (wg2, work2) = (wg.clone(), work.clone());
        let waiter = thread::spawn(move || {
            wg2.wait();
            // SAFETY: after `wait`, nobody writes.
            work2
                .iter()
                .map(|w| w.0.with(|p| unsafe { *p }))
                .sum::<u32>()
        });
        start.spawned();
        // SAFETY: only `main` writes this slot, before its `done`.
        work[1].0.with_mut(|p| unsafe { *p = 1 });
        wg.done();
        wg.wait();
        // SAFETY: as above.
        assert_eq!(
            work.iter()
                .map(|w| w.0.with(|p| unsafe { *p }))
                .sum::<u32>(),
            2
        );
        assert_eq!(waiter.join().unwrap(), 2);
        task.join().unwrap();
    });
}

/// A group reused right after `wait` returned: `main` may see the count at zero before
/// the last `done` has ended the round, re-arm the group and wait again. That second
/// wait must not be woken by the first round's `done` (it was, when the round ended
/// some time after the count's drop: step 3 of the module docs, "Rejected").
#[test]
fn a_reused_group_waits_for_its_own_round() {
    check("wait_group_reuse", |start| {
        let wg = WaitGroup::new();
        wg.add(1);
        let wg1 = wg.clone();
        let first = thread::spawn(move || wg1.done());
        start.spawned();
        wg.wait();
        wg.add(1);
        let wg2 = wg.clone();
        let second = thread::spawn(move || wg2.done());
        wg.wait();
        assert_eq!(wg.count(), 0, "woken by the first round's done");
        first.join().unwrap();
        second.join().unwrap();
    });
}
