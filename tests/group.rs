//! `Group`: the first error cancels the others and is returned, a panic reaches the
//! waiter, and nothing is left running; waited for from OS threads and green threads.

use gogreen::{Context, ContextError, Group, chan, select};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Runs `scenario` on this OS thread, then inside a green thread.
fn on_both(scenario: impl Fn() + Send + Sync) {
    scenario();
    gogreen::run(&scenario);
}

/// A member that waits for work that never comes, until the group gives up; counts
/// itself in `stopped` when it sees the cancellation.
fn idle_member(stopped: &Arc<AtomicUsize>) -> impl FnOnce(Context) -> Result<(), String> + use<> {
    let stopped = Arc::clone(stopped);
    move |ctx| {
        let (_keep, work) = chan::bounded::<u32>(0);
        select! {
            recv(work) -> _ => unreachable!("nobody sends"),
            recv(ctx.done()) -> _ => {
                assert_eq!(ctx.err(), Some(ContextError::Cancelled));
                stopped.fetch_add(1, Ordering::SeqCst);
                Err("stopped".to_string())
            }
        }
    }
}

#[test]
fn all_succeed() {
    on_both(|| {
        let group = Group::<String>::new();
        let sum = Arc::new(AtomicUsize::new(0));
        for i in 1..=100 {
            let sum = Arc::clone(&sum);
            group.spawn(move |_| {
                gogreen::yield_now();
                sum.fetch_add(i, Ordering::SeqCst);
                Ok(())
            });
        }
        let ctx = group.context().clone();
        assert_eq!(group.wait(), Ok(()));
        assert_eq!(sum.load(Ordering::SeqCst), 5050, "wait waited for everyone");
        assert_eq!(
            ctx.err(),
            Some(ContextError::Cancelled),
            "over once waited for"
        );
    });
}

#[test]
fn the_first_error_is_returned_and_cancels_the_rest() {
    on_both(|| {
        let group = Group::new();
        let stopped = Arc::new(AtomicUsize::new(0));
        for _ in 0..20 {
            group.spawn(idle_member(&stopped));
        }
        group.spawn(|_| Err("the first failure".to_string()));
        for _ in 0..20 {
            group.spawn(idle_member(&stopped));
        }
        assert_eq!(group.wait(), Err("the first failure".to_string()));
        assert_eq!(
            stopped.load(Ordering::SeqCst),
            40,
            "every other member saw done()"
        );
    });
}

#[test]
fn only_the_first_of_many_errors_comes_back() {
    on_both(|| {
        let group = Group::new();
        let (go_tx, go) = chan::bounded::<()>(0);
        let (first_tx, first) = chan::bounded::<()>(0);
        // Member 0 fails first; the others fail only after it has (they wait for the
        // group's cancellation, which only member 0 can have caused).
        group.spawn(move |_| {
            let _ = go.recv();
            drop(first_tx);
            Err(0)
        });
        for i in 1..10 {
            let first = first.clone();
            group.spawn(move |ctx| {
                let _ = first.recv();
                let _ = ctx.done().recv();
                Err(i)
            });
        }
        drop(go_tx);
        assert_eq!(group.wait(), Err(0));
    });
}

#[test]
fn a_panic_reaches_the_waiter_and_cancels_the_rest() {
    on_both(|| {
        let group = Group::new();
        let stopped = Arc::new(AtomicUsize::new(0));
        for _ in 0..10 {
            group.spawn(idle_member(&stopped));
        }
        group.spawn(|_| panic!("member panicked"));
        let payload = catch_unwind(AssertUnwindSafe(|| group.wait())).unwrap_err();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"member panicked"));
        assert_eq!(stopped.load(Ordering::SeqCst), 10);
    });
}

#[test]
fn the_parent_context_cancels_the_group() {
    on_both(|| {
        let (parent, cancel) = Context::background().with_cancel();
        let group = Group::with_context(&parent);
        let stopped = Arc::new(AtomicUsize::new(0));
        for _ in 0..10 {
            group.spawn(idle_member(&stopped));
        }
        cancel.cancel();
        assert_eq!(group.wait(), Err("stopped".to_string()));
        assert_eq!(stopped.load(Ordering::SeqCst), 10);
    });
}

#[test]
fn dropping_a_group_cancels_its_members() {
    on_both(|| {
        let stopped = Arc::new(AtomicUsize::new(0));
        let wg = gogreen::sync::WaitGroup::new();
        {
            let group = Group::new();
            for _ in 0..10 {
                let (member, wg) = (idle_member(&stopped), wg.clone());
                wg.add(1);
                group.spawn(move |ctx| {
                    let r = member(ctx);
                    wg.done();
                    r
                });
            }
        }
        wg.wait();
        assert_eq!(stopped.load(Ordering::SeqCst), 10);
    });
}

#[test]
fn a_failed_spawn_is_an_error_and_does_not_count() {
    on_both(|| {
        let group = Group::<()>::new();
        let err = group
            .spawn_with(gogreen::Builder::new().stack_size(1), |_| Ok(()))
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        let ctx = group.context().clone();
        group
            .spawn_with(gogreen::Builder::new().name("member"), |_| Ok(()))
            .unwrap();
        assert_eq!(ctx.err(), None, "a failed spawn cancels nothing");
        assert_eq!(group.wait(), Ok(()));
    });
}

#[test]
fn many_members() {
    on_both(|| {
        let group = Group::<usize>::new();
        for i in 0..5_000 {
            group.spawn(move |_| if i == 4_000 { Err(i) } else { Ok(()) });
        }
        assert_eq!(group.wait(), Err(4_000));
    });
}
