//! The mutex protocol: a state word, a queue of parked waiters, and Go's starvation mode.
//!
//! [`RawMutex`] is the lock without the data: [`Mutex`](super::Mutex) wraps it with
//! poisoning and a guard, [`Condvar`](super::Condvar) unlocks and relocks it.
//!
//! # The state word
//!
//! | bit | set by | cleared by | means |
//! |---|---|---|---|
//! | `LOCKED` | whoever takes the lock | an unlock | held |
//! | `WOKEN` | an unlock that wakes a waiter, or a spinner | that waiter or spinner, as it takes the lock or parks | someone is awake and about to try: unlocks need not wake another |
//! | `STARVING` | a waiter that waited over [`STARVATION`], as it parks | the hand-over to the last waiter, or a recipient that did not wait long | unlocks hand the lock to the front waiter; newcomers queue |
//! | `PARKED` | a waiter, as it links itself | the unlock that unlinks the last waiter, before it wakes it | the queue is not empty |
//!
//! The word's top six bits count unlocks (step 4), wrapping; everything else leaves them
//! as they are. `PARKED` and `STARVING` change only under the queue's lock, so they
//! agree with the queue. `WOKEN` and `STARVING` are never set together. `STARVING`
//! implies `LOCKED`, but for one moment: between an unlock's release and its taking the
//! lock back for the front waiter (unlock step 2). A caller that takes the lock in that
//! moment has barged; it is the holder then, and its own unlock hands over instead.
//!
//! # Locking (`lock`)
//!
//! 1. **Fast path**: set `LOCKED` with one atomic bit-test-and-set; if it was clear, we
//!    hold the lock, whatever else the word says.
//! 2. **Barging** (normal mode): if `LOCKED` is clear, CAS it in — even past parked
//!    waiters, which is what makes a contended lock fast: the running caller takes a
//!    lock that a parked waiter would need a wake-up and a switch to take. A caller
//!    that holds `WOKEN` clears it in the same CAS.
//! 3. **Spin** (normal mode, lock held): a few rounds while the holder may be running
//!    on another core (`spin.rs`). A spinner that sees parked waiters and no `WOKEN`
//!    sets `WOKEN`, so the coming unlock does not wake a waiter only for the spinner to
//!    beat it.
//! 4. **Park**: take the queue's lock, re-read the state. If `LOCKED` is clear, release
//!    the queue and go back to 2. Otherwise CAS in `PARKED` (clearing `WOKEN` if we hold
//!    it; adding `STARVING` if we have waited over [`STARVATION`]), link a [`Waiter`]
//!    from this frame — at the back the first time, at the front after a lost wake-up
//!    (it has waited longest) — release the queue's lock, and park until a token comes.
//! 5. **Woken** (token `WOKEN`): we now hold the `WOKEN` flag. Go back to 2 and compete
//!    with the newcomers.
//! 6. **Handed over** (token `HANDOFF`): the unlock took the lock for us: we hold it.
//!    If we did not wait over [`STARVATION`], clear `STARVING` — the queue moves again,
//!    and normal mode is the fast one.
//!
//! # Unlocking (`unlock`)
//!
//! 1. **Fast path**: one `lock xadd` takes `LOCKED` out — whatever else the word says —
//!    and counts the unlock in the top bits. If no flag was set, done; if waiters are
//!    parked but one is awake already, done too (the steady state of a contended mutex).
//! 2. **Starving**: the lock belongs to the front waiter. CAS `LOCKED` back in on its
//!    behalf — unless someone barged in meanwhile, whose unlock will hand over instead.
//!    Then, under the queue's lock, clear `PARKED` and `STARVING` if it is the last,
//!    unlink it and store `HANDOFF`; unpark it and, in a green thread, yield to it: it
//!    owns the lock and cannot use it until it runs.
//! 3. **Normal**: if waiters are parked and nobody holds `LOCKED` (someone barged in:
//!    their unlock wakes) or `WOKEN`, CAS in `WOKEN`. If we claimed it, under the queue's
//!    lock, clear `PARKED` if the front waiter is the last, unlink it, store `WOKEN` in
//!    it, and unpark it after the queue's lock. The order matters: a woken waiter may
//!    lock and unlock at once, and that unlock must not find `PARKED` with nobody queued
//!    (the loom model found this).
//! 4. **Giving way**: a green thread that relocks in a loop wins every time by barging
//!    and never parks, while the waiter it woke sits in its processor's run queue
//!    (`runnext`), unable to run — and so unable to lose and starve. So every 64th
//!    unlock (counted in the word's top bits by the release itself, at no cost) that
//!    finds others waiting looks around: if a woken waiter has still not come for the
//!    lock, a green thread yields to let it run; otherwise the unlock is a preemption
//!    point (`gogreen::preempt_point`: yield if sysmon flagged the processor). Without
//!    this, the `mutex` workload had sysmon replace hogged processors again and again:
//!    up to 34 OS threads for 2 processors, and starvation mode entered some 30 times
//!    per 10 M locks; with it, 2 to 4 threads, starvation mode almost never, and no
//!    fewer locks per second. (Not every unlock: the check costs a call and a
//!    thread-local read, and a flag raised after 10 ms can wait a few more unlocks.)
//!
//! # Why no wake-up is lost
//!
//! A waiter sets `PARKED` by CAS on the state word while it holds the queue's lock, and
//! links itself within the same hold; an unlock's `fetch_sub` is on the same word. The
//! word's modification order puts one before the other: either the waiter's CAS saw
//! the lock free (and it retries instead of parking), or the unlock's `fetch_sub` sees
//! `PARKED` — and it reaches the waiter through the queue's lock, which it takes after
//! the waiter linked itself. If a third caller took the lock in between, that one's
//! unlock sees `PARKED` instead. Wakers never run twice for one `WOKEN`: only the CAS
//! that sets it wakes.
//!
//! # Rejected designs
//!
//! - **Always hand over** (a fair FIFO lock): every contended unlock costs a wake-up and
//!   a switch before anyone makes progress. Go's measurements led it to the same mix:
//!   barging, plus hand-over only for waiters that starve.
//! - **Wake on every unlock with waiters** (no `WOKEN`): a holder that relocks at once
//!   drains the queue into the run queues, and every woken waiter loses and parks again.
//! - **Lock by CAS `0` → `LOCKED`** (Go's): with waiters parked the word is never `0`,
//!   so every lock of a contended mutex took the slow path — three atomics per round
//!   instead of two, and 28 ns per lock instead of about 20 in the `mutex` workload.
//! - **Unlock by CAS, keeping `LOCKED` through a hand-over** (no barging moment in
//!   starvation mode): the CAS needs the word's value first, so a contended unlock
//!   loaded the line (shared) and then upgraded it (exclusive): two trips between the
//!   cores where `lock xadd` makes one.
//! - **Step 4's count elsewhere**: in a thread-local, it cost every contended unlock a
//!   call; in a plain field written by the holder before the release, a store on every
//!   unlock. In the word, the release's own `lock xadd` carries it.
//! - **A waiter count in the word** (Go's): the queue's lock already serialises
//!   waiters, so one `PARKED` bit kept under it says as much.
//! - **`parking_lot`'s timed fairness** (the unlock hands over every 0.5 ms on average):
//!   it is decided by the unlocker on a clock; here the waiter that waited too long says
//!   so, and hand-overs stop as soon as waits are short again.

