//! `gogreen::sync::Mutex`: green threads and OS threads lock alike, and count right.
//!
//! Every critical section checks that it is alone (an atomic "inside" count that must go
//! 0 → 1) and increments a plain integer behind the lock: an increment lost or a second
//! holder shows up as a wrong total or a failed check.

mod common;

use common::{child_scenario, run_child};
use gogreen::sync::{Mutex, TryLockError};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A counter behind the mutex under test, and a witness of who is inside.
struct Counted {
    count: Mutex<u64>,
    inside: AtomicUsize,
}

impl Counted {
    fn new() -> Arc<Self> {
        Arc::new(Counted {
            count: Mutex::new(0),
            inside: AtomicUsize::new(0),
        })
    }

    fn increment(&self) {
        let mut g = self.count.lock().unwrap();
        assert_eq!(self.inside.fetch_add(1, Ordering::SeqCst), 0, "two holders");
        *g += 1;
        self.inside.fetch_sub(1, Ordering::SeqCst);
    }

    fn total(&self) -> u64 {
        *self.count.lock().unwrap()
    }
}

const PER_WORKER: u64 = 2000;

#[test]
fn green_threads_lose_no_increment() {
    let c = Counted::new();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let c = c.clone();
            gogreen::spawn(move || (0..PER_WORKER).for_each(|_| c.increment()))
        })
        .collect();
    for t in tasks {
        t.join().unwrap();
    }
    assert_eq!(c.total(), 16 * PER_WORKER);
}

#[test]
fn os_threads_lose_no_increment() {
    let c = Counted::new();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let c = c.clone();
            std::thread::spawn(move || (0..PER_WORKER).for_each(|_| c.increment()))
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(c.total(), 4 * PER_WORKER);
}

#[test]
fn green_and_os_threads_share_one_mutex() {
    let c = Counted::new();
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let c = c.clone();
            std::thread::spawn(move || (0..PER_WORKER).for_each(|_| c.increment()))
        })
        .collect();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let c = c.clone();
            gogreen::spawn(move || {
                for j in 0..PER_WORKER {
                    c.increment();
                    if (i + j) % 64 == 0 {
                        gogreen::yield_now();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for t in tasks {
        t.join().unwrap();
    }
    assert_eq!(c.total(), 11 * PER_WORKER);
}

/// The case: green threads that hold the lock across a park. Only the green
/// threads wait; their OS threads run the others, so all of them finish and every
/// increment counts, on any number of processors.
#[test]
fn a_holder_may_park_while_others_wait() {
    let c = Counted::new();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let c = c.clone();
            gogreen::spawn(move || {
                let mut g = c.count.lock().unwrap();
                assert_eq!(c.inside.fetch_add(1, Ordering::SeqCst), 0, "two holders");
                gogreen::sleep(Duration::from_millis(2));
                *g += 1;
                c.inside.fetch_sub(1, Ordering::SeqCst);
            })
        })
        .collect();
    for t in tasks {
        t.join().unwrap();
    }
    assert_eq!(c.total(), 20);
}

/// The case, in a process of its own so that the count of OS threads is its
/// alone: with a `std::sync::Mutex`, 20 green threads holding it 2 ms each blocked
/// their OS threads, and sysmon started 18 to 26 more to keep the other green threads
/// going. With this mutex the waiters park and no processor is ever stuck, so the
/// runtime needs no OS thread beyond one per processor.
#[test]
fn parked_holders_need_no_extra_os_threads() {
    if child_scenario().as_deref() == Some("issue-7") {
        gogreen::Config::new().procs(2).apply().unwrap();
        let m = Arc::new(Mutex::new(0));
        gogreen::run(move || {
            let tasks: Vec<_> = (0..20)
                .map(|_| {
                    let m = m.clone();
                    gogreen::spawn(move || {
                        let mut g = m.lock().unwrap();
                        gogreen::sleep(Duration::from_millis(2));
                        *g += 1;
                    })
                })
                .collect();
            for t in tasks {
                t.join().unwrap();
            }
            assert_eq!(*m.lock().unwrap(), 20);
        });
        println!("threads={}", gogreen::stats().threads);
        return;
    }
    let out = run_child("parked_holders_need_no_extra_os_threads", "issue-7", &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let threads: usize = stdout
        .split("threads=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no count in {stdout}"))
        .parse()
        .unwrap();
    assert!(threads <= 2, "{threads} OS threads for 2 processors");
}

#[test]
fn try_lock_fails_while_held_and_succeeds_after() {
    let m = Arc::new(Mutex::new(1));
    let g = m.lock().unwrap();
    let m2 = m.clone();
    let (green, os) = (
        gogreen::spawn({
            let m = m.clone();
            move || matches!(m.try_lock(), Err(TryLockError::WouldBlock))
        }),
        std::thread::spawn(move || matches!(m2.try_lock(), Err(TryLockError::WouldBlock))),
    );
    assert!(green.join().unwrap());
    assert!(os.join().unwrap());
    drop(g);
    *m.try_lock().unwrap() += 1;
    assert_eq!(*m.lock().unwrap(), 2);
}

#[test]
fn a_panicking_holder_poisons_the_mutex() {
    let m = Arc::new(Mutex::new(5));
    let m2 = m.clone();
    let r = gogreen::spawn(move || {
        let _g = m2.lock().unwrap();
        panic!("holder panics");
    })
    .join();
    assert!(r.is_err());
    assert!(m.is_poisoned());
    // The lock still works, and an `Err` still carries the guard.
    let mut g = m.lock().unwrap_err().into_inner();
    *g += 1;
    drop(g);
    assert!(matches!(m.try_lock(), Err(TryLockError::Poisoned(_))));
    m.clear_poison();
    assert_eq!(*m.lock().unwrap(), 6);
    // A panic while the thread was already panicking does not poison again: only
    // the panicking critical section counts.
    let m = Arc::try_unwrap(m).unwrap();
    assert_eq!(m.into_inner().unwrap(), 6);
}

#[test]
fn poisoning_shows_in_into_inner_and_get_mut() {
    let mut m = Mutex::new(String::from("x"));
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut g = m.lock().unwrap();
        g.push('y');
        panic!("inside");
    }));
    assert_eq!(m.get_mut().unwrap_err().into_inner(), "xy");
    assert_eq!(m.into_inner().unwrap_err().into_inner(), "xy");
}

