//! A claim on state that one owner uses all the time and others need rarely: the owner
//! pays two plain stores and a load per access, the rare claimant a process-wide
//! barrier.
//!
//! A processor's stack cache (`pool::Cache`) is touched by its owner at every spawn, first
//! run and exit, and by anyone else only when stacks run short — to collect the free slots
//! and unpromised capacity the caches hide (`pool::Pool::sweep`). A lock would put a
//! locked instruction (a full barrier) on the owner's hot path three times per task for
//! the sake of a path that runs almost never. Instead:
//!
//! # The protocol
//!
//! Owner, around each access ([`Claim::enter`] / [`Owner`]'s drop):
//!
//! 1. `busy = true`.
//! 2. Light barrier: a compiler fence (or a full fence, see below).
//! 3. If `claimed` is set: `busy = false`, wait until `claimed` is clear, go to 1.
//! 4. Use the state.
//! 5. `busy = false` (Release: the claimant that sees it sees step 4's writes).
//!
//! Claimant (with the claimants' lock held, so one at a time), for a set of claims
//! ([`claim_all`]):
//!
//! 1. `claimed = true` on every claim.
//! 2. Heavy barrier: `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`, which makes every
//!    running thread of the process execute a full memory barrier.
//! 3. For each claim: wait until `busy` is clear (Acquire: pairs with owner step 5), use
//!    the state, `claimed = false` (Release: pairs with the owner's Acquire in step 3).
//!
//! Why no owner and claimant use the state at once: the heavy barrier lands on the
//! owner's thread at some point of its instruction stream. If before the owner's load of
//! `claimed` (step 3), that load sees the claimant's store (step 1, made before the
//! barrier). If after, the owner's `busy = true` (made before the load) is visible to
//! the claimant once the barrier returns, and the claimant waits for step 5. A thread
//! that was not running is covered by the barrier of its context switch. This is the
//! asymmetric Dekker that `membarrier(2)` was added to Linux for.
//!
//! Where `membarrier` is not available (a kernel before 4.14, or a sandbox that refuses
//! it) both sides use a full `SeqCst` fence instead — the plain Dekker, modelled in
//! `loom-tests/tests/stack_claim.rs`.
//!
//! # Rejected designs
//!
//! - A spin lock per cache: one locked instruction — a full barrier — per access, three
//!   per spawn-and-join. The fence form of this protocol has the same full barrier per
//!   access; in 15 alternating runs of `workloads spawn_join 1000000` on one processor
//!   (AMD EPYC, shared machine) its median was 5% slower than the `membarrier` form's.
//! - Asking owners to flush their caches at their next scheduling point: an owner stuck
//!   in a long computation or an unmarked blocking call — perhaps waiting for the very
//!   task that needs a stack — never gets there.

use crate::loom::{AtomicBool, Ordering, fence};
#[cfg(not(loom))]
use std::sync::atomic::AtomicU8;

/// The owner's and the claimants' flags for one piece of state.
pub struct Claim {
    /// Written by the owner only (steps 1, 3, 5); read by claimants.
    busy: AtomicBool,
    /// Written by the claimant holding the claimants' lock; read by the owner.
    claimed: AtomicBool,
}

/// The owner's access; ends when dropped.
pub struct Owner<'a> {
    claim: &'a Claim,
}

impl Claim {
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Claim {
            busy: AtomicBool::new(false),
            claimed: AtomicBool::new(false),
        }
    }

    /// The owner's steps 1–3: returns once the state is the owner's.
    ///
    /// Only the state's one owner may call this, and not again before the returned
    /// value is dropped.
    #[inline]
    pub fn enter(&self) -> Owner<'_> {
        loop {
            self.busy.store(true, Ordering::Relaxed);
            light_barrier();
            // Acquire: pairs with the claimant's Release in its step 3, so what it did
            // to the state is visible here.
            if !self.claimed.load(Ordering::Acquire) {
                return Owner { claim: self };
            }
            self.busy.store(false, Ordering::Release);
            self.wait_unclaimed();
        }
    }

    #[cold]
    fn wait_unclaimed(&self) {
        let mut spins = 0u32;
        while self.claimed.load(Ordering::Acquire) {
            backoff(&mut spins);
        }
    }
}

