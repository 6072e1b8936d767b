//! Task-local storage follows its task across OS threads, and is dropped with it.

mod common;

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

/// A value whose `Drop` reads its own key: std refuses that during a thread's
/// teardown, and so does gogreen — it used to re-create the value, whose `Drop`
/// re-created it again, for ever.
struct TouchesItself;

impl Drop for TouchesItself {
    fn drop(&mut self) {
        SELF_TOUCH_SEEN.fetch_add(1, Ordering::SeqCst);
        assert!(SELF_TOUCHING.try_with(|_| ()).is_err());
        // `with` panics instead; the panic becomes the task's.
        SELF_TOUCHING.with(|_| ());
    }
}

static SELF_TOUCH_SEEN: AtomicUsize = AtomicUsize::new(0);

gogreen::task_local! {
    static SELF_TOUCHING: TouchesItself = TouchesItself;
    static OTHER: Cell<u32> = Cell::new(7);
}

#[test]
fn a_value_cannot_come_back_while_its_task_tears_down() {
    let (tx, rx) = std::sync::mpsc::channel();
    // A watchdog thread, so that a regression (an endless teardown) fails the test
    // instead of hanging the suite.
    std::thread::spawn(move || {
        let h = gogreen::spawn(|| {
            OTHER.with(|o| o.set(8));
            SELF_TOUCHING.with(|_| ());
            "returned"
        });
        tx.send(h.join()).unwrap();
    });
    let joined = rx
        .recv_timeout(common::PATIENCE)
        .expect("the task's teardown never ended");
    let payload = joined.expect_err("a panic in a task-local's Drop is the task's panic");
    let msg = payload
        .downcast_ref::<String>()
        .expect("a formatted panic message");
    assert!(msg.contains("being dropped"), "{msg}");
    assert_eq!(SELF_TOUCH_SEEN.load(Ordering::SeqCst), 1);
}

/// During teardown a `Drop` may still read a value that is not dropped yet (values go
/// newest first).
struct ReadsOther;

impl Drop for ReadsOther {
    fn drop(&mut self) {
        // OTHER2 was made first, so it is dropped after this one: still there.
        assert_eq!(OTHER2.with(Cell::get), 9);
    }
}

gogreen::task_local! {
    static OTHER2: Cell<u32> = Cell::new(9);
    static READS_OTHER: ReadsOther = ReadsOther;
}

#[test]
fn a_drop_may_read_a_value_not_yet_dropped() {
    let h = gogreen::spawn(|| {
        OTHER2.with(|_| ());
        READS_OTHER.with(|_| ());
    });
    h.join().unwrap();
}
