//! loom models of `gogreen::sync::Once` and `OnceLock`: one initialiser runs, the others
//! wait for it and see what it wrote; a panicking initialiser wakes its waiters.
#![cfg(loom)]

mod sched_common;

use gogreen::sync::{Once, OnceLock};
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use sched_common::check;

struct Slot(UnsafeCell<u32>);

// SAFETY: written once by the initialiser, read after `call_once` returns: the claim
// under test, which loom checks.
unsafe impl Send for Slot {}
// SAFETY: as above.
unsafe impl Sync for Slot {}

/// Two callers race; the initialiser runs once, and both see its write.
#[test]
fn one_initialiser_runs() {
    check("once race", |start| {
        let once = Arc::new((Once::new(), Slot(UnsafeCell::new(0)), AtomicUsize::new(0)));
        let init = |o: &(Once, Slot, AtomicUsize)| {
            o.0.call_once(|| {
                o.2.fetch_add(1, Ordering::Relaxed);
                // SAFETY: only the initialiser writes.
                o.1.0.with_mut(|p| unsafe { *p = 7 });
            });
            // SAFETY: after `call_once`, nobody writes.
            assert_eq!(o.1.0.with(|p| unsafe { *p }), 7);
        };
        let o2 = once.clone();
        let t = thread::spawn(move || init(&o2));
        start.spawned();
        init(&once);
        t.join().unwrap();
        assert_eq!(once.2.load(Ordering::Relaxed), 1);
    });
}

/// The first initialiser panics while the other caller may be waiting: the waiter is
/// woken, and `call_once_force` runs a second initialiser that sees the poisoning.
#[test]
fn a_panicking_initialiser_wakes_its_waiters() {
    // The model panics on purpose in many executions; keep the output readable.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<&str>() != Some(&"initialiser panics") {
            default_hook(info);
        }
    }));
    check("once poison", |start| {
        let once = Arc::new(Once::new());
        let o2 = once.clone();
        let t = thread::spawn(move || {
            let mut saw_poison = false;
            o2.call_once_force(|s| saw_poison = s.is_poisoned());
            saw_poison
        });
        start.spawned();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            once.call_once_force(|_| panic!("initialiser panics"))
        }));
        let saw_poison = t.join().unwrap();
        // Either the thread ran first (and we never ran: no panic) or we panicked first
        // and it saw the poison.
        assert_eq!(r.is_err(), saw_poison);
        assert!(once.is_completed());
    });
}

/// `OnceLock::get_or_init` races `set` and `wait`.
#[test]
fn once_lock_get_or_init_set_and_wait() {
    check("once_lock", |start| {
        let cell = Arc::new(OnceLock::<u32>::new());
        let (c2, c3) = (cell.clone(), cell.clone());
        let setter = thread::spawn(move || c2.set(2).is_ok());
        let waiter = thread::spawn(move || *c3.wait());
        start.spawned();
        let got = *cell.get_or_init(|| 1);
        let set_won = setter.join().unwrap();
        assert_eq!(got, if set_won { 2 } else { 1 });
        assert_eq!(waiter.join().unwrap(), got);
    });
}
