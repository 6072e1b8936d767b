//! loom models of a processor's local run queue (`gogreen::queue`): the owner's push,
//! pop and `runnext`, a thief's `steal_into`, sysmon's `take_runnext`, and the
//! overflow that hands half the ring to the global queue.
//!
//! The property every model checks is the one the scheduler lives on: **each G pushed
//! is obtained exactly once, by exactly one party** — the owner's pop, a thief's
//! batch, an overflow batch, or a `runnext` take. A lost G never runs (its joiner
//! hangs); a duplicated G runs on two Ms at once, on one stack. Where the order is
//! promised, it is checked too: the owner pops oldest first, a thief takes the oldest
//! half, an overflow batch is the oldest half followed by the item being pushed.
//!
//! Items are indices `1..=n` disguised as pointers: the queue never dereferences what
//! it holds, so no allocation is needed, and each party returns the indices it got
//! for `main` to tally. Under loom the ring holds `CAPACITY` = 4 items, so a handful of
//! pushes reaches the full ring and the wrap-around of the slot index.
#![cfg(loom)]

mod sched_common;

use gogreen::queue::{CAPACITY, Local, RunQueue};
use loom::sync::Arc;
use loom::thread;
use sched_common::{Outcomes, Start, check};

type Item = u8;

fn item(i: usize) -> *mut Item {
    assert!(i > 0, "index 0 would be the null pointer");
    std::ptr::without_provenance_mut(i)
}

fn index(p: *mut Item) -> usize {
    p.addr()
}

/// The owner's handle of `q`.
fn local(q: &RunQueue<Item>) -> Local<'_, Item> {
    // SAFETY: each model gives a queue's owner role to exactly one loom thread, which
    // makes one `Local` at a time.
    unsafe { q.local() }
}

/// Asserts that `got` holds each of `1..=n` exactly once.
fn assert_exactly_once(got: &[usize], n: usize) {
    let mut count = vec![0usize; n + 1];
    for &i in got {
        assert!((1..=n).contains(&i), "item {i} was never pushed: {got:?}");
        count[i] += 1;
    }
    for (i, &c) in count.iter().enumerate().skip(1) {
        assert!(c != 0, "item {i} was lost: got {got:?}");
        assert!(c == 1, "item {i} was obtained {c} times: got {got:?}");
    }
}

fn assert_increasing(what: &str, v: &[usize]) {
    assert!(
        v.windows(2).all(|w| w[0] < w[1]),
        "{what} out of FIFO order: {v:?}"
    );
}

/// A thief's round, as `worker::steal` does it: steal a batch from `victim` into its
/// own empty queue `mine`, then drain `mine`. Returns what it got, in the order it
/// would run it (the returned item first, then its ring).
fn thief(victim: &RunQueue<Item>, mine: &RunQueue<Item>) -> Vec<usize> {
    let mut me = local(mine);
    let mut got = Vec::new();
    if let Some(p) = victim.steal_into(&mut me) {
        got.push(index(p));
        while let Some(p) = me.pop() {
            got.push(index(p));
        }
    }
    assert!(!mine.has_work(), "the thief's queue kept work");
    got
}

/// The thief's batch is a run of consecutive oldest items: the ring's order, with the
/// item it returns being the newest of the batch.
fn assert_thief_batch(stolen: &[usize]) {
    if let Some((&first, rest)) = stolen.split_first() {
        let mut batch = rest.to_vec();
        batch.push(first);
        assert!(
            batch.windows(2).all(|w| w[0] + 1 == w[1]),
            "stolen batch is not a consecutive run from the head: {stolen:?}"
        );
        assert!(
            batch.len() as u32 <= CAPACITY / 2,
            "stole more than half a ring: {stolen:?}"
        );
    }
}