use super::fatal;
use super::queue::WaitQueue;
use super::spin::Spin;
use super::waiter::Waiter;
use crate::loom::{AtomicU32, Ordering};
#[cfg(not(loom))]
use gogreen_channel::park;
use gogreen_channel::park::WaitReason;
use std::sync::atomic::AtomicU64;

const LOCKED: u32 = 1;
const WOKEN: u32 = 2;
const STARVING: u32 = 4;
const PARKED: u32 = 8;
/// The flags; the word's top 6 bits count unlocks, wrapping (step 4): every 64th
/// unlock that finds others waiting looks around.
const FLAGS: u32 = COUNT_ONE - 1;
const COUNT_ONE: u32 = 1 << 26;

/// Tokens an unlock leaves in a waiter.
const TOKEN_WOKEN: u32 = 1;
const TOKEN_HANDOFF: u32 = 2;

/// How long a waiter may wait before the lock is handed to it (Go's 1 ms).
#[cfg_attr(loom, allow(dead_code))]
pub(crate) const STARVATION: std::time::Duration = std::time::Duration::from_millis(1);

/// Times any mutex entered starvation mode; for tests (`Mutex::starvation_count`).
static STARVATIONS: AtomicU64 = AtomicU64::new(0);

/// How many times, process-wide, a mutex entered starvation mode.
pub(crate) fn starvation_count() -> u64 {
    STARVATIONS.load(std::sync::atomic::Ordering::Relaxed)
}