/// A green thread parked on the lock is woken when the holder unwinds, and finds the
/// mutex poisoned — with the lock in hand.
#[test]
fn a_waiter_learns_of_the_panic() {
    let m = Arc::new(Mutex::new(0));
    let holding = Arc::new(gogreen::sync::Barrier::new(2));
    let (m2, h2) = (m.clone(), holding.clone());
    let holder = gogreen::spawn(move || {
        let _g = m2.lock().unwrap();
        h2.wait();
        gogreen::sleep(Duration::from_millis(5));
        panic!("holder panics");
    });
    holding.wait();
    let waiter = gogreen::spawn(move || match m.lock() {
        Err(e) => *e.into_inner() + 1,
        Ok(_) => panic!("the mutex should be poisoned"),
    });
    assert!(holder.join().is_err());
    assert_eq!(waiter.join().unwrap(), 1);
}

#[test]
fn a_mutex_in_a_static_and_its_debug_output() {
    static M: Mutex<Vec<u32>> = Mutex::new(Vec::new());
    M.lock().unwrap().push(3);
    assert_eq!(format!("{M:?}"), "Mutex { data: [3], poisoned: false, .. }");
    let g = M.lock().unwrap();
    assert_eq!(
        format!("{M:?}"),
        "Mutex { data: <locked>, poisoned: false, .. }"
    );
    assert_eq!(format!("{g:?}"), "[3]");
}

#[test]
fn unsized_data_and_default() {
    let m: &Mutex<[u8]> = &Mutex::new([1, 2, 3]);
    m.lock().unwrap()[0] = 9;
    assert_eq!(&*m.lock().unwrap(), &[9, 2, 3]);
    let d: Mutex<u8> = Mutex::default();
    assert_eq!(*d.lock().unwrap(), 0);
}
