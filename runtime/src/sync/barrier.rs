//! `std::sync::Barrier` for green threads: `n` callers wait for each other, then all go
//! on together; and again for the next round.
//!
//! # The protocol
//!
//! Everything happens under the queue's lock, which also keeps the round's arrival count
//! and the round number.
//!
//! 1. Count the caller in. If it is not the `n`th, link a [`Waiter`] from its frame
//!    tagged with the round number, release the lock and park until its token comes.
//! 2. The `n`th caller is the leader: it resets the count, bumps the round number, and
//!    wakes every waiter tagged with the old round, a batch of 32 per hold of the lock.
//!    Callers of the next round may arrive between the batches; they queue behind, with
//!    the new number, and are not woken by this leader.
//!
//! Rejected: a count and a generation in atomics with the queue only for sleepers (as
//! a futex barrier does) — every caller of a round but the last parks anyway, so the
//! lock is taken regardless, and under it the count needs no atomics.

use super::queue::{self, WaitQueue};
use super::waiter::Waiter;
use gogreen_channel::park::WaitReason;
use std::fmt;

/// The token a leader leaves in its round's waiters.
const RELEASED: u32 = 1;

/// Lets `n` green threads or OS threads wait until all `n` have arrived, with
/// `std::sync::Barrier`'s API. It can be used again: each round releases `n` callers.
///
/// ```
/// use gogreen::sync::Barrier;
/// use std::sync::Arc;
///
/// let barrier = Arc::new(Barrier::new(10));
/// let tasks: Vec<_> = (0..10)
///     .map(|_| {
///         let b = barrier.clone();
///         gogreen::spawn(move || b.wait().is_leader())
///     })
///     .collect();
/// let leaders = tasks.into_iter().map(|t| t.join().unwrap()).filter(|&l| l).count();
/// assert_eq!(leaders, 1);
/// ```
pub struct Barrier {
    n: usize,
    waiters: WaitQueue<Round>,
}

/// The round in progress, under the queue's lock.
struct Round {
    /// Callers that have arrived in this round.
    arrived: usize,
    /// Which round this is (wrapping).
    number: usize,
}

/// What [`Barrier::wait`] returns: whether this caller was the round's leader.
#[derive(Debug)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// `true` for exactly one caller per round (the last to arrive).
    #[must_use]
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    super::loom_const_fn! {
        /// A barrier for rounds of `n` callers. `0` behaves as `1`: nobody waits.
        #[must_use]
        pub fn new(n: usize) -> Barrier {
            Barrier {
                n,
                waiters: WaitQueue::new(Round {
                    arrived: 0,
                    number: 0,
                }),
            }
        }
    }

    /// Waits until `n` callers have called `wait` in this round; parks a green thread,
    /// blocks an OS thread.
    pub fn wait(&self) -> BarrierWaitResult {
        let me = Waiter::new(0, WaitReason::Barrier);
        let round = {
            let mut q = self.waiters.lock();
            q.state.arrived += 1;
            if q.state.arrived < self.n {
                // Step 1.
                me.data.set(q.state.number);
                // SAFETY: `me` stays in this frame until the leader unlinks it, and we
                // return only after its token; barrier waiters never unlink themselves.
                unsafe { q.push_back(&me) };
                None
            } else {
                let round = q.state.number;
                q.state.arrived = 0;
                q.state.number = round.wrapping_add(1);
                Some(round)
            }
        };
        let Some(round) = round else {
            me.wait(None);
            return BarrierWaitResult(false);
        };
        // Step 2.
        let mut batch: [_; queue::BATCH] = Default::default();
        loop {
            let (n, more) = {
                let mut q = self.waiters.lock();
                let n = q.wake_some(RELEASED, &mut batch, |r| r == round);
                (n, q.front() == Some(round))
            };
            queue::unpark_all(&mut batch[..n]);
            if !more {
                return BarrierWaitResult(true);
            }
        }
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("n", &self.n)
            .finish_non_exhaustive()
    }
}

// A panic cannot leave a round half-counted: it is counted under the queue's lock, by
// code that does not panic.
impl std::panic::UnwindSafe for Barrier {}
impl std::panic::RefUnwindSafe for Barrier {}
