//! loom model of the global run queue (`gogreen::inject`): concurrent `push`,
//! `push_batch` and `pop_n`.
//!
//! The global queue is a ring of G pointers under a mutex, with its length mirrored in an
//! atomic that the scheduler reads without the lock (every 61 ticks, and in the idle
//! protocol's T1 and T4, where "is the global queue empty?" decides whether an M may
//! sleep). So the model checks two things: every item pushed comes out exactly once,
//! in FIFO order per producer and with batches kept contiguous; and the lock-free
//! `len()` never claims an item that is not there nor misses one that is — at rest it
//! equals the number of items still queued, and a consumer that saw `len() == 0` after
//! every producer finished finds the queue really empty.
#![cfg(loom)]

mod sched_common;

use gogreen::inject::Inject;
use loom::sync::Arc;
use loom::thread;
use sched_common::{Start, check};

/// A queued item: its identity.
struct Node {
    id: usize,
}

fn node(id: usize) -> *mut Node {
    Box::into_raw(Box::new(Node { id }))
}

/// Takes back ownership of a node that came out of the queue; a node obtained twice
/// would be freed twice, which loom's leak and access tracking also reports.
fn take(p: *mut Node) -> usize {
    // SAFETY: the queue handed `p` over, and it was made by `node`.
    unsafe { Box::from_raw(p) }.id
}

/// Once every thread is joined: checks that the lock-free `len()` agrees with the list
/// and drains it. `pop_n` trusts the mirror (it returns at once when `len()` is 0), so
/// the list is reached through a sentinel pushed last: draining must yield exactly the
/// `len()` items queued, then the sentinel.
fn drain_at_rest(q: &Inject<Node>) -> Vec<usize> {
    const SENTINEL: usize = 1000;
    let left = q.len();
    q.push(node(SENTINEL));
    let mut rest = Vec::new();
    let n = q.pop_n(usize::MAX, |p| rest.push(take(p)));
    assert_eq!(n, rest.len());
    assert_eq!(
        rest.pop(),
        Some(SENTINEL),
        "len() was {left}, list held {rest:?}"
    );
    assert_eq!(rest.len(), left, "len() was {left}, list held {rest:?}");
    assert!(q.is_empty() && q.pop().is_none());
    rest
}

/// One producer pushes an item, another pushes a batch of two, a consumer pops up to two
/// at a time, concurrently; `main` drains the rest.
///
/// Items 1 (alone) and 2, 3 (a batch) must each come out once; 2 before 3, and nothing
/// between them (a batch is appended under one lock). `len()` read at rest must match.
#[test]
fn push_batch_pop_n() {
    check("push_batch_pop_n", |start: Start| {
        let q = Arc::new(Inject::<Node>::new());

        let single = {
            let q = q.clone();
            thread::spawn(move || q.push(node(1)))
        };
        let batch = {
            let q = q.clone();
            thread::spawn(move || q.push_batch([node(2), node(3)]))
        };

        start.spawned();
        let mut got = Vec::new();
        let n = q.pop_n(2, |p| got.push(take(p)));
        assert_eq!(n, got.len());
        assert!(n <= 2);

        single.join().unwrap();
        batch.join().unwrap();

        let left = q.len();
        assert_eq!(left, 3 - got.len(), "len() {left} after popping {got:?}");
        let rest = drain_at_rest(&q);

        let mut all = got.clone();
        all.extend(&rest);
        let mut sorted = all.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [1, 2, 3], "got {got:?} then {rest:?}");
        let pos = |id| all.iter().position(|&x| x == id).unwrap();
        assert_eq!(
            pos(3),
            pos(2) + 1,
            "batch split or reordered: {got:?} then {rest:?}"
        );
    });
}

/// Two consumers race for the items of one producer: each item goes to exactly one,
/// each consumer sees them in FIFO order, and once the producer is joined, `len()`
/// matches the list.
#[test]
fn two_consumers() {
    check("two_consumers", |start: Start| {
        let q = Arc::new(Inject::<Node>::new());

        let producer = {
            let q = q.clone();
            thread::spawn(move || {
                q.push(node(1));
                q.push(node(2));
            })
        };
        let consumer = {
            let q = q.clone();
            thread::spawn(move || {
                let mut got = Vec::new();
                q.pop_n(2, |p| got.push(take(p)));
                got
            })
        };

        start.spawned();
        let mut mine = Vec::new();
        if let Some(p) = q.pop() {
            mine.push(take(p));
        }
        producer.join().unwrap();
        let theirs = consumer.join().unwrap();

        let rest = drain_at_rest(&q);

        for v in [&mine, &theirs] {
            assert!(v.windows(2).all(|w| w[0] < w[1]), "FIFO broken: {v:?}");
        }
        let mut all: Vec<usize> = mine.iter().chain(&theirs).chain(&rest).copied().collect();
        all.sort_unstable();
        assert_eq!(
            all,
            [1, 2],
            "mine {mine:?}, theirs {theirs:?}, rest {rest:?}"
        );
    });
}