/// Owner pushes three items and pops while a thief steals half of the ring.
///
/// The race is the thief's copy-then-CAS against the owner's pop of the same head
/// slot: exactly one of them may win each item. Also checks the owner's FIFO order.
#[test]
fn push_pop_vs_steal() {
    static REACHED: Outcomes = Outcomes::new();
    check("push_pop_vs_steal", |start: Start| {
        let q = Arc::new(RunQueue::<Item>::new());
        let theirs = Arc::new(RunQueue::<Item>::new());

        let t = {
            let (q, theirs) = (q.clone(), theirs.clone());
            thread::spawn(move || thief(&q, &theirs))
        };
        start.spawned();

        let mut own = Vec::new();
        {
            let mut me = local(&q);
            for i in 1..=3 {
                me.push(item(i)).map_err(|_| "overflow").unwrap();
            }
            while let Some(p) = me.pop() {
                own.push(index(p));
            }
        }
        let stolen = t.join().unwrap();

        assert_increasing("owner's pops", &own);
        assert_thief_batch(&stolen);
        let mut all = own;
        all.extend(&stolen);
        assert_exactly_once(&all, 3);
        assert!(!q.has_work() && q.len() == 0);
        REACHED.mark(format!("stole {}", stolen.len()));
    });
    // Half of a ring of 1 or 2 is one item, of 3 two.
    REACHED.assert_reached(&["stole 0", "stole 1", "stole 2"]);
}

/// The ring fills while a thief steals, with head and tail already past the end of the
/// buffer, so slot indices wrap.
///
/// The owner starts with head = tail = 3 (three pushed and popped before the race),
/// then pushes five: without a steal the fifth push finds the ring full and takes the
/// overflow path, CAS-ing half the ring away from the thief's reach; with a steal
/// first there is room again (the overflow CAS fails and the push retries). Every
/// item ends up in exactly one of: owner pops, overflow batch, thief.
#[test]
fn overflow_and_wrap_vs_steal() {
    static REACHED: Outcomes = Outcomes::new();
    check("overflow_and_wrap_vs_steal", |start: Start| {
        let q = Arc::new(RunQueue::<Item>::new());
        let theirs = Arc::new(RunQueue::<Item>::new());
        {
            // Move head and tail to 3: the ring then spans slots 3, 0, 1, 2.
            let mut me = local(&q);
            for _ in 0..3 {
                me.push(item(99)).map_err(|_| "overflow").unwrap();
                assert_eq!(me.pop().map(index), Some(99));
            }
        }

        let t = {
            let (q, theirs) = (q.clone(), theirs.clone());
            thread::spawn(move || thief(&q, &theirs))
        };
        start.spawned();

        let n = CAPACITY as usize + 1;
        let mut overflow = Vec::new();
        let mut own = Vec::new();
        {
            let mut me = local(&q);
            for i in 1..=n {
                if let Err(o) = me.push(item(i)) {
                    let batch: Vec<usize> = o.items.iter().map(|&p| index(p)).collect();
                    // Go's runqputslow: the oldest half of the ring, then the new item.
                    assert_eq!(batch.len() as u32, CAPACITY / 2 + 1, "{batch:?}");
                    assert_eq!(*batch.last().unwrap(), i, "{batch:?}");
                    assert_increasing("overflow batch", &batch);
                    overflow.push(batch);
                }
            }
            while let Some(p) = me.pop() {
                own.push(index(p));
            }
        }
        let stolen = t.join().unwrap();

        assert!(overflow.len() <= 1, "overflowed twice: {overflow:?}");
        assert_increasing("owner's pops", &own);
        assert_thief_batch(&stolen);
        let mut all = own;
        all.extend(&stolen);
        all.extend(overflow.concat());
        assert_exactly_once(&all, n);
        assert!(!q.has_work() && q.len() == 0);
        REACHED.mark(format!(
            "overflow {}, stole {}",
            !overflow.is_empty(),
            stolen.len()
        ));
    });
    // Stealing 2 needs 3 or 4 queued, after which the last push fits; without a steal the
    // fifth push overflows.
    REACHED.assert_reached(&[
        "overflow false, stole 1",
        "overflow false, stole 2",
        "overflow true, stole 0",
        "overflow true, stole 1",
    ]);
}

