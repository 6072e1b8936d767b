//! `Context`: cancellation down the tree, deadlines and timeouts fired by the runtime's
//! timer, `done()` in `select!`, and the parent's bookkeeping of its children; from OS
//! threads and green threads alike.

use gogreen::{CancelHandle, Context, ContextError, chan, select};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Runs `scenario` on this OS thread, then inside a green thread.
fn on_both(scenario: impl Fn() + Send + Sync) {
    scenario();
    gogreen::run(&scenario);
}

/// Blocks (or parks) until `ctx` ends, and returns its error.
fn wait_done(ctx: &Context) -> ContextError {
    assert!(ctx.done().recv().is_err(), "done() never carries a message");
    ctx.err().expect("done() closed, so err() is set")
}

#[test]
fn background_never_ends() {
    let bg = Context::background();
    assert_eq!(bg.err(), None);
    assert_eq!(bg.deadline(), None);
    assert!(!bg.is_done());
    let r = select! {
        recv(bg.done()) -> _ => "done",
        default => "still running",
    };
    assert_eq!(r, "still running");
}

#[test]
fn cancel_reaches_grandchildren_and_a_select_on_done() {
    on_both(|| {
        let (parent, cancel) = Context::background().with_cancel();
        let (child, _c1) = parent.with_cancel();
        let (grandchild, _c2) = child.with_cancel();
        let (sibling, _c3) = parent.with_timeout(Duration::from_secs(3600));
        assert_eq!(grandchild.err(), None);

        // Watchers of every kind, blocked in a select! on done() before the cancel.
        let watching = AtomicUsize::new(0);
        let (never_tx, never_rx) = chan::bounded::<()>(0);
        gogreen::scope(|s| {
            for ctx in [&parent, &child, &grandchild, &sibling] {
                let (watching, never_rx) = (&watching, &never_rx);
                s.spawn(move || {
                    watching.fetch_add(1, Ordering::SeqCst);
                    select! {
                        recv(never_rx) -> _ => panic!("nobody sends"),
                        recv(ctx.done()) -> msg => assert!(msg.is_err()),
                    }
                    assert_eq!(ctx.err(), Some(ContextError::Cancelled));
                });
            }
            while watching.load(Ordering::SeqCst) < 4 {
                gogreen::yield_now();
            }
            cancel.cancel();
        });
        drop(never_tx);
        for ctx in [&parent, &child, &grandchild, &sibling] {
            assert_eq!(ctx.err(), Some(ContextError::Cancelled));
        }
        // Cancelling again, or cancelling a child afterwards, changes nothing.
        cancel.cancel();
        _c1.cancel();
        assert_eq!(grandchild.err(), Some(ContextError::Cancelled));
    });
}

#[test]
fn cancelling_a_child_leaves_the_parent_running() {
    on_both(|| {
        let (parent, _cancel) = Context::background().with_cancel();
        let (child, cancel_child) = parent.with_cancel();
        let (grandchild, _c) = child.with_cancel();
        cancel_child.cancel();
        assert_eq!(wait_done(&grandchild), ContextError::Cancelled);
        assert_eq!(parent.err(), None);
        assert_eq!(parent.child_count(), 0, "a cancelled child leaves at once");
    });
}

#[test]
fn a_child_of_an_ended_context_starts_ended() {
    on_both(|| {
        let (parent, cancel) = Context::background().with_cancel();
        let done = parent.done().clone();
        cancel.cancel();
        assert!(done.recv().is_err());
        let (child, _c) = parent.with_timeout(Duration::from_secs(3600));
        assert_eq!(child.err(), Some(ContextError::Cancelled));
        assert!(child.done().recv().is_err());
        assert_eq!(parent.child_count(), 0);
    });
}

