//! loom model of the claim on a processor's stack cache (`gogreen::claim`, the file
//! `runtime/src/stack/claim.rs`): an owner that enters and leaves with plain stores and
//! a light barrier, and a claimant that claims, takes a heavy barrier and waits for the
//! owner to leave.
//!
//! loom cannot run `membarrier(2)`, so the model checks the protocol in the form it
//! takes without it: both barriers are `SeqCst` fences (the plain Dekker). The state is
//! a loom `UnsafeCell`, so an owner and a claimant inside it at once is reported as a
//! race; and nothing is lost: what the owner adds and the claimant takes add up.
#![cfg(loom)]

use gogreen::claim::{Claim, claim_all};
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;

/// A cache: a count of free slots, owned per the claim.
struct Cache {
    claim: Claim,
    free: UnsafeCell<usize>,
}

// SAFETY: `free` is reached per the claim protocol, which this model checks.
unsafe impl Sync for Cache {}

impl Cache {
    fn new(free: usize) -> Self {
        Cache {
            claim: Claim::new(),
            free: UnsafeCell::new(free),
        }
    }

    /// The owner puts one slot back.
    fn owner_put(&self) {
        let _own = self.claim.enter();
        self.free.with_mut(|f| unsafe { *f += 1 });
    }

    /// The owner takes a slot if it has one.
    fn owner_take(&self) -> bool {
        let _own = self.claim.enter();
        self.free.with_mut(|f| unsafe {
            if *f > 0 {
                *f -= 1;
                true
            } else {
                false
            }
        })
    }
}

/// An owner putting and taking races a claimant sweeping the cache: every slot ends up
/// in exactly one place.
#[test]
fn owner_and_claimant_never_overlap() {
    loom::model(|| {
        let cache = Arc::new(Cache::new(1));
        let owner = {
            let cache = cache.clone();
            thread::spawn(move || {
                cache.owner_put();
                usize::from(cache.owner_take())
            })
        };
        let mut swept = 0;
        claim_all(
            [&*cache].into_iter(),
            |c: &Cache| &c.claim,
            |c| {
                c.free
                    .with_mut(|f| unsafe { swept += std::mem::take(&mut *f) });
            },
        );
        let taken = owner.join().unwrap();
        let left = cache.free.with(|f| unsafe { *f });
        // One slot at the start and one put: each is taken, swept, or still there.
        assert_eq!(taken + swept + left, 2);
    });
}

/// Two caches claimed at once (one barrier for both): one with a busy owner, one whose
/// processor is idle.
#[test]
fn a_sweep_of_two_caches() {
    loom::model(|| {
        let caches = Arc::new([Cache::new(0), Cache::new(1)]);
        let owner = {
            let caches = caches.clone();
            thread::spawn(move || caches[0].owner_put())
        };
        let mut swept = 0;
        claim_all(
            caches.iter(),
            |c: &Cache| &c.claim,
            |c| {
                c.free
                    .with_mut(|f| unsafe { swept += std::mem::take(&mut *f) });
            },
        );
        owner.join().unwrap();
        let left: usize = caches.iter().map(|c| c.free.with(|f| unsafe { *f })).sum();
        assert_eq!(swept + left, 2);
    });
}
