//! `std::sync::Once` for green threads: run an initialiser once; everyone else waits for
//! it to finish.
//!
//! # The protocol
//!
//! The state word is a status — `INCOMPLETE`, `RUNNING`, `COMPLETE`, `POISONED` — plus a
//! `QUEUED` bit: someone waits in the queue.
//!
//! 1. **Done already**: an Acquire load sees `COMPLETE`; return. (Acquire pairs with the
//!    runner's Release in step 3: what the initialiser wrote is visible.)
//! 2. **Run**: CAS `INCOMPLETE` (or `POISONED`, for `call_once_force`) → `RUNNING`,
//!    keeping `QUEUED`. The winner runs the initialiser.
//! 3. **Finish**: swap in `COMPLETE` — or `POISONED`, if the initialiser panicked (a
//!    guard's drop does it while unwinding) — clearing `QUEUED`, with Release. If
//!    `QUEUED` was set, wake every waiter of this attempt, a batch of 32 per hold of the
//!    queue lock.
//! 4. **Wait**: anyone else takes the queue lock, re-reads the state, and if it still
//!    says "not done" CASes in `QUEUED`, links a [`Waiter`] from its frame tagged with
//!    the attempt number, releases the lock and parks. Woken, it starts over at step 1.
//!
//! A waiter sets `QUEUED` by CAS under the queue lock and links itself in the same
//! hold; step 3's swap is on the same word. So either the CAS saw the attempt finished
//! (and the caller starts over), or the swap sees `QUEUED` and the runner reaches the
//! waiter through the queue lock.
//!
//! The attempt number (kept under the queue lock, bumped at each step 3 that wakes) stops
//! a runner from waking the waiters of the *next* attempt — one that a
//! `call_once_force` started after this one was poisoned — over and over while they
//! queue again.

use super::queue::{self, WaitQueue};
use super::waiter::Waiter;
use crate::loom::{AtomicU32, Ordering};
use gogreen_channel::park::WaitReason;
use std::fmt;

const INCOMPLETE: u32 = 0;
const POISONED: u32 = 1;
const RUNNING: u32 = 2;
const COMPLETE: u32 = 3;
const STATUS: u32 = 3;
const QUEUED: u32 = 4;

/// The token of a finished attempt.
const FINISHED: u32 = 1;

/// Runs a one-time initialisation, with `std::sync::Once`'s API. Callers that come
/// while it runs park (a green thread) or block (an OS thread) until it is done.
///
/// ```
/// use gogreen::sync::Once;
///
/// static INIT: Once = Once::new();
/// let mut runs = 0;
/// INIT.call_once(|| runs += 1);
/// INIT.call_once(|| runs += 1);
/// assert_eq!(runs, 1);
/// assert!(INIT.is_completed());
/// ```
pub struct Once {
    /// Status and `QUEUED`; see the module docs.
    state: AtomicU32,
    /// Waiters, with the current attempt number.
    waiters: WaitQueue<usize>,
}

/// What `call_once_force`'s closure learns: whether an earlier attempt panicked.
#[derive(Debug)]
pub struct OnceState {
    poisoned: bool,
}

impl OnceState {
    /// Whether an earlier initialiser panicked, leaving the `Once` poisoned.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }
}

impl Once {
    super::loom_const_fn! {
        /// A `Once` that has not run.
        pub fn new() -> Once {
            Once {
                state: AtomicU32::new(INCOMPLETE),
                waiters: WaitQueue::new(0),
            }
        }
    }

    /// Runs `f` if no initialiser has completed yet; otherwise waits for the running one
    /// to finish, or returns at once if one has. When this returns, an initialiser has
    /// completed, and what it wrote is visible.
    ///
    /// # Panics
    ///
    /// If an earlier initialiser panicked (the `Once` is poisoned), or if `f` panics.
    /// [`call_once_force`](Once::call_once_force) runs despite poisoning.
    #[inline]
    pub fn call_once<F: FnOnce()>(&self, f: F) {
        if self.is_completed() {
            return;
        }
        let mut f = Some(f);
        self.call(false, &mut |_| (f.take().expect("runs once"))());
    }

    /// As [`call_once`](Once::call_once), but runs even if an earlier initialiser
    /// panicked; `f` learns of that through [`OnceState::is_poisoned`].
    #[inline]
    pub fn call_once_force<F: FnOnce(&OnceState)>(&self, f: F) {
        if self.is_completed() {
            return;
        }
        let mut f = Some(f);
        self.call(true, &mut |state| (f.take().expect("runs once"))(state));
    }

