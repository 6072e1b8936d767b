//! `gogreen::sync::Semaphore`: never more permits out than it has, requests served in
//! order, timeouts, errors for impossible requests.

use gogreen::sync::{AcquireError, Semaphore, TryAcquireError};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Green threads and OS threads take 1–3 permits of 5 at a time: the permits out never
/// exceed 5, and all come back.
#[test]
fn permits_out_never_exceed_the_size() {
    let sem = Arc::new(Semaphore::new(5));
    let out = Arc::new(AtomicUsize::new(0));
    let work = {
        let (sem, out) = (sem.clone(), out.clone());
        move |id: usize| {
            for j in 0..300 {
                let n = 1 + (id + j) % 3;
                let p = sem.acquire_many(n).unwrap();
                assert_eq!(p.num_permits(), n);
                let now = out.fetch_add(n, Ordering::SeqCst) + n;
                assert!(now <= 5, "{now} permits out");
                if gogreen::current().is_some() && j % 10 == 0 {
                    gogreen::yield_now();
                }
                out.fetch_sub(n, Ordering::SeqCst);
            }
        }
    };
    let g: Vec<_> = (0..16)
        .map(|i| {
            let w = work.clone();
            gogreen::spawn(move || w(i))
        })
        .collect();
    let o: Vec<_> = (0..2)
        .map(|i| {
            let w = work.clone();
            std::thread::spawn(move || w(100 + i))
        })
        .collect();
    for t in g {
        t.join().unwrap();
    }
    for t in o {
        t.join().unwrap();
    }
    assert_eq!(sem.available_permits(), 5);
}

/// A request for all permits queued first is served before smaller ones queued after
/// it, even though permits for those come free earlier (Go's FIFO).
#[test]
fn a_large_request_is_not_starved() {
    let sem = Arc::new(Semaphore::new(4));
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let held = sem.acquire_many(4).unwrap();
    let (s, o) = (sem.clone(), order.clone());
    let big = gogreen::spawn(move || {
        let _p = s.acquire_many(4).unwrap();
        o.lock().unwrap().push("big");
    });
    // The big request is queued once the semaphore reports nothing free and it has
    // had time to park; later ones queue behind it.
    gogreen::run(|| gogreen::sleep(Duration::from_millis(5)));
    let small: Vec<_> = (0..3)
        .map(|_| {
            let (s, o) = (sem.clone(), order.clone());
            gogreen::spawn(move || {
                let _p = s.acquire().unwrap();
                o.lock().unwrap().push("small");
            })
        })
        .collect();
    gogreen::run(|| gogreen::sleep(Duration::from_millis(5)));
    drop(held);
    big.join().unwrap();
    for t in small {
        t.join().unwrap();
    }
    let order = order.lock().unwrap();
    assert_eq!(order[0], "big", "{order:?}");
    assert_eq!(order.len(), 4);
}

#[test]
fn try_acquire_and_errors() {
    let sem = Semaphore::new(2);
    let a = sem.try_acquire().unwrap();
    let b = sem.try_acquire().unwrap();
    assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
    drop(a);
    assert_eq!(
        sem.try_acquire_many(2).unwrap_err(),
        TryAcquireError::NoPermits
    );
    drop(b);
    assert_eq!(
        sem.try_acquire_many(3).unwrap_err(),
        TryAcquireError::TooMany {
            requested: 3,
            size: 2
        }
    );
    let e = sem.acquire_many(3).unwrap_err();
    assert_eq!(
        e,
        AcquireError::TooMany {
            requested: 3,
            size: 2
        }
    );
    assert!(e.to_string().contains("ask for at most 2"), "{e}");
    assert_eq!(sem.acquire_many(0).unwrap().num_permits(), 0);
    assert_eq!(sem.available_permits(), 2);
}

/// A timed acquire that cannot be served times out and leaves no trace: the waiters
/// behind it are served, and the permits all come back.
#[test]
fn acquire_timeout() {
    gogreen::run(|| {
        let sem = Arc::new(Semaphore::new(2));
        let held = sem.acquire().unwrap();
        // Wants 2 of which 1 is free: times out.
        let r = sem.acquire_many_timeout(2, Duration::from_millis(5));
        assert_eq!(r.unwrap_err(), AcquireError::Timeout);
        // A request for 1, queued behind a timed request for 2, is let in when the
        // timed one gives up.
        let s = sem.clone();
        let timed = gogreen::spawn(move || {
            s.acquire_many_timeout(2, Duration::from_millis(20))
                .map(|p| p.num_permits())
        });
        gogreen::sleep(Duration::from_millis(2));
        let s = sem.clone();
        let behind = gogreen::spawn(move || s.acquire().unwrap().num_permits());
        assert_eq!(timed.join().unwrap(), Err(AcquireError::Timeout));
        assert_eq!(behind.join().unwrap(), 1);
        drop(held);
        assert_eq!(sem.available_permits(), 2);
        // On an OS thread too.
        let p = sem.acquire_many(2).unwrap();
        let s = sem.clone();
        let os = std::thread::spawn(move || {
            s.acquire_many_timeout(1, Duration::from_millis(5))
                .map(|p| p.num_permits())
        });
        assert_eq!(os.join().unwrap(), Err(AcquireError::Timeout));
        drop(p);
    });
}

#[test]
fn forget_and_release() {
    let sem = Semaphore::new(3);
    sem.acquire_many(2).unwrap().forget();
    assert_eq!(sem.available_permits(), 1);
    sem.release(2);
    assert_eq!(sem.available_permits(), 3);
    let r = std::panic::catch_unwind(|| sem.release(1));
    assert!(r.is_err(), "releasing more than was taken must panic");
    assert_eq!(sem.available_permits(), 3);
    assert_eq!(sem.size(), 3);
}
