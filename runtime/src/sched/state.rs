//! A G's status word: who may switch to its stack, and the wake-up token that makes
//! parking race-free.
//!
//! # The status is the lock on the stack
//!
//! - `ACTIVE`: the G is running on an M, or queued to run. Exactly one holder — the M
//!   running it, or the run queue holding it — may switch to its stack.
//! - `WAITING`: the G is parked and nobody holds it. Whoever wins the CAS from
//!   `WAITING` to `ACTIVE` (an unpark) becomes its holder and must queue it.
//! - `FREE`: the G struct is pooled, waiting for its next task.
//!
//! The upper 32 bits are a generation, new each time the struct is reused for a new task
//! (the runtime uses the task id), so an unparker kept by some channel after its task
//! exited cannot wake the struct's next task: it names the old generation and its CAS
//! fails.
//!
//! # Parking without losing the wake-up (Go's `gopark` with an unlock function)
//!
//! A G that waits for something first publishes an unparker for itself (on a channel's
//! wait list, say), then parks. An unpark may come at any moment after the publish:
//!
//! 1. The G calls [`State::take_token`]: if an unpark already came, it returns at once.
//! 2. The G switches away from its stack. It is still `ACTIVE` — no other M may
//!    switch to it yet, even if it is unparked now, because its stack is still in use.
//! 3. On the other side of the switch, the M calls [`State::commit_park`]: a CAS from
//!    `ACTIVE` (no token) to `WAITING`. An unpark that came during step 2 left a token,
//!    the CAS fails, the token is consumed, and the M queues the G again.
//! 4. From now on an unpark finds `WAITING`, moves it to `ACTIVE` and queues the G.
//!
//! So an unpark always finds the G either `ACTIVE` (and leaves a token that step 1 or
//! step 3 sees) or `WAITING` (and queues it) — never neither.
//!
//! A G that must stay on its M (locked or panicking, `pinned.rs`) does step 3 itself,
//! on its own stack, without switching: it first tags its saved-stack-pointer slot
//! with its M, which forbids whoever queues it to switch to that stack — so "queued"
//! no longer means "someone may resume this stack now", and the stack may stay in use.
//!
//! Rejected designs: a plain "is parked" flag set before the switch lets a waker queue
//! the G while its stack is still live on the old M, and two Ms run on one stack; a lock
//! held across the switch (Go's `unlockf` run on g0) would need every channel lock to be
//! released by the scheduler — the token keeps the channel crate ignorant of it. (A
//! waiter may still opt into it, below.)
//!
//! # Parking under the waker's lock ([`State::commit_park_held`])
//!
//! A G whose only possible waker must first take a lock that the G holds — a sole
//! rendezvous waiter (`gogreen_channel`'s `waiter.rs`), which registers under its
//! channel's lock — may keep that lock across the switch and let its M release it
//! (`park::park_unlocking`, `Pending::ParkUnlock`):
//!
//! 1. The G registers under the lock and switches away holding it, still `ACTIVE`.
//! 2. Its M stores `WAITING` (Release) — a store, not step 3's CAS — and only then
//!    releases the lock (Release).
//! 3. The waker takes the lock (Acquire, pairs with step 2's release), so it finds the
//!    G `WAITING`, and its unpark's CAS queues it (Acquire, pairs with step 2's store).
//!
//! The store may overwrite a token, or race with an unpark's CAS, but only a *stale*
//! unparker's — one left from an earlier wait, whose wake-up is spurious anyway: the
//! real waker cannot unpark before step 2, it needs the lock. A stale unpark after the
//! store queues the G, which finds itself not selected and parks again the usual way.
//! So the park costs one read-modify-write less; the stack is safe as in step 3, since
//! the store comes after the switch.

use crate::loom::{AtomicU64, Ordering};

const STATUS_MASK: u64 = 0b11;
const FREE: u64 = 0;
const ACTIVE: u64 = 1;
const WAITING: u64 = 2;
/// An unpark arrived while the G was `ACTIVE`; its next park returns at once.
const TOKEN: u64 = 0b100;
const GEN_SHIFT: u32 = 32;

#[inline]
fn generation_of(word: u64) -> u32 {
    (word >> GEN_SHIFT) as u32
}

/// What a status word says, for observers (`State::snapshot`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Pooled, or never used.
    Free,
    /// Running, or queued to run (or finished, if the join word says so).
    Active,
    /// Parked.
    Waiting,
}

/// The status word of one G.
pub struct State(AtomicU64);

impl State {
    pub fn new() -> Self {
        State(AtomicU64::new(FREE))
    }

    /// Starts a new task in this (pooled) struct: generation `generation`, `ACTIVE`, no
    /// token. Called by the spawner, which owns the pooled struct.
    ///
    /// The generation must differ from the struct's previous ones; the runtime uses the
    /// task id, unique per spawn. Taking it from the caller rather than bumping the old
    /// one spares a read of a word that was last written on the core where the previous
    /// task exited: the spawn writes the header without waiting for its cache lines.
    #[inline]
    pub fn activate(&self, generation: u32) {
        let word = (u64::from(generation) << GEN_SHIFT) | ACTIVE;
        // Release: publishes the new generation before the G is queued. A stale unpark
        // racing with this store either lands first (and is overwritten — harmless, it
        // was for the old task) or fails its CAS on the changed word.
        #[cfg(not(loom))]
        self.0.store(word, Ordering::Release);
        // The same under loom, as a swap. A CAS that read the old word is ordered before
        // this store (an RMW reads the value just before it in modification order), so
        // the new task never sees its token. loom does not apply that rule to a plain
        // store from a thread that has not seen the CAS (tokio-rs/loom#254), and would
        // let the new task read the stale token; a swap reads the latest word, which
        // gives the order loom can see. Same effect, one locked instruction more.
        #[cfg(loom)]
        self.0.swap(word, Ordering::Release);
    }