    /// Whether an initialiser has completed (a snapshot; `true` stays `true`).
    #[inline]
    pub fn is_completed(&self) -> bool {
        // Acquire: step 1.
        self.state.load(Ordering::Acquire) == COMPLETE
    }

    /// Waits until an initialiser has completed, without running one.
    ///
    /// # Panics
    ///
    /// If the `Once` is poisoned, or becomes poisoned while we wait.
    pub fn wait(&self) {
        self.wait_until_complete(false);
    }

    /// Waits until an initialiser has completed, ignoring poisoning: a poisoned `Once`
    /// is waited on until a `call_once_force` completes it.
    pub fn wait_force(&self) {
        self.wait_until_complete(true);
    }

    #[cold]
    fn wait_until_complete(&self, ignore_poison: bool) {
        loop {
            let s = self.state.load(Ordering::Acquire);
            match s & STATUS {
                COMPLETE => return,
                POISONED if !ignore_poison => poisoned(),
                _ => self.park(|s| {
                    let status = s & STATUS;
                    status != COMPLETE && (ignore_poison || status != POISONED)
                }),
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn call(&self, ignore_poison: bool, f: &mut dyn FnMut(&OnceState)) {
        let mut s = self.state.load(Ordering::Acquire);
        loop {
            match s & STATUS {
                COMPLETE => return,
                POISONED if !ignore_poison => poisoned(),
                INCOMPLETE | POISONED => {
                    // Step 2. Acquire: a poisoned attempt's writes are visible to the next.
                    if let Err(x) = self.state.compare_exchange_weak(
                        s,
                        RUNNING | (s & QUEUED),
                        Ordering::Acquire,
                        Ordering::Acquire,
                    ) {
                        s = x;
                        continue;
                    }
                    let mut finish = Finish {
                        once: self,
                        status: POISONED,
                    };
                    f(&OnceState {
                        poisoned: s & STATUS == POISONED,
                    });
                    finish.status = COMPLETE;
                    return;
                }
                _ => {
                    // Step 4.
                    self.park(|s| s & STATUS == RUNNING);
                    s = self.state.load(Ordering::Acquire);
                }
            }
        }
    }

    /// Step 4: queues the caller and parks, if `not_done` still holds for the state
    /// when checked under the queue lock.
    fn park(&self, not_done: impl Fn(u32) -> bool) {
        let me = Waiter::new(0, WaitReason::Once);
        {
            let mut q = self.waiters.lock();
            let mut s = self.state.load(Ordering::Relaxed);
            loop {
                if !not_done(s) {
                    return;
                }
                // Relaxed: the word's modification order orders us with step 3's swap.
                match self.state.compare_exchange_weak(
                    s,
                    s | QUEUED,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => break,
                    Err(x) => s = x,
                }
            }
            me.data.set(q.state);
            // SAFETY: `me` stays in this frame until step 3 unlinks it, and we return
            // only after its token; `Once` waiters never unlink themselves.
            unsafe { q.push_back(&me) };
        }
        me.wait(None);
    }

    /// Step 3.
    fn finish(&self, status: u32) {
        // Release: what the initialiser wrote is visible to whoever sees the status.
        let prev = self.state.swap(status, Ordering::Release);
        if prev & QUEUED == 0 {
            return;
        }
        let mut batch: [_; queue::BATCH] = Default::default();
        let mut attempt = None;
        loop {
            let (n, more) = {
                let mut q = self.waiters.lock();
                let attempt = *attempt.get_or_insert_with(|| {
                    let a = q.state;
                    q.state = q.state.wrapping_add(1);
                    a
                });
                let n = q.wake_some(FINISHED, &mut batch, |a| a == attempt);
                (n, q.front() == Some(attempt))
            };
            queue::unpark_all(&mut batch[..n]);
            if !more {
                return;
            }
        }
    }
}

/// Ends an attempt when dropped: `COMPLETE` if the initialiser returned, `POISONED` if
/// it unwound.
struct Finish<'a> {
    once: &'a Once,
    status: u32,
}

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        self.once.finish(self.status);
    }
}

#[cold]
#[track_caller]
fn poisoned() -> ! {
    panic!(
        "gogreen::sync::Once instance has previously been poisoned (an initialiser panicked); \
         use call_once_force to run another"
    )
}

impl Default for Once {
    fn default() -> Once {
        Once::new()
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once").finish_non_exhaustive()
    }
}

impl std::panic::UnwindSafe for Once {}
impl std::panic::RefUnwindSafe for Once {}