#[test]
fn a_deadline_fires_by_itself() {
    on_both(|| {
        let deadline = Instant::now() + Duration::from_millis(5);
        let (ctx, _cancel) = Context::background().with_deadline(deadline);
        let (child, _c) = ctx.with_cancel();
        assert_eq!(ctx.deadline(), Some(deadline));
        assert_eq!(child.deadline(), Some(deadline), "inherited");
        assert_eq!(wait_done(&child), ContextError::DeadlineExceeded);
        assert!(Instant::now() >= deadline);
        assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
    });
}

#[test]
fn a_timeout_fires_in_a_select() {
    on_both(|| {
        let start = Instant::now();
        let (ctx, _cancel) = Context::background().with_timeout(Duration::from_millis(3));
        let (_tx, rx) = chan::bounded::<u32>(0);
        let what = select! {
            recv(rx) -> _ => "message",
            recv(ctx.done()) -> _ => "timeout",
        };
        assert_eq!(what, "timeout");
        assert!(start.elapsed() >= Duration::from_millis(3));
        assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
    });
}

#[test]
fn an_earlier_deadline_registered_later_still_fires_first() {
    on_both(|| {
        // The timer first sleeps until the far deadline; the near one must wake it.
        let (far, _c1) = Context::background().with_timeout(Duration::from_secs(3600));
        let (near, _c2) = Context::background().with_timeout(Duration::from_millis(2));
        assert_eq!(wait_done(&near), ContextError::DeadlineExceeded);
        assert_eq!(far.err(), None);
    });
}

#[test]
fn a_passed_deadline_ends_the_context_at_once() {
    on_both(|| {
        let (ctx, _c) = Context::background().with_deadline(Instant::now());
        assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
        let (ctx, _c) = Context::background().with_timeout(Duration::ZERO);
        assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
    });
}

#[test]
fn the_parents_earlier_deadline_wins() {
    let (parent, _c1) = Context::background().with_timeout(Duration::from_millis(2));
    let later = Instant::now() + Duration::from_secs(3600);
    let (child, _c2) = parent.with_deadline(later);
    assert_eq!(child.deadline(), parent.deadline());
    assert_eq!(wait_done(&child), ContextError::DeadlineExceeded);
    // A child's own earlier deadline is kept.
    let (parent, _c3) = Context::background().with_timeout(Duration::from_secs(3600));
    let sooner = Instant::now() + Duration::from_millis(1);
    let (child, _c4) = parent.with_deadline(sooner);
    assert_eq!(child.deadline(), Some(sooner));
    assert_eq!(wait_done(&child), ContextError::DeadlineExceeded);
    assert_eq!(parent.err(), None);
}

#[test]
fn cancel_before_the_deadline_says_cancelled_for_good() {
    on_both(|| {
        let deadline = Instant::now() + Duration::from_millis(2);
        let (ctx, cancel) = Context::background().with_deadline(deadline);
        cancel.cancel();
        assert_eq!(wait_done(&ctx), ContextError::Cancelled);
        // Even once the deadline has passed (and the timer's entry came due).
        gogreen::sleep(Duration::from_millis(5));
        assert!(Instant::now() >= deadline);
        assert_eq!(ctx.err(), Some(ContextError::Cancelled));
    });
}

#[test]
fn many_deadlines_all_fire() {
    on_both(|| {
        let contexts: Vec<(Context, CancelHandle)> = (0..500)
            .rev()
            .map(|i| Context::background().with_timeout(Duration::from_micros(i * 20)))
            .collect();
        for (ctx, _) in &contexts {
            assert_eq!(wait_done(ctx), ContextError::DeadlineExceeded);
            assert!(Instant::now() >= ctx.deadline().unwrap());
        }
    });
}