/// `runnext`: the owner sets it twice (the second set displaces the first item, which
/// goes to the ring as `ready::ready` does) and then takes it and drains the ring;
/// sysmon takes it concurrently to move it to the global queue; a thief steals from
/// the ring but never touches `runnext`.
///
/// The race is the owner's `swap` against sysmon's load-then-CAS: an item in `runnext`
/// goes to exactly one of them.
#[test]
fn runnext_vs_sysmon_and_thief() {
    static REACHED: Outcomes = Outcomes::new();
    check("runnext_vs_sysmon_and_thief", |start: Start| {
        let q = Arc::new(RunQueue::<Item>::new());
        let theirs = Arc::new(RunQueue::<Item>::new());

        let sysmon = {
            let q = q.clone();
            thread::spawn(move || q.take_runnext().map(index))
        };
        let t = {
            let (q, theirs) = (q.clone(), theirs.clone());
            thread::spawn(move || thief(&q, &theirs))
        };
        start.spawned();

        let mut own = Vec::new();
        {
            let mut me = local(&q);
            assert_eq!(me.set_runnext(item(1)), None);
            if let Some(old) = me.set_runnext(item(2)) {
                me.push(old).map_err(|_| "overflow").unwrap();
            }
            if let Some(p) = me.take_runnext() {
                own.push(index(p));
            }
            while let Some(p) = me.pop() {
                own.push(index(p));
            }
        }
        let from_sysmon = sysmon.join().unwrap();
        let stolen = t.join().unwrap();

        // The thief can only have got item 1, and only once it was displaced to the ring.
        assert!(stolen.is_empty() || stolen == [1], "thief took {stolen:?}");
        REACHED.mark(format!("sysmon {from_sysmon:?}, thief {stolen:?}"));
        let mut all = own;
        all.extend(&stolen);
        all.extend(from_sysmon);
        assert_exactly_once(&all, 2);
        assert!(!q.has_work());
    });
    REACHED.assert_reached(&[
        "sysmon None, thief []",
        "sysmon None, thief [1]",
        "sysmon Some(1), thief []",
        "sysmon Some(2), thief []",
        "sysmon Some(2), thief [1]",
    ]);
}

/// Two thieves steal from one victim at once while its owner pops: three consumers
/// CAS the same head. Each batch must be disjoint from the others and from the pops.
#[test]
fn two_thieves_and_owner() {
    check("two_thieves_and_owner", |start: Start| {
        let q = Arc::new(RunQueue::<Item>::new());
        {
            let mut me = local(&q);
            for i in 1..=CAPACITY as usize {
                me.push(item(i)).map_err(|_| "overflow").unwrap();
            }
        }
        let thieves: Vec<_> = (0..2)
            .map(|_| {
                let q = q.clone();
                thread::spawn(move || thief(&q, &RunQueue::new()))
            })
            .collect();
        start.spawned();

        let mut own = Vec::new();
        if let Some(p) = local(&q).pop() {
            own.push(index(p));
        }

        let mut all = own;
        for t in thieves {
            let stolen = t.join().unwrap();
            assert_thief_batch(&stolen);
            all.extend(stolen);
        }
        while let Some(p) = local(&q).pop() {
            all.push(index(p));
        }
        assert_exactly_once(&all, CAPACITY as usize);
    });
}

/// Owner pushes and pops while sysmon takes everything (`take_all`: the rescue of a
/// retired processor's queue, `sysmon.rs`), pushing the last item into a full-to-the-
/// brim ring after the owner's pop so the slot index wraps.
///
/// The race is the same copy-then-CAS as a steal, on the whole ring: each item goes to
/// exactly one of them, and what sysmon takes is a run from the head, in order.
#[test]
fn push_pop_vs_take_all() {
    static REACHED: Outcomes = Outcomes::new();
    check("push_pop_vs_take_all", |start: Start| {
        let q = Arc::new(RunQueue::<Item>::new());
        let t = {
            let q = q.clone();
            thread::spawn(move || {
                let got: Vec<usize> = q.take_all().into_iter().map(index).collect();
                assert_increasing("take_all", &got);
                got
            })
        };
        start.spawned();
        let mut own = Vec::new();
        {
            let mut me = local(&q);
            for i in 1..=CAPACITY as usize {
                me.push(item(i)).map_err(|_| "overflow").unwrap();
            }
            if let Some(p) = me.pop() {
                own.push(index(p));
            }
            me.push(item(CAPACITY as usize + 1))
                .map_err(|_| "overflow")
                .unwrap();
            while let Some(p) = me.pop() {
                own.push(index(p));
            }
        }
        let taken = t.join().unwrap();
        assert_increasing("the owner's pops", &own);
        let mut all = own.clone();
        all.extend(&taken);
        assert_exactly_once(&all, CAPACITY as usize + 1);
        REACHED.mark(match taken.len() {
            0 => "nothing taken",
            n if n == CAPACITY as usize => "a full ring taken",
            _ => "part taken",
        });
    });
    REACHED.assert_reached(&["nothing taken", "a full ring taken", "part taken"]);
}
