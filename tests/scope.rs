//! `run` and `scope` borrow from their caller: everything is joined before they return,
//! panics included; called from OS threads and from green threads alike.

use gogreen::chan;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Runs `scenario` on this OS thread, then inside a green thread.
fn on_both(scenario: impl Fn() + Send + Sync) {
    scenario();
    gogreen::run(&scenario);
}

fn panic_message(payload: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic>".into()
    }
}

#[test]
fn run_borrows_from_its_caller() {
    on_both(|| {
        let data: Vec<u64> = (1..=100).collect();
        let sum: u64 = gogreen::run(|| data.iter().sum());
        assert_eq!(sum, 5050);

        let mut log = Vec::new();
        gogreen::run(|| log.push(gogreen::current().is_some()));
        assert_eq!(log, [true]);

        // The result may borrow too.
        let text = String::from("green thread");
        let word: &str = gogreen::run(|| text.split(' ').nth(1).unwrap());
        assert_eq!(word, "thread");
    });
}

#[test]
fn run_carries_the_panic_of_its_closure() {
    on_both(|| {
        let touched = AtomicBool::new(false);
        let err = catch_unwind(AssertUnwindSafe(|| {
            gogreen::run(|| {
                touched.store(true, Ordering::Relaxed);
                panic!("inside run");
            })
        }))
        .unwrap_err();
        assert_eq!(panic_message(&err), "inside run");
        assert!(touched.load(Ordering::Relaxed));
    });
}

#[test]
fn scoped_threads_borrow_and_write_disjoint_parts() {
    on_both(|| {
        let mut cells = vec![0u64; 1000];
        let base = 7u64;
        gogreen::scope(|s| {
            for (i, chunk) in cells.chunks_mut(10).enumerate() {
                s.spawn(move || {
                    for c in chunk.iter_mut() {
                        *c = base + i as u64;
                        gogreen::yield_now();
                    }
                });
            }
        });
        for (i, c) in cells.iter().enumerate() {
            assert_eq!(*c, base + (i / 10) as u64);
        }
    });
}

