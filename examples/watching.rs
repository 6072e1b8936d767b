//! The program of docs/watching.md: green threads in several wait states at once, then
//! `gogreen::stats()` and `gogreen::dump()` printed while they wait.
//!
//!     cargo run --release --example watching
//!     GOGREEN_SCHEDTRACE=40 GOGREEN_SCHEDDETAIL=1 cargo run --release --example watching

use gogreen::chan::bounded;
use gogreen::sync::{Mutex, WaitGroup};
use std::sync::Arc;
use std::time::Duration;

fn main() {
    gogreen::run(|| {
        let (tx, rx) = bounded::<u32>(0);
        let receiver = gogreen::Builder::new()
            .name("receiver")
            .spawn(move || rx.recv().unwrap_or(0))
            .unwrap();
        let wg = WaitGroup::new();
        wg.add(1);
        let wg2 = wg.clone();
        let waiter = gogreen::Builder::new()
            .name("waiter")
            .spawn(move || wg2.wait())
            .unwrap();
        let sleeper = gogreen::Builder::new()
            .name("sleeper")
            .spawn(|| gogreen::sleep(Duration::from_millis(300)))
            .unwrap();
        let lock = Arc::new(Mutex::new(0));
        let held = lock.lock().unwrap();
        let lock2 = lock.clone();
        let locker = gogreen::Builder::new()
            .name("locker")
            .spawn(move || *lock2.lock().unwrap() += 1)
            .unwrap();
        let blocker = gogreen::Builder::new()
            .name("blocker")
            .spawn(|| gogreen::blocking(|| std::thread::sleep(Duration::from_millis(200))))
            .unwrap();
        // Long enough for each of them to reach its wait.
        gogreen::sleep(Duration::from_millis(50));
        println!("{}", gogreen::stats());
        println!("{}", gogreen::dump());
        drop(held);
        tx.send(1).unwrap();
        wg.done();
        for h in [waiter, sleeper, locker, blocker] {
            h.join().unwrap();
        }
        receiver.join().unwrap();
    });
}
