//! `gogreen::sync::RwLock`: readers share, writers are alone, queued writers are not
//! starved by readers, and poisoning follows std.

use gogreen::sync::{RwLock, RwLockWriteGuard, TryLockError};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Data behind the lock, and witnesses of who is inside.
struct Shared {
    lock: RwLock<u64>,
    readers: AtomicUsize,
    writers: AtomicUsize,
}

impl Shared {
    fn new() -> Arc<Self> {
        Arc::new(Shared {
            lock: RwLock::new(0),
            readers: AtomicUsize::new(0),
            writers: AtomicUsize::new(0),
        })
    }

    fn write(&self) {
        let mut g = self.lock.write().unwrap();
        assert_eq!(
            self.writers.fetch_add(1, Ordering::SeqCst),
            0,
            "two writers"
        );
        assert_eq!(
            self.readers.load(Ordering::SeqCst),
            0,
            "a reader beside a writer"
        );
        *g += 1;
        self.writers.fetch_sub(1, Ordering::SeqCst);
    }

    fn read(&self) -> u64 {
        let g = self.lock.read().unwrap();
        self.readers.fetch_add(1, Ordering::SeqCst);
        assert_eq!(
            self.writers.load(Ordering::SeqCst),
            0,
            "a writer beside a reader"
        );
        let v = *g;
        self.readers.fetch_sub(1, Ordering::SeqCst);
        v
    }
}

/// Writers and readers, green threads and OS threads: every write counts, nobody
/// writes beside anyone else.
#[test]
fn readers_and_writers_of_both_kinds() {
    const WRITES: u64 = 500;
    let s = Shared::new();
    let mut green = Vec::new();
    let mut os = Vec::new();
    for i in 0..12 {
        let s = s.clone();
        green.push(gogreen::spawn(move || {
            for j in 0..WRITES {
                if (i + j) % 3 == 0 {
                    s.write();
                } else {
                    s.read();
                }
                if j % 50 == 0 {
                    gogreen::yield_now();
                }
            }
        }));
    }
    for i in 0..3 {
        let s = s.clone();
        os.push(std::thread::spawn(move || {
            for j in 0..WRITES {
                if (i + j) % 3 == 0 {
                    s.write();
                } else {
                    s.read();
                }
            }
        }));
    }
    for t in green {
        t.join().unwrap();
    }
    for t in os {
        t.join().unwrap();
    }
    // How many writes each worker made: (i + j) % 3 == 0 for j in 0..WRITES.
    let expected: u64 = (0..15u64)
        .map(|i| {
            let i = if i < 12 { i } else { i - 12 };
            (0..WRITES).filter(|j| (i + j) % 3 == 0).count() as u64
        })
        .sum();
    assert_eq!(s.read(), expected);
}

/// Many read guards can be out at once, from green threads that park holding them.
#[test]
fn readers_hold_together() {
    let lock = Arc::new(RwLock::new(()));
    let n = 10;
    let inside = Arc::new(gogreen::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (lock, inside) = (lock.clone(), inside.clone());
            // Each holds its read guard until all n hold one: only possible if they
            // share the lock.
            gogreen::spawn(move || {
                let _g = lock.read().unwrap();
                inside.wait();
            })
        })
        .collect();
    for t in tasks {
        t.join().unwrap();
    }
}

/// A writer queued behind readers gets in even while new readers keep coming: readers
/// that arrive after it queue behind it.
#[test]
fn a_stream_of_readers_does_not_starve_a_writer() {
    let lock = Arc::new(RwLock::new(0u32));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicUsize::new(0));
    let readers: Vec<_> = (0..6)
        .map(|_| {
            let (lock, stop, started) = (lock.clone(), stop.clone(), started.clone());
            gogreen::spawn(move || {
                let mut reads = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let g = lock.read().unwrap();
                    if reads == 0 {
                        started.fetch_add(1, Ordering::SeqCst);
                    }
                    reads += 1;
                    gogreen::yield_now(); // hold it across a switch
                    drop(g);
                }
                reads
            })
        })
        .collect();
    // Every reader is in its loop: read guards are out nearly all the time.
    while started.load(Ordering::SeqCst) < 6 {
        std::thread::yield_now();
    }
    for _ in 0..50 {
        *lock.write().unwrap() += 1;
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
    assert_eq!(*lock.read().unwrap(), 50);
}

#[test]
fn try_read_and_try_write() {
    let lock = RwLock::new(1);
    {
        let r = lock.read().unwrap();
        assert_eq!(*lock.try_read().unwrap(), 1);
        assert!(matches!(lock.try_write(), Err(TryLockError::WouldBlock)));
        drop(r);
    }
    let w = lock.try_write().unwrap();
    assert!(matches!(lock.try_read(), Err(TryLockError::WouldBlock)));
    assert!(matches!(lock.try_write(), Err(TryLockError::WouldBlock)));
    drop(w);
    assert_eq!(
        format!("{lock:?}"),
        "RwLock { data: 1, poisoned: false, .. }"
    );
}

/// `downgrade` keeps the lock from writers in between, and lets readers in.
#[test]
fn downgrade_keeps_writers_out() {
    let lock = Arc::new(RwLock::new(0));
    let mut w = lock.write().unwrap();
    *w = 1;
    let l2 = lock.clone();
    let writer = gogreen::spawn(move || {
        *l2.write().unwrap() = 2;
    });
    let r = RwLockWriteGuard::downgrade(w);
    // The writer may be queued or not yet started; either way it cannot have written.
    gogreen::sleep(std::time::Duration::from_millis(1));
    assert_eq!(*r, 1);
    let l3 = lock.clone();
    drop(r);
    writer.join().unwrap();
    assert_eq!(*l3.read().unwrap(), 2);
}

#[test]
fn a_panicking_writer_poisons_a_panicking_reader_does_not() {
    let lock = Arc::new(RwLock::new(0));
    let l = lock.clone();
    assert!(
        gogreen::spawn(move || {
            let _r = l.read().unwrap();
            panic!("reader panics");
        })
        .join()
        .is_err()
    );
    assert!(!lock.is_poisoned());
    let l = lock.clone();
    assert!(
        gogreen::spawn(move || {
            let mut w = l.write().unwrap();
            *w = 7;
            panic!("writer panics");
        })
        .join()
        .is_err()
    );
    assert!(lock.is_poisoned());
    assert_eq!(*lock.read().unwrap_err().into_inner(), 7);
    assert!(matches!(lock.try_write(), Err(TryLockError::Poisoned(_))));
    lock.clear_poison();
    assert_eq!(*lock.write().unwrap(), 7);
    let lock = Arc::try_unwrap(lock).unwrap();
    assert_eq!(lock.into_inner().unwrap(), 7);
}