#[test]
fn dropped_children_leave_the_parents_list() {
    on_both(|| {
        let (parent, _cancel) = Context::background().with_cancel();
        let kept: Vec<_> = (0..10).map(|_| parent.with_cancel()).collect();
        for i in 0..10_000 {
            let (child, cancel) = if i % 2 == 0 {
                parent.with_cancel()
            } else {
                parent.with_timeout(Duration::from_secs(3600))
            };
            let (grandchild, _) = child.with_cancel();
            assert_eq!(parent.child_count(), 11);
            drop(child);
            // The grandchild keeps its parent, and so its place in the list.
            assert_eq!(parent.child_count(), 11);
            drop(grandchild);
            assert_eq!(parent.child_count(), 10);
            cancel.cancel(); // nothing left to cancel
        }
        // A clone keeps a child; the cancel handle does not.
        let (child, cancel) = parent.with_cancel();
        let clone = child.clone();
        drop(child);
        assert_eq!(parent.child_count(), 11);
        drop(clone);
        assert_eq!(parent.child_count(), 10);
        drop(cancel);
        drop(kept);
        assert_eq!(parent.child_count(), 0);
    });
}

#[test]
fn a_long_chain_ends_and_drops_without_deep_recursion() {
    // On a green thread's small stack: recursion per level would overflow it.
    gogreen::run(|| {
        let (root, cancel) = Context::background().with_cancel();
        let mut leaf = root.clone();
        let mut handles = Vec::new();
        for _ in 0..100_000 {
            let (next, c) = leaf.with_cancel();
            handles.push(c);
            leaf = next;
        }
        cancel.cancel();
        assert_eq!(leaf.err(), Some(ContextError::Cancelled));
        drop(root);
        drop(leaf); // the whole chain goes here
        for h in &handles {
            h.cancel(); // nothing left to cancel
        }
    });
}

#[test]
fn cancel_does_not_wait_for_receivers_or_children() {
    on_both(|| {
        // A thousand children, each with a done channel nobody receives from.
        let (parent, cancel) = Context::background().with_cancel();
        let children: Vec<_> = (0..1000)
            .map(|_| {
                let (c, h) = parent.with_cancel();
                let _ = c.done();
                (c, h)
            })
            .collect();
        cancel.cancel();
        assert!(children.iter().all(|(c, _)| c.is_done()));
    });
}

#[test]
fn contexts_and_handles_cross_threads() {
    let (ctx, cancel) = Context::background().with_cancel();
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let ctx = ctx.clone();
            std::thread::spawn(move || wait_done(&ctx))
        })
        .collect();
    let green: Vec<_> = (0..100)
        .map(|_| {
            let ctx = ctx.clone();
            gogreen::spawn(move || wait_done(&ctx))
        })
        .collect();
    std::thread::spawn(move || cancel.cancel()).join().unwrap();
    for w in waiters {
        assert_eq!(w.join().unwrap(), ContextError::Cancelled);
    }
    for g in green {
        assert_eq!(g.join().unwrap(), ContextError::Cancelled);
    }
}

#[test]
fn errors_read_like_gos() {
    assert_eq!(ContextError::Cancelled.to_string(), "context cancelled");
    assert_eq!(
        ContextError::DeadlineExceeded.to_string(),
        "context deadline exceeded"
    );
    let e: Box<dyn std::error::Error + Send + Sync> = ContextError::Cancelled.into();
    assert_eq!(e.to_string(), "context cancelled");
}

#[test]
fn deadlines_cost_no_green_thread_each() {
    // One timer thread serves every context: ten thousand pending deadlines do not
    // make ten thousand green threads (G headers only grow with the peak of live
    // green threads; the other tests of this binary add a few hundred at most).
    let _ = Context::background().with_timeout(Duration::from_secs(3600));
    let before = gogreen::stats().g_headers;
    let pending: Vec<_> = (0..10_000)
        .map(|_| Context::background().with_timeout(Duration::from_secs(3600)))
        .collect();
    assert!(gogreen::stats().g_headers - before < 5_000);
    for (ctx, cancel) in &pending {
        cancel.cancel();
        assert_eq!(ctx.err(), Some(ContextError::Cancelled));
    }
}
