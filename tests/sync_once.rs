//! `gogreen::sync::Once` and `OnceLock`: concurrent initialisers (green threads and OS
//! threads), one runs and the rest wait for it; a panicking initialiser.

use gogreen::sync::{Once, OnceLock};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Many callers at once, of both kinds: the initialiser runs once, slowly (it parks),
/// and every caller returns only after it finished.
#[test]
fn once_runs_one_initialiser_and_the_rest_wait() {
    let once = Arc::new(Once::new());
    let runs = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let call = {
        let (once, runs, done) = (once.clone(), runs.clone(), done.clone());
        move || {
            once.call_once(|| {
                runs.fetch_add(1, Ordering::SeqCst);
                if gogreen::current().is_some() {
                    gogreen::sleep(Duration::from_millis(5));
                } else {
                    std::thread::sleep(Duration::from_millis(5));
                }
                done.store(1, Ordering::SeqCst);
            });
            assert_eq!(
                done.load(Ordering::SeqCst),
                1,
                "returned before the initialiser"
            );
        }
    };
    let green: Vec<_> = (0..30).map(|_| gogreen::spawn(call.clone())).collect();
    let os: Vec<_> = (0..3).map(|_| std::thread::spawn(call.clone())).collect();
    for t in green {
        t.join().unwrap();
    }
    for t in os {
        t.join().unwrap();
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert!(once.is_completed());
    once.wait();
}

/// A panicking initialiser poisons the `Once`: `call_once` then panics, `wait` too, and
/// `call_once_force` runs with the poisoning shown, completing it.
#[test]
fn a_panicking_initialiser_poisons_the_once() {
    let once = Once::new();
    assert!(catch_unwind(AssertUnwindSafe(|| once.call_once(|| panic!("init")))).is_err());
    assert!(!once.is_completed());
    assert!(catch_unwind(AssertUnwindSafe(|| once.call_once(|| {}))).is_err());
    assert!(catch_unwind(AssertUnwindSafe(|| once.wait())).is_err());
    let mut saw = None;
    once.call_once_force(|s| saw = Some(s.is_poisoned()));
    assert_eq!(saw, Some(true));
    assert!(once.is_completed());
    once.call_once(|| panic!("must not run again"));
}

/// Waiters parked on an initialiser that panics are woken: `call_once` waiters panic
/// too, `call_once_force` waiters run the next attempt (one of them).
#[test]
fn waiters_of_a_panicking_initialiser_wake() {
    let once = Arc::new(Once::new());
    let forced = Arc::new(AtomicUsize::new(0));
    let o = once.clone();
    let first = gogreen::spawn(move || {
        o.call_once(|| {
            gogreen::sleep(Duration::from_millis(5));
            panic!("first initialiser");
        })
    });
    // Give the first one time to start (if it has not, a forced one may win instead).
    gogreen::run(|| gogreen::sleep(Duration::from_millis(1)));
    let waiters: Vec<_> = (0..10)
        .map(|_| {
            let (o, forced) = (once.clone(), forced.clone());
            gogreen::spawn(move || {
                o.call_once_force(|_| {
                    forced.fetch_add(1, Ordering::SeqCst);
                })
            })
        })
        .collect();
    let first_result = first.join();
    for w in waiters {
        w.join().unwrap();
    }
    assert!(once.is_completed());
    // Whether the first initialiser ran and panicked, or a forced one beat it to the
    // start: exactly one forced initialiser completed.
    let _ = first_result;
    assert_eq!(forced.load(Ordering::SeqCst), 1);
}

/// `get_or_init` from many green threads and OS threads: one initialiser runs, all
/// see its value.
#[test]
fn once_lock_concurrent_get_or_init() {
    let cell = Arc::new(OnceLock::<String>::new());
    let runs = Arc::new(AtomicUsize::new(0));
    let init = {
        let (cell, runs) = (cell.clone(), runs.clone());
        move |who: usize| {
            cell.get_or_init(|| {
                runs.fetch_add(1, Ordering::SeqCst);
                gogreen::sleep(Duration::from_millis(2));
                format!("by {who}")
            })
            .clone()
        }
    };
    let green: Vec<_> = (0..20)
        .map(|i| {
            let init = init.clone();
            gogreen::spawn(move || init(i))
        })
        .collect();
    let os: Vec<_> = (0..2)
        .map(|i| {
            let init = init.clone();
            std::thread::spawn(move || init(100 + i))
        })
        .collect();
    let mut seen: Vec<String> = green.into_iter().map(|t| t.join().unwrap()).collect();
    seen.extend(os.into_iter().map(|t| t.join().unwrap()));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert!(seen.iter().all(|s| *s == seen[0]), "{seen:?}");
    assert_eq!(cell.get(), Some(&seen[0]));
}

/// A panicking initialiser leaves the cell empty (not poisoned); the next caller's
/// initialiser runs.
#[test]
fn once_lock_after_a_panicking_initialiser() {
    let cell = OnceLock::<u32>::new();
    assert!(catch_unwind(AssertUnwindSafe(|| cell.get_or_init(|| panic!("init")))).is_err());
    assert_eq!(cell.get(), None);
    assert_eq!(*cell.get_or_init(|| 4), 4);
    assert_eq!(cell.set(5), Err(5));
}

/// `wait` parks until someone sets the cell.
#[test]
fn once_lock_wait_and_set() {
    let cell = Arc::new(OnceLock::new());
    let c = cell.clone();
    let waiter = gogreen::spawn(move || *c.wait());
    let c = cell.clone();
    let os_waiter = std::thread::spawn(move || *c.wait());
    gogreen::run(|| gogreen::sleep(Duration::from_millis(2)));
    assert_eq!(cell.set(9), Ok(()));
    assert_eq!(waiter.join().unwrap(), 9);
    assert_eq!(os_waiter.join().unwrap(), 9);
}

#[test]
fn once_lock_std_traits() {
    static GLOBAL: OnceLock<Vec<u8>> = OnceLock::new();
    assert_eq!(format!("{GLOBAL:?}"), "OnceLock(<uninit>)");
    GLOBAL.set(vec![1]).unwrap();
    assert_eq!(format!("{GLOBAL:?}"), "OnceLock([1])");
    let mut c = GLOBAL.clone();
    assert_eq!(c, GLOBAL);
    c.get_mut().unwrap().push(2);
    assert_eq!(c.take(), Some(vec![1, 2]));
    assert_eq!(c.get(), None);
    assert_eq!(OnceLock::from(3).into_inner(), Some(3));
    // Drops its value.
    let counted = Arc::new(());
    drop(OnceLock::from(counted.clone()));
    assert_eq!(Arc::strong_count(&counted), 1);
}
