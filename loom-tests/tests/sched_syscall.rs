//! loom models of the P a blocking call leaves behind (`gogreen::syscall`): the M that
//! comes back (E2–E4) against sysmon taking the P away (R1–R2).
//!
//! What must hold:
//!
//! - **One owner**: exactly one of the returning M and sysmon gets the P. Both would
//!   run its queues and caches at once. The P's owner-only state is a loom
//!   `UnsafeCell` that each winner writes: loom reports two unordered writes.
//! - **The winner sees the P as its owner left it**: E2's Release pairs with R2's
//!   Acquire. sysmon reads what the M wrote before leaving.
//! - **A stale look takes nothing**: sysmon's CAS names the call it saw; once that call
//!   returned, a later call on the same P has another number, so sysmon cannot take the
//!   P from under it.
#![cfg(loom)]

mod sched_common;

use gogreen::syscall::Syscall;
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use sched_common::{Outcomes, check};

/// The parts of a P the models need.
struct P {
    syscall: Syscall,
    /// Stands for the P's queues and caches: written only by its owner.
    local: UnsafeCell<u32>,
}

impl P {
    fn new() -> Arc<P> {
        Arc::new(P {
            syscall: Syscall::new(),
            local: UnsafeCell::new(0),
        })
    }

    /// A write by the P's owner; loom reports it if another owner's is not ordered.
    fn own(&self, add: u32) -> u32 {
        // SAFETY: the caller owns the P — the claim under test.
        self.local.with_mut(|v| unsafe {
            *v += add;
            *v
        })
    }
}

#[test]
fn the_returning_m_or_sysmon_gets_the_p() {
    static OUTCOMES: Outcomes = Outcomes::new();
    check("the_returning_m_or_sysmon_gets_the_p", |start| {
        let p = P::new();
        let m = {
            let p = p.clone();
            thread::spawn(move || {
                p.own(1); // the M's last use of the P before the call
                p.syscall.enter(1); // E2
                // E3: the call.
                if p.syscall.exit(1) {
                    p.own(10); // E4 won: the P is the M's again
                    true
                } else {
                    false
                }
            })
        };
        let sysmon = {
            let p = p.clone();
            thread::spawn(move || {
                let seen = p.syscall.current(); // R1, first look
                let again = p.syscall.current(); // the next look
                if again == seen && p.syscall.retake(seen) {
                    // R2 won: the P is as the M left it.
                    assert_eq!(p.own(100), 101);
                    true
                } else {
                    false
                }
            })
        };
        start.spawned();
        let kept = m.join().unwrap();
        let took = sysmon.join().unwrap();
        assert!(
            kept != took,
            "kept {kept}, took {took}: the P needs one owner"
        );
        OUTCOMES.mark(if kept { "kept" } else { "took" });
    });
    OUTCOMES.assert_reached(&["kept", "took"]);
}

#[test]
fn a_stale_look_takes_nothing() {
    static OUTCOMES: Outcomes = Outcomes::new();
    check("a_stale_look_takes_nothing", |start| {
        let p = P::new();
        let m = {
            let p = p.clone();
            thread::spawn(move || {
                // Two calls on the same P; returns the one that lost the P, if any.
                for seq in [1, 2] {
                    p.own(1);
                    p.syscall.enter(seq);
                    if !p.syscall.exit(seq) {
                        return Some(seq);
                    }
                }
                p.own(1);
                None
            })
        };
        let sysmon = {
            let p = p.clone();
            thread::spawn(move || {
                let seen = p.syscall.current();
                // However long ago it looked, it takes the P only from the call it saw.
                if p.syscall.retake(seen) {
                    p.own(100);
                    Some(seen)
                } else {
                    None
                }
            })
        };
        start.spawned();
        let lost = m.join().unwrap();
        let took = sysmon.join().unwrap();
        assert_eq!(lost, took, "sysmon took the P from a call it did not see");
        OUTCOMES.mark(match took {
            None => "none taken",
            Some(1) => "first call's taken",
            Some(_) => "second call's taken",
        });
    });
    OUTCOMES.assert_reached(&["none taken", "first call's taken", "second call's taken"]);
}
