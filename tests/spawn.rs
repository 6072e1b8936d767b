//! Spawning and joining green threads, from green threads and from OS threads.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[test]
fn spawn_join_from_os_thread() {
    let h = gogreen::spawn(|| 40 + 2);
    assert_eq!(h.join().unwrap(), 42);
}

#[test]
fn spawn_join_from_green_thread() {
    let v = gogreen::run(|| {
        let hs: Vec<_> = (0..100u64).map(|i| gogreen::spawn(move || i * 2)).collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    assert_eq!(v, (0..100u64).map(|i| i * 2).sum());
}

#[test]
fn many_spawns_all_run() {
    let n = 100_000;
    let count = Arc::new(AtomicUsize::new(0));
    let wg = gogreen::sync::WaitGroup::new();
    for _ in 0..n {
        wg.add(1);
        let (c, wg) = (count.clone(), wg.clone());
        gogreen::spawn(move || {
            c.fetch_add(1, Ordering::Relaxed);
            wg.done();
        });
    }
    wg.wait();
    assert_eq!(count.load(Ordering::Relaxed), n);
}
