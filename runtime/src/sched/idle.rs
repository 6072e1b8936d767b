//! Spinning and idle Ms, and the protocol that never loses a wake-up.
//!
//! # The problem
//!
//! An M that finds no work gives up its P and sleeps. Meanwhile another thread makes a
//! G runnable. If both act at once, the work can sit in a queue while every M sleeps —
//! or, if every submitter woke an M, each channel send would cost a futex wake-up
//! (Go measured that as the dominant cost of ping-pong before it had spinning Ms).
//!
//! Rejected designs (the same ones Go's `proc.go` lists): a global lock around "queue
//! work + maybe wake" serialises every spawn and send; waking an M on every submission
//! wastes a system call per operation when Ms are already looking; letting the
//! submitter check "is anyone idle?" without a fence loses wake-ups on x86, whose store
//! buffer lets the submitter's check run before its push is visible (the store-buffer
//! litmus test).
//!
//! # The protocol (Go's, with its fence order)
//!
//! An M *spins* when it has a P but no G and is looking through the other queues. At
//! most half the busy Ps have a spinning M. Counters: `nmspinning` (spinning Ms),
//! `npidle` (Ps on the idle list). All their accesses are SeqCst.
//!
//! Submitter — whoever makes a G runnable ([`Idle::should_wake`]):
//!
//! - S1. Make the work visible (push onto a run queue or the global queue).
//! - S2. `fence(SeqCst)`: StoreLoad — the push is visible before the counters are read.
//! - S3. If `nmspinning != 0`: no wake-up; a spinning M will find the work, or see it
//!   when it re-checks after it stops spinning (T4).
//! - S4. If `npidle == 0`: no wake-up; every P is held by a running M.
//! - S5. CAS `nmspinning` 0 → 1; if lost, someone else is starting a spinner.
//! - S6. The caller starts an M on an idle P, spinning ([`Idle::take_idle`]); if no P is
//!   idle after all, it undoes S5 ([`Idle::cancel_spin`]).
//!
//! Spinning M giving up (the end of `worker::find_runnable`):
//!
//! - T1. Under the lock, if the global queue has work, keep the P and take it; else put
//!   the P on the idle list, `npidle += 1` ([`Idle::release_p`]).
//! - T2. If spinning: `nmspinning -= 1` ([`Idle::stop_spinning`]).
//! - T3. `fence(SeqCst)`: StoreLoad — the decrement is visible before queues are read.
//! - T4. Re-check every P's run queue and the global queue; if any has work, take an idle
//!   P and spin again.
//! - T5. Sleep until handed a P.
//!
//! Why nothing is lost: say T4 missed a push. SeqCst fences are totally ordered; had S2
//! come before T3, T4 (after T3) would see the push (before S2). So T3 came first, and
//! the submitter's reads after S2 see T1 and T2: `npidle ≥ 1`, and `nmspinning` without
//! this M. Either another M still spins — and the last spinner to stop runs T4 after the
//! push — or `nmspinning == 0` and the submitter wakes an M (S5–S6).
//!
//! An M that gives up its P without having spun skips T4: it did not spin because at
//! least one other M spins, and that one will re-check.
//!
//! One submitter skips S2–S6 altogether: the owner of a P pushing a G out of `runnext`
//! onto its own small ring while it is seen getting to that ring (L1–L4 of `steal.rs`).
//! It runs the G itself; if it stops switching, sysmon's look wakes an M, through S2–S6.

use crate::loom::{AtomicUsize, Mutex, Ordering, fence};

/// The idle lists and spinning counters. `M` is the handle of an OS thread (a
/// `&'static M` in the runtime, a loom thread in the models).
pub struct Idle<M> {
    nmspinning: AtomicUsize,
    npidle: AtomicUsize,
    lists: Mutex<Lists<M>>,
    nprocs: usize,
}

struct Lists<M> {
    /// Indices of idle Ps.
    pidle: Vec<usize>,
    /// Ms sleeping without a P.
    midle: Vec<M>,
}

impl<M> Idle<M> {
    /// All `nprocs` Ps start idle.
    pub fn new(nprocs: usize) -> Self {
        Idle {
            nmspinning: AtomicUsize::new(0),
            npidle: AtomicUsize::new(nprocs),
            lists: Mutex::new(Lists {
                pidle: (0..nprocs).rev().collect(),
                midle: Vec::new(),
            }),
            nprocs,
        }
    }

    /// Steps S2–S5, after the caller made work visible (S1). Returns `true` if the
    /// caller **must** start a spinning M (S6).
    #[inline]
    pub fn should_wake(&self) -> bool {
        fence(Ordering::SeqCst); // S2
        if self.nmspinning.load(Ordering::SeqCst) != 0 {
            return false; // S3
        }
        self.should_wake_unfenced()
    }