/// A mutual-exclusion lock without data; see the module docs for the protocol.
pub(crate) struct RawMutex {
    /// `LOCKED | WOKEN | STARVING | PARKED`, and the unlock count in the top six bits;
    /// see the table in the module docs.
    state: AtomicU32,
    /// Parked waiters. A mutex waiter never leaves by itself: only unlocks unlink them.
    waiters: WaitQueue<()>,
}

/// How a park ended.
enum Parked {
    /// The lock was free before we linked ourselves; the state word as read.
    Retry(u32),
    /// An unlock woke us; we hold `WOKEN`.
    Woken,
    /// An unlock handed us the lock.
    HandedOff,
}

impl RawMutex {
    super::loom_const_fn! {
        pub(crate) fn new() -> RawMutex {
            RawMutex {
                state: AtomicU32::new(0),
                waiters: WaitQueue::new(()),
            }
        }
    }

    /// Takes the lock, parking the caller while it is held.
    #[inline]
    pub(crate) fn lock(&self) {
        if !self.try_lock() {
            self.lock_slow();
        }
    }

    /// Takes the lock if it is free (a lock reserved for a starving waiter is not).
    #[inline]
    pub(crate) fn try_lock(&self) -> bool {
        // Step 1: one `lock bts`. A clear `LOCKED` means free — even in starvation mode,
        // where it is clear only for the moment an unlock takes to take it back for the
        // front waiter, and taking it then is barging (module docs). Acquire pairs with
        // the Release of the previous holder's unlock.
        self.state.fetch_or(LOCKED, Ordering::Acquire) & LOCKED == 0
    }

