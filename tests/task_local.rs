//! Task-local storage follows its task across OS threads, and is dropped with it.

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

gogreen::task_local! {
    static COUNTER: Cell<u64> = Cell::new(0);
    static LOG: RefCell<Vec<u64>> = RefCell::new(Vec::new());
}

#[test]
fn each_task_has_its_own_value_across_switches() {
    let hs: Vec<_> = (0..200u64)
        .map(|i| {
            gogreen::spawn(move || {
                for _ in 0..50 {
                    COUNTER.with(|c| c.set(c.get() + i));
                    // Park and resume, possibly on another OS thread.
                    gogreen::yield_now();
                    gogreen::sleep(std::time::Duration::from_micros(10));
                }
                COUNTER.with(Cell::get)
            })
        })
        .collect();
    for (i, h) in hs.into_iter().enumerate() {
        assert_eq!(h.join().unwrap(), 50 * i as u64);
    }
}

#[test]
fn a_fresh_task_starts_from_the_initial_value() {
    // Headers and stacks are recycled; their task-locals are not.
    for _ in 0..1000 {
        let v = gogreen::spawn(|| {
            let before = COUNTER.with(Cell::get);
            COUNTER.with(|c| c.set(99));
            before
        })
        .join()
        .unwrap();
        assert_eq!(v, 0);
    }
}

#[test]
fn values_are_dropped_before_join_returns() {
    struct Flag(Arc<AtomicUsize>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    gogreen::task_local! {
        static FLAG: RefCell<Option<Flag>> = RefCell::new(None);
    }
    let dropped = Arc::new(AtomicUsize::new(0));
    let d = dropped.clone();
    gogreen::spawn(move || FLAG.with(|f| *f.borrow_mut() = Some(Flag(d))))
        .join()
        .unwrap();
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
}

#[test]
fn initialisers_may_use_other_task_locals() {
    gogreen::task_local! {
        static BASE: u64 = 40;
        static DERIVED: u64 = BASE.with(|b| b + 2);
    }
    assert_eq!(gogreen::run(|| DERIVED.with(|d| *d)), 42);
    // On a plain OS thread they are per thread.
    assert_eq!(DERIVED.with(|d| *d), 42);
    LOG.with(|l| l.borrow_mut().push(1));
    assert_eq!(
        std::thread::spawn(|| LOG.with(|l| l.borrow().len()))
            .join()
            .unwrap(),
        0
    );
}