impl Drop for Owner<'_> {
    #[inline]
    fn drop(&mut self) {
        // Release: the claimant that sees `busy` clear sees the owner's writes.
        self.claim.busy.store(false, Ordering::Release);
    }
}

/// Claims every claim in `claims` at once (one heavy barrier for all), and calls `f` on
/// each once its owner is out; releases each after its `f`.
///
/// The caller holds the lock that serialises claimants. It must not be inside an
/// [`Owner`] access of any of these claims, or it would wait for itself.
pub fn claim_all<'a, C: 'a>(
    claims: impl Iterator<Item = &'a C> + Clone,
    claim_of: fn(&C) -> &Claim,
    mut f: impl FnMut(&C),
) {
    for c in claims.clone() {
        claim_of(c).claimed.store(true, Ordering::Relaxed);
    }
    heavy_barrier();
    for c in claims {
        let claim = claim_of(c);
        let mut spins = 0u32;
        // Acquire: pairs with the owner's Release in its step 5.
        while claim.busy.load(Ordering::Acquire) {
            backoff(&mut spins);
        }
        f(c);
        claim.claimed.store(false, Ordering::Release);
    }
}

/// Spins a little, then yields the OS thread: the other side's critical section is a
/// few instructions, but its thread may have been descheduled inside it.
fn backoff(spins: &mut u32) {
    #[cfg(loom)]
    {
        // Under loom a spin is only more states to explore.
        let _ = spins;
        loom::thread::yield_now();
    }
    #[cfg(not(loom))]
    {
        *spins += 1;
        if *spins < 64 {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

/// Whether `membarrier` is registered: 0 not decided, 1 yes, 2 no (full fences).
#[cfg(not(loom))]
static ASYMMETRIC: AtomicU8 = AtomicU8::new(0);

/// Decides, once, how claims synchronise. Called before any claim is used (the pool
/// calls it when it makes a cache), so both sides agree from the start.
#[cfg(not(loom))]
pub(crate) fn init() {
    const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_int = 1 << 4;
    if ASYMMETRIC.load(Ordering::Relaxed) != 0 {
        return;
    }
    // SAFETY: registering for private expedited barriers changes nothing but a flag of
    // this process.
    let r = unsafe {
        libc::syscall(
            libc::SYS_membarrier,
            MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
            0,
            0,
        )
    };
    // Relaxed: every later use of a claim is ordered after this by the release that
    // publishes the cache (a mutex, or the runtime's OnceLock).
    ASYMMETRIC.store(if r == 0 { 1 } else { 2 }, Ordering::Relaxed);
}

#[cfg(not(loom))]
#[inline]
fn asymmetric() -> bool {
    ASYMMETRIC.load(Ordering::Relaxed) == 1
}

#[cfg(loom)]
fn asymmetric() -> bool {
    false
}

/// The owner's step 2.
#[inline]
fn light_barrier() {
    if asymmetric() {
        // Only the compiler may not reorder the store to `busy` after the load of
        // `claimed`; the claimant's membarrier orders them for the CPU.
        std::sync::atomic::compiler_fence(Ordering::SeqCst);
    } else {
        fence(Ordering::SeqCst);
    }
}

/// The claimant's step 2.
fn heavy_barrier() {
    if !asymmetric() {
        fence(Ordering::SeqCst);
        return;
    }
    #[cfg(not(loom))]
    {
        const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_int = 1 << 3;
        // SAFETY: a barrier on every thread of this process; no memory is touched.
        let r =
            unsafe { libc::syscall(libc::SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) };
        if r != 0 {
            // Registered, yet refused: the owners rely on it, so nothing else is safe.
            crate::fatal!(
                "membarrier(PRIVATE_EXPEDITED) failed after registration (errno {:?})",
                std::io::Error::last_os_error().raw_os_error()
            );
        }
    }
}