    /// Releases the lock.
    ///
    /// # Safety
    ///
    /// The caller holds the lock (took it, or was handed it, and has not released it).
    #[inline]
    pub(crate) unsafe fn unlock(&self) {
        // Step 1. Release: what the holder wrote is visible to the next holder (their
        // Acquire on the word, or, for a hand-over, the token's Release/Acquire).
        // The same `lock xadd` counts the unlock in the word's top bits, for step 4.
        let prev = self
            .state
            .fetch_add(COUNT_ONE.wrapping_sub(LOCKED), Ordering::Release);
        debug_assert!(
            prev & LOCKED != 0,
            "gogreen: fatal: unlock of an unlocked mutex"
        );
        if prev & FLAGS != LOCKED {
            let s = prev.wrapping_add(COUNT_ONE) - LOCKED;
            let look = s & !FLAGS == 0;
            // With waiters parked but one of them awake already (the steady state of a
            // contended mutex) there is nothing to do but the release: stay out of the
            // call, unless it is time to look around.
            if look || s & STARVING != 0 || s & (PARKED | WOKEN) == PARKED {
                self.unlock_slow(s, look);
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn lock_slow(&self) {
        let mut spin = Spin::new();
        // Whether we hold `WOKEN`: an unlock woke us, or we set it while spinning.
        let mut awake = false;
        let mut clock = WaitClock::new();
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            // Step 2: barge.
            if s & LOCKED == 0 {
                let new = (s | LOCKED) & !if awake { WOKEN } else { 0 };
                // Acquire pairs with the Release of the previous holder's unlock.
                match self
                    .state
                    .compare_exchange_weak(s, new, Ordering::Acquire, Ordering::Relaxed)
                {
                    Ok(_) => return,
                    Err(x) => {
                        s = x;
                        continue;
                    }
                }
            }
            // Step 3: spin while the holder may be about to let go.
            if s & STARVING == 0 && spin.spin() {
                if !awake
                    && s & (WOKEN | PARKED) == PARKED
                    && self
                        .state
                        .compare_exchange_weak(s, s | WOKEN, Ordering::Relaxed, Ordering::Relaxed)
                        .is_ok()
                {
                    awake = true;
                }
                s = self.state.load(Ordering::Relaxed);
                continue;
            }
            // Step 4: park.
            match self.park(awake, clock.starving(), clock.waited()) {
                Parked::Retry(x) => s = x,
                Parked::Woken => {
                    // Step 5.
                    awake = true;
                    clock.woken();
                    spin.reset();
                    s = self.state.load(Ordering::Relaxed);
                }
                Parked::HandedOff => {
                    // Step 6: we hold the lock.
                    if !clock.starving() {
                        self.state.fetch_and(!STARVING, Ordering::Relaxed);
                    }
                    return;
                }
            }
        }
    }

    /// Step 4: links a waiter for the caller and parks until an unlock wakes it, unless
    /// the lock is free when checked under the queue's lock.
    fn park(&self, awake: bool, starving: bool, waited: bool) -> Parked {
        let me = Waiter::new(0, WaitReason::Mutex);
        {
            let mut q = self.waiters.lock();
            let mut s = self.state.load(Ordering::Relaxed);
            loop {
                if s & LOCKED == 0 {
                    return Parked::Retry(s);
                }
                let mut new = s | PARKED;
                if awake {
                    new &= !WOKEN;
                }
                if starving {
                    // Only with `LOCKED` set (just checked): `STARVING` implies it.
                    new |= STARVING;
                }
                // Relaxed: what orders this with unlocks is the word's modification order
                // (see "Why no wake-up is lost"), and the queue's lock for the links.
                match self
                    .state
                    .compare_exchange_weak(s, new, Ordering::Relaxed, Ordering::Relaxed)
                {
                    Ok(_) => {
                        if new & STARVING != 0 && s & STARVING == 0 {
                            STARVATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        break;
                    }
                    Err(x) => s = x,
                }
            }
            // SAFETY: `me` stays in this frame until it is unlinked, and we return only
            // after a token: a mutex waiter is unlinked only by the unlock that wakes it.
            unsafe {
                if waited {
                    q.push_front(&me);
                } else {
                    q.push_back(&me);
                }
            }
        }
        match me.wait(None) {
            Some(TOKEN_WOKEN) => Parked::Woken,
            Some(TOKEN_HANDOFF) => Parked::HandedOff,
            _ => fatal("a mutex waiter woken with an unknown token"),
        }
    }

    /// Unlock steps 2 to 4; `s` is the state word right after our release; `look`
    /// says whether this unlock is one that looks around (step 4).
    #[cold]
    #[inline(never)]
    fn unlock_slow(&self, mut s: u32, look: bool) {
        if s & STARVING != 0 {
            // Step 2: take the lock back for the front waiter, unless someone barged in.
            loop {
                if s & LOCKED != 0 {
                    return;
                }
                // Relaxed: the recipient learns of the hand-over through its token, and
                // a barger that sees `LOCKED` set here takes nothing.
                match self.state.compare_exchange_weak(
                    s,
                    s | LOCKED,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return self.hand_off(),
                    Err(x) => s = x,
                }
            }
        }
        // Step 3.
        loop {
            debug_assert!(s & (STARVING | WOKEN) != (STARVING | WOKEN));
            // Nobody parked; someone barged in (their unlock wakes); someone awake is
            // about to try; or a waiter set `STARVING` after a barger took the lock.
            if s & PARKED == 0 || s & (LOCKED | WOKEN | STARVING) != 0 {
                break;
            }
            match self.state.compare_exchange_weak(
                s,
                s | WOKEN,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    self.wake_one();
                    break;
                }
                Err(x) => s = x,
            }
        }
        // Step 4. Never while unwinding: the runtime does not switch away from a
        // panicking green thread. An OS thread does not give way: the waiter it woke
        // is not queued behind it.
        #[cfg(loom)]
        let _ = look;
        #[cfg(not(loom))]
        if look && !std::thread::panicking() {
            if self.state.load(Ordering::Relaxed) & WOKEN != 0 && park::in_green_thread() {
                park::snooze();
            } else {
                crate::preempt_point();
            }
        }
    }

    /// Unlock step 3, once we claimed `WOKEN`: wakes the front waiter.
    fn wake_one(&self) {
        let woken = {
            let mut q = self.waiters.lock();
            // Nothing unlinks waiters but unlocks: the one that claimed `WOKEN` (us) or
            // one that hands over (needs `STARVING`, which only an awake waiter sets —
            // and nobody is awake yet). So the queue still holds the waiter we saw.
            // `PARKED` goes before the token: once woken, the waiter may take the lock
            // and unlock it, and that unlock must not see `PARKED` for an empty queue.
            if q.has_one() {
                self.state.fetch_and(!PARKED, Ordering::Relaxed);
            }
            q.wake_front(TOKEN_WOKEN)
        };
        match woken {
            Some(u) => u.unpark(),
            None => fatal("a mutex had WOKEN set with nobody parked"),
        }
    }

    /// Unlock step 2, once we took the lock back: it goes straight to the front waiter.
    fn hand_off(&self) {
        let u = {
            let mut q = self.waiters.lock();
            // `STARVING` implies a waiter: it was set by one as it linked itself, and
            // is cleared with the last one's hand-over.
            if q.has_one() {
                // Before the token, as in `wake_one`. `LOCKED` stays: it is the
                // recipient's now.
                self.state
                    .fetch_and(!(PARKED | STARVING), Ordering::Relaxed);
            }
            q.wake_front(TOKEN_HANDOFF)
        };
        match u {
            Some(u) => u.unpark(),
            None => fatal("a mutex was starving with nobody parked"),
        }
        // The lock belongs to a waiter that cannot use it until it runs; in a green
        // thread it was just queued in this processor's `runnext`, so a yield runs it
        // now. Never while unwinding: the runtime does not switch away from a panicking
        // green thread.
        #[cfg(not(loom))]
        if !std::thread::panicking() && park::in_green_thread() {
            park::snooze();
        }
    }
}

/// How long a waiter has waited, for starvation mode.
///
/// Under loom, which does not model time, a waiter starves once it has lost one
/// wake-up: the models reach hand-overs deterministically.
struct WaitClock {
    #[cfg(not(loom))]
    since: Option<std::time::Instant>,
    #[cfg(loom)]
    wakes: u32,
}

impl WaitClock {
    fn new() -> WaitClock {
        WaitClock {
            #[cfg(not(loom))]
            since: None,
            #[cfg(loom)]
            wakes: 0,
        }
    }

    /// Whether the caller parked before, in this acquisition; starts the clock if not.
    #[cfg(not(loom))]
    fn waited(&mut self) -> bool {
        if self.since.is_some() {
            return true;
        }
        self.since = Some(std::time::Instant::now());
        false
    }

    #[cfg(loom)]
    fn waited(&mut self) -> bool {
        self.wakes > 0
    }

    #[cfg(not(loom))]
    fn starving(&self) -> bool {
        self.since.is_some_and(|t| t.elapsed() > STARVATION)
    }

    #[cfg(loom)]
    fn starving(&self) -> bool {
        self.wakes > 0
    }

    fn woken(&mut self) {
        #[cfg(loom)]
        {
            self.wakes += 1;
        }
    }
}
