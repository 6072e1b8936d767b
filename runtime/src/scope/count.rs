//! A scope's count of running threads and its owner's `WAITING` bit, in one word: the
//! wait that `scope` must finish before the borrows of its threads end.
//!
//! 1. A spawner counts a thread in (`+ONE`) before the thread exists. The spawner is
//!    the owner or a thread still counted, so the count cannot reach zero meanwhile.
//! 2. A thread counts itself out (`-ONE`) as its very last touch of the scope: it
//!    copies the owner's unparker first (the park seam's rule for wakers), and if its
//!    decrement took the word from `ONE | WAITING` down, unparks the copy.
//! 3. The owner sets `WAITING` with one read-modify-write; if the count was not zero,
//!    it parks until a read sees it at zero.
//!
//! One word, because the last thread must learn whether the owner waits *in the same
//! atomic operation* that may let the owner return and free the word: a separate flag
//! read afterwards could be freed memory. And the owner is woken only when it waits
//! in step 3: an owner parked in a `join` would wake for nothing otherwise (it finds
//! the joined task unfinished and parks again — a wasted switch per scoped join).
//!
//! Rejected: a count and a flag in two words with `SeqCst` on both sides (a Dekker
//! pair). Correct for the wake-up, but the thread would read the flag after its
//! decrement, when the owner may have returned.

use crate::loom::{AtomicUsize, Ordering};
use gogreen_channel::park::{self, Unparker, WaitReason};

/// The owner waits (step 3).
const WAITING: usize = 1;
/// One running thread.
const ONE: usize = 2;

/// Threads of a scope still running, and whether the owner waits for them.
pub struct Count {
    /// `ONE` × threads counted in and not yet out, `+ WAITING` once the owner waits.
    /// Incremented by spawners, decremented by each thread as its last act, `WAITING`
    /// set by the owner.
    word: AtomicUsize,
}

impl Default for Count {
    fn default() -> Self {
        Self::new()
    }
}

impl Count {
    pub fn new() -> Self {
        Count {
            word: AtomicUsize::new(0),
        }
    }

    /// Step 1. Relaxed: the spawner is counted itself (or is the owner), so the word
    /// cannot reach zero before this lands.
    pub fn count_in(&self) {
        if self.word.fetch_add(ONE, Ordering::Relaxed) > usize::MAX / 4 {
            // Only a leak of this many threads gets here; the count must not wrap.
            eprintln!("gogreen: fatal: too many green threads in one scope");
            std::process::abort();
        }
    }

    /// Step 2: the calling thread's last touch of the scope. `owner` is read before
    /// the decrement, never after.
    pub fn count_out(&self, owner: &Unparker) {
        let owner = owner.clone();
        // Release pairs with the owner's Acquire reads in `wait`: what the thread did
        // through its borrows happens before the owner returns.
        if self.word.fetch_sub(ONE, Ordering::Release) == ONE | WAITING {
            owner.unpark();
        }
    }

    /// Step 3: parks the owner until every thread has counted out.
    pub fn wait(&self) {
        // Acquire pairs with the threads' Release decrements (the RMWs extend their
        // release sequences). Either this sees the count at zero, or the last
        // decrement comes after it and sees `WAITING`.
        if self.word.fetch_or(WAITING, Ordering::Acquire) < ONE {
            return;
        }
        while self.word.load(Ordering::Acquire) >= ONE {
            // A stale token (an unpark meant for an earlier wait of this context)
            // returns early: the loop re-checks.
            park::park_for(None, WaitReason::Scope);
        }
    }

    /// Threads counted in and not yet out (a snapshot).
    pub fn running(&self) -> usize {
        self.word.load(Ordering::Relaxed) / ONE
    }
}