#[test]
fn join_returns_values_that_borrow() {
    on_both(|| {
        let words = ["alpha", "beta", "gamma"];
        let firsts: Vec<&str> = gogreen::scope(|s| {
            let handles: Vec<_> = words.iter().map(|w| s.spawn(move || &w[..1])).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(firsts, ["a", "b", "g"]);
    });
}

/// Threads that are still running when the body ends (by returning or panicking) are
/// waited for: they wait at a gate that an outside OS thread opens only once all of
/// them have arrived, so `scope` cannot have returned before they finish unless it
/// failed to wait.
fn scope_waits_for_stragglers(body_panics: bool) {
    const N: usize = 50;
    let arrived = AtomicUsize::new(0);
    let finished = AtomicUsize::new(0);
    let (open, gate) = chan::bounded::<()>(0);
    let mut outcome = Ok(());
    std::thread::scope(|os| {
        os.spawn(|| {
            while arrived.load(Ordering::SeqCst) < N {
                std::thread::yield_now();
            }
            drop(open);
        });
        outcome = catch_unwind(AssertUnwindSafe(|| {
            gogreen::scope(|s| {
                for _ in 0..N {
                    s.spawn(|| {
                        arrived.fetch_add(1, Ordering::SeqCst);
                        assert!(gate.recv().is_err(), "the gate only closes");
                        finished.fetch_add(1, Ordering::SeqCst);
                    });
                }
                if body_panics {
                    panic!("the body panics");
                }
            })
        }));
        assert_eq!(
            finished.load(Ordering::SeqCst),
            N,
            "scope returned before its threads"
        );
    });
    match outcome {
        Ok(()) => assert!(!body_panics),
        Err(payload) => {
            assert!(body_panics);
            assert_eq!(
                panic_message(&payload),
                "the body panics",
                "the body's own panic"
            );
        }
    }
}

#[test]
fn scope_joins_everything_when_the_body_returns() {
    on_both(|| scope_waits_for_stragglers(false));
}

#[test]
fn scope_joins_everything_even_when_the_body_panics() {
    on_both(|| scope_waits_for_stragglers(true));
}

#[test]
fn an_unjoined_panic_makes_the_scope_panic() {
    on_both(|| {
        let err = catch_unwind(|| {
            gogreen::scope(|s| {
                s.spawn(|| panic!("in a scoped thread"));
            })
        })
        .unwrap_err();
        assert_eq!(
            panic_message(&err),
            "a scoped green thread panicked and was not joined"
        );
    });
}

#[test]
fn a_joined_panic_is_the_joiners_alone() {
    on_both(|| {
        let v = gogreen::scope(|s| {
            let h = s.spawn(|| -> u32 { panic!("joined") });
            let err = h.join().unwrap_err();
            assert_eq!(panic_message(&err), "joined");
            42
        });
        assert_eq!(v, 42);
    });
}

#[test]
fn threads_spawn_more_threads_through_the_scope_and_scopes_nest() {
    on_both(|| {
        let total = AtomicUsize::new(0);
        gogreen::scope(|s| {
            for _ in 0..10 {
                s.spawn(|| {
                    for _ in 0..10 {
                        s.spawn(|| total.fetch_add(1, Ordering::Relaxed));
                    }
                    // A scope inside a scoped thread, borrowing from both levels.
                    let local = 100;
                    gogreen::scope(|inner| {
                        inner.spawn(|| total.fetch_add(local, Ordering::Relaxed));
                    });
                });
            }
        });
        assert_eq!(total.load(Ordering::Relaxed), 10 * 10 + 10 * 100);
    });
}

#[test]
fn results_of_detached_threads_are_dropped_inside_the_scope() {
    struct CountsOnDrop<'a>(&'a AtomicUsize);
    impl Drop for CountsOnDrop<'_> {
        fn drop(&mut self) {
            gogreen::yield_now();
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    on_both(|| {
        let dropped = AtomicUsize::new(0);
        let (open, gate) = chan::bounded::<()>(0);
        gogreen::scope(|s| {
            for _ in 0..20 {
                // The handle is dropped at once: the thread drops its own result.
                s.spawn(|| {
                    let _ = gate.recv();
                    CountsOnDrop(&dropped)
                });
            }
            drop(open);
        });
        assert_eq!(dropped.load(Ordering::SeqCst), 20);
    });
}

#[test]
fn handles_report_finished_and_their_task() {
    on_both(|| {
        let (tx, rx) = chan::bounded::<u32>(0);
        gogreen::scope(|s| {
            let h = gogreen::Builder::new()
                .name("scoped-worker")
                .spawn_scoped(s, || rx.recv().unwrap() * 2)
                .unwrap();
            assert_eq!(h.task().name(), Some("scoped-worker"));
            assert!(!h.is_finished(), "it waits for a message nobody sent yet");
            tx.send(21).unwrap();
            while !h.is_finished() {
                gogreen::yield_now();
            }
            assert_eq!(h.join().unwrap(), 42);
        });
    });
}

#[test]
fn a_failed_scoped_spawn_is_an_error_and_the_scope_still_ends() {
    on_both(|| {
        let data = [1, 2, 3];
        gogreen::scope(|s| {
            let err = gogreen::Builder::new()
                .stack_size(1)
                .spawn_scoped(s, || data.len())
                .unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
            assert_eq!(s.spawn(|| data.len()).join().unwrap(), 3);
        });
    });
}

#[test]
fn many_scoped_threads() {
    on_both(|| {
        let counter = AtomicUsize::new(0);
        gogreen::scope(|s| {
            for _ in 0..10_000 {
                s.spawn(|| counter.fetch_add(1, Ordering::Relaxed));
            }
        });
        assert_eq!(counter.load(Ordering::Relaxed), 10_000);
    });
}

#[test]
fn a_scope_inside_many_green_threads_at_once() {
    let totals: Vec<usize> = (0..50)
        .map(|i| {
            gogreen::spawn(move || {
                let parts = vec![i; 8];
                let sum = AtomicUsize::new(0);
                gogreen::scope(|s| {
                    for p in &parts {
                        s.spawn(|| sum.fetch_add(*p, Ordering::Relaxed));
                    }
                });
                sum.into_inner()
            })
        })
        .map(|h| h.join().unwrap())
        .collect();
    assert_eq!(totals, (0..50).map(|i| i * 8).collect::<Vec<_>>());
}

#[test]
fn a_handle_is_joined_from_another_scoped_thread() {
    on_both(|| {
        let text = String::from("handed over");
        let len = gogreen::scope(|s| {
            let worker = s.spawn(|| text.len());
            let joiner = s.spawn(move || worker.join().unwrap());
            joiner.join().unwrap()
        });
        assert_eq!(len, 11);
    });
}