    /// The current generation.
    #[inline]
    pub fn generation(&self) -> u32 {
        generation_of(self.0.load(Ordering::Relaxed))
    }

    /// Step 1 of parking, by the G itself: consumes a pending token. Returns `true` if
    /// there was one — the G must not park then.
    #[inline]
    pub fn take_token(&self) -> bool {
        let word = self.0.load(Ordering::Relaxed);
        if word & TOKEN == 0 {
            return false;
        }
        // Acquire pairs with the unparker's Release CAS: the G sees what the waker
        // wrote before waking it.
        self.0.fetch_and(!TOKEN, Ordering::Acquire);
        true
    }

    /// Step 3 of parking, by the M that switched away from the G: `ACTIVE` → `WAITING`.
    /// Returns `false` if an unpark came meanwhile: the token is consumed and the G is
    /// still `ACTIVE`, so the caller **must** queue it again.
    #[inline]
    pub fn commit_park(&self) -> bool {
        let mut word = self.0.load(Ordering::Relaxed);
        loop {
            debug_assert_eq!(
                word & STATUS_MASK,
                ACTIVE,
                "gogreen: fatal: parking a G that is not active"
            );
            let (new, parked) = if word & TOKEN != 0 {
                (word & !TOKEN, false)
            } else {
                ((word & !STATUS_MASK) | WAITING, true)
            };
            // Release: the G's saved stack pointer (written by the switch before this)
            // is visible to whoever wins the CAS back to ACTIVE. Acquire: on the token
            // path, pairs with the unparker's Release.
            match self
                .0
                .compare_exchange_weak(word, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return parked,
                Err(w) => word = w,
            }
        }
    }

    /// Step 2 of "Parking under the waker's lock", by the M that switched away from
    /// the G while the G held its waker's lock: `ACTIVE` → `WAITING`, dropping a token
    /// (only a stale unparker can have left one). The caller releases the lock after.
    #[inline]
    pub fn commit_park_held(&self) {
        let word = self.0.load(Ordering::Relaxed);
        debug_assert_eq!(
            word & STATUS_MASK,
            ACTIVE,
            "gogreen: fatal: parking a G that is not active"
        );
        let new = (word & !(STATUS_MASK | TOKEN)) | WAITING;
        // Release: the G's saved stack pointer is visible to whoever wins the CAS back
        // to ACTIVE (the waker after the lock, or a stale unparker).
        #[cfg(not(loom))]
        self.0.store(new, Ordering::Release);
        // A swap under loom, for the reason given in `activate`: a stale unparker's CAS
        // that read `word` is ordered before this store, which loom does not see.
        #[cfg(loom)]
        self.0.swap(new, Ordering::Release);
    }

    /// Wakes the G of generation `generation`. Returns `true` if it was `WAITING`: the caller
    /// now holds it and **must** queue it. Otherwise leaves a token (if the G is active)
    /// or does nothing (another task's generation, or a pooled struct).
    #[inline]
    pub fn unpark(&self, generation: u32) -> bool {
        let mut word = self.0.load(Ordering::Acquire);
        loop {
            if generation_of(word) != generation {
                return false;
            }
            let new = match word & STATUS_MASK {
                WAITING => (word & !STATUS_MASK) | ACTIVE,
                // Even if a token is already there, write it again: a read-modify-write
                // makes this unpark's Release part of what the parker acquires.
                ACTIVE => word | TOKEN,
                _ => return false,
            };
            // Release: what the waker wrote before unparking is visible to the G.
            // Acquire: on WAITING → ACTIVE, we take over the G and read its saved state.
            match self
                .0
                .compare_exchange_weak(word, new, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return word & STATUS_MASK == WAITING,
                Err(w) => word = w,
            }
        }
    }

    /// Takes a parked G of generation `generation` (`WAITING` → `ACTIVE`) without waking
    /// it: an observer that must read its stack (a task dump's backtrace). Returns
    /// `true` if it was parked; the caller then holds the G and **must** give it back
    /// with [`State::commit_park`] — which fails if an unpark came meanwhile (it found
    /// `ACTIVE` and left a token), and then the caller must queue the G, as the
    /// unpark would have.
    #[allow(dead_code)] // for the dump; not in the loom build
    pub fn seize(&self, generation: u32) -> bool {
        let word = self.0.load(Ordering::Relaxed);
        if generation_of(word) != generation || word & STATUS_MASK != WAITING {
            return false;
        }
        // Acquire pairs with `commit_park`'s Release: the saved stack pointer is
        // visible.
        self.0
            .compare_exchange(
                word,
                (word & !STATUS_MASK) | ACTIVE,
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    /// The status as an observer sees it (a snapshot): `(generation, status)`.
    #[allow(dead_code)] // for observers; not in the loom build
    pub fn snapshot(&self) -> (u32, Status) {
        let word = self.0.load(Ordering::Acquire);
        let status = match word & STATUS_MASK {
            ACTIVE => Status::Active,
            WAITING => Status::Waiting,
            _ => Status::Free,
        };
        (generation_of(word), status)
    }

    /// Whether the G is parked (for assertions and diagnostics).
    #[allow(dead_code)]
    pub fn is_waiting(&self) -> bool {
        self.0.load(Ordering::Acquire) & STATUS_MASK == WAITING
    }
}
