//! The P a blocking call leaves behind: kept for its M to take back cheaply on return,
//! unless sysmon takes it first and gives it to an M that runs the others.
//!
//! # The problem
//!
//! A green thread in `gogreen::blocking(f)` holds no P while `f` runs, so the other
//! green threads keep running. Handing the P to another M costs a futex wake-up (and
//! maybe a thread), and taking one back on return costs a lock — too much for a call
//! that returns within a microsecond, which most `read`s and `stat`s do. Go's answer,
//! kept here: when nothing is queued, the P stays with its M in a "syscall" state,
//! and sysmon takes it away only if the call lasts and something could use it.
//!
//! # The protocol
//!
//! The P's syscall word is 0 ("not in a call") or the sequence number of the call that
//! left it (never 0; new for each call on this P, so sysmon can tell one long call from
//! two short ones).
//!
//! The M making the call (`blocking.rs`):
//!
//! - E1. If the P has queued work, it hands it off at once (`handoff.rs`) and skips
//!   the rest: the queued Gs must run *now*.
//! - E2. Otherwise it leaves the P ([`Syscall::enter`]): `word = seq`, Release.
//! - E3. It runs the call, holding no P.
//! - E4. It takes the P back ([`Syscall::exit`]): CAS `seq → 0`, Acquire. If that
//!   fails, sysmon took the P; the M looks for another one (an idle P, or it queues its
//!   G and sleeps).
//!
//! sysmon, once per period:
//!
//! - R1. Reads the word ([`Syscall::current`]); a non-zero value equal to the one it
//!   read at its previous look means the same call has lasted a whole period.
//! - R2. If so and the P could be used (`sysmon.rs` says when), CAS `seq → 0`
//!   ([`Syscall::retake`]), AcqRel. Won: sysmon owns the P and must give it away. Lost:
//!   the M came back first (E4) and keeps it.
//!
//! Exactly one of E4 and R2 wins: they CAS the same word from the same value. The
//! winner owns the P's queues and caches: E2's Release pairs with R2's Acquire, so a
//! retaker sees what the owner wrote to the P before leaving it. A failed E4 learns
//! nothing it must read; a later call on the same P (by whoever got it) writes a new
//! sequence number, so a stale E4 or R2 can never match it.
//!
//! Rejected: handing the P off at every call — two thread wake-ups per call, measured
//! at ~50 µs a call where the syscall word costs ~14 ns (`docs/BENCHMARKS.md`; E1
//! pays it only when Gs are queued, because then they must run at once); keeping the
//! P and letting sysmon's spare processors rescue the queue (`sysmon.rs`) — that takes
//! 10 ms and a spare each time.
//!
//! `loom-tests/tests/sched_syscall.rs` models E2–E4 against R1–R2.

use crate::loom::{AtomicU32, Ordering};

/// A P's syscall word.
pub struct Syscall {
    /// 0, or the sequence number of the call that left the P (E2). Written by the P's
    /// owner (E2), cleared by whoever wins E4 or R2.
    word: AtomicU32,
}

impl Syscall {
    pub fn new() -> Self {
        Syscall {
            word: AtomicU32::new(0),
        }
    }

    /// E2: the owner leaves the P for the call numbered `seq` (not 0). From here on the
    /// owner must not touch the P until [`exit`](Syscall::exit) returns `true`.
    #[inline]
    pub fn enter(&self, seq: u32) {
        debug_assert_ne!(seq, 0);
        // Release: the owner's writes to the P are visible to a retaker (R2's Acquire).
        self.word.store(seq, Ordering::Release);
    }

    /// E4: the owner's call `seq` returned. Returns `true` if the P is the owner's
    /// again; `false` if sysmon took it (R2).
    #[inline]
    pub fn exit(&self, seq: u32) -> bool {
        // Acquire: nobody else wrote to the P if we win (R2 failed), so this pairs with
        // nothing in that case; it keeps the P's later reads after the CAS regardless.
        self.word
            .compare_exchange(seq, 0, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// R1: the call holding the P right now, or 0. A snapshot.
    #[inline]
    pub fn current(&self) -> u32 {
        self.word.load(Ordering::Relaxed)
    }

    /// R2: takes the P from call `seen` if that call still holds it. Returns `true` if
    /// the caller now owns the P and **must** give it away.
    pub fn retake(&self, seen: u32) -> bool {
        seen != 0
            // AcqRel: Acquire pairs with E2's Release store (the P's state); Release
            // orders the retaker's claim before its uses of the P.
            && self
                .word
                .compare_exchange(seen, 0, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
    }
}

impl Default for Syscall {
    fn default() -> Self {
        Syscall::new()
    }
}