    /// S3–S5 without the S2 fence. Not a no-lost-wake-up check: a running P that pushed
    /// onto its own queue uses it, because that P will run the work itself if nobody
    /// wakes (a missed wake-up costs parallelism, not progress; sysmon catches it within
    /// a period). The loom model `local_submit_unfenced_busy_pusher_can_strand_work`
    /// shows why nobody else may rely on it.
    #[inline]
    pub fn should_wake_unfenced(&self) -> bool {
        if self.nmspinning.load(Ordering::SeqCst) != 0 || self.npidle.load(Ordering::SeqCst) == 0 {
            return false; // S3, S4
        }
        // S5
        self.nmspinning
            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// S6 (or T4's re-acquire): takes an idle P and, if any, an idle M to run it.
    pub fn take_idle(&self) -> Option<(usize, Option<M>)> {
        let mut lists = self.lists.lock();
        let p = lists.pidle.pop()?;
        self.npidle.fetch_sub(1, Ordering::SeqCst);
        let m = lists.midle.pop();
        Some((p, m))
    }

    /// Takes an idle P without an M (T4: the caller is the M).
    pub fn take_idle_p(&self) -> Option<usize> {
        let mut lists = self.lists.lock();
        let p = lists.pidle.pop()?;
        self.npidle.fetch_sub(1, Ordering::SeqCst);
        Some(p)
    }

    /// Takes an idle P for `m`, an idle M that found work by itself (Gs its poll made
    /// runnable), and takes `m` off the idle list with it. `None` if no P is idle, or if
    /// `m` is no longer listed: someone took it to hand it a P, which is on its way.
    pub fn take_idle_p_for(&self, m: &M) -> Option<usize>
    where
        M: PartialEq,
    {
        let mut lists = self.lists.lock();
        if lists.pidle.is_empty() {
            return None;
        }
        let at = lists.midle.iter().position(|x| x == m)?;
        lists.midle.remove(at);
        let p = lists.pidle.pop()?;
        self.npidle.fetch_sub(1, Ordering::SeqCst);
        Some(p)
    }

    /// Undoes S5 when S6 found no idle P.
    pub fn cancel_spin(&self) {
        self.nmspinning.fetch_sub(1, Ordering::SeqCst);
    }

    /// Whether an M that has no work may start spinning (at most half the busy Ps have
    /// a spinner); if so, counts it as spinning.
    pub fn try_spin(&self) -> bool {
        let spinning = self.nmspinning.load(Ordering::SeqCst);
        // Saturating: Ps replaced by spares (sysmon) are briefly extra.
        let busy = self
            .nprocs
            .saturating_sub(self.npidle.load(Ordering::SeqCst));
        if 2 * spinning >= busy {
            return false;
        }
        self.nmspinning.fetch_add(1, Ordering::SeqCst);
        true
    }

    /// Counts one more spinning M (an M woken to spin, or T4 going back to spinning).
    pub fn add_spinning(&self) {
        self.nmspinning.fetch_add(1, Ordering::SeqCst);
    }

    /// A spinning M found work and stops spinning. Returns `true` if it was the last
    /// spinner: the caller **must** then try to wake another M (S2–S6), since more
    /// work may be waiting (Go's `resetspinning`).
    pub fn found_work(&self) -> bool {
        self.nmspinning.fetch_sub(1, Ordering::SeqCst) == 1
    }

    /// T1: puts P `p` on the idle list, unless `has_global_work` says (under the lock)
    /// there is work in the global queue; then returns `false` and the caller keeps `p`.
    pub fn release_p(&self, p: usize, has_global_work: impl FnOnce() -> bool) -> bool {
        let mut lists = self.lists.lock();
        if has_global_work() {
            return false;
        }
        lists.pidle.push(p);
        self.npidle.fetch_add(1, Ordering::SeqCst);
        true
    }

    /// T2 and T3: the M stops spinning; after this it **must** re-check every queue (T4).
    pub fn stop_spinning(&self) {
        self.nmspinning.fetch_sub(1, Ordering::SeqCst); // T2
        fence(Ordering::SeqCst); // T3
    }

    /// T5, first half: records `m` as sleeping without a P. Called before the M parks;
    /// whoever takes it from the list hands it a P and unparks it.
    pub fn push_idle_m(&self, m: M) {
        self.lists.lock().midle.push(m);
    }

    /// Takes a sleeping M off the list, to hand it a P the caller holds.
    pub fn pop_idle_m(&self) -> Option<M> {
        self.lists.lock().midle.pop()
    }

    /// Runs `f` on the idle Ps and the sleeping Ms, under the lists' lock: while it
    /// runs, no P leaves or joins the idle list and no M is taken off it (observers:
    /// `gogreen::stats`, the deadlock check, which needs exactly that). `f` must not
    /// call back into `self`.
    #[allow(dead_code)] // for observers; not in the loom build
    pub fn with_lists<R>(&self, f: impl FnOnce(&[usize], &[M]) -> R) -> R {
        let lists = self.lists.lock();
        f(&lists.pidle, &lists.midle)
    }

    /// Idle Ps right now (a snapshot).
    pub fn npidle(&self) -> usize {
        self.npidle.load(Ordering::SeqCst)
    }

    /// Spinning Ms right now (a snapshot).
    pub fn nmspinning(&self) -> usize {
        self.nmspinning.load(Ordering::SeqCst)
    }

    #[allow(dead_code)] // for the loom models
    pub fn nprocs(&self) -> usize {
        self.nprocs
    }
}
