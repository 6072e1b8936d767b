//! `GOGREEN_SCHEDTRACE=<ms>`: one line to stderr every `<ms>` milliseconds, in Go's
//! `GODEBUG=schedtrace` format, so that people who know Go can read it:
//!
//! ```text
//! SCHED 1004ms: gomaxprocs=2 idleprocs=0 threads=4 spinningthreads=0 idlethreads=1 runqueue=0 [3 1]
//! ```
//!
//! - `SCHED 1004ms`: time since the runtime started;
//! - `gomaxprocs`: the processors (`GOGREEN_PROCS`); `idleprocs`: those on the idle list;
//! - `threads`: the Ms, plus sysmon's thread (Go counts it too; `Stats::threads` does
//!   not); `spinningthreads`: Ms looking through other Ps' queues; `idlethreads`: Ms
//!   asleep on the idle list;
//! - `runqueue`: the global queue; `[3 1]`: each P's local queue (its ring, not
//!   `runnext`, as in Go) — one entry per P in play, so a spare P that sysmon put in
//!   play for a stuck one makes the list longer than `gomaxprocs`.
//!
//! `GOGREEN_SCHEDDETAIL=1` adds, as Go's `scheddetail=1` does, a line per P, per M and
//! per green thread (and, like Go, leaves the queue lengths out of the first line: the
//! P lines have them). Every figure is `gogreen::stats()`'s, from the same snapshot
//! code.
//!
//! sysmon prints the lines, between its looks; while the trace is on it never sleeps
//! longer than until the next line is due (Go's sysmon does the same).

use super::census;
use super::clock;
use super::runtime::Runtime;
use super::snapshot::{self, GState, Snapshot};
use std::fmt::Write as _;
use std::io::Write as _;
use std::time::{Duration, Instant};

/// The trace's settings and when the next line is due.
pub(crate) struct Schedtrace {
    every: Duration,
    detail: bool,
    next: Instant,
}

impl Schedtrace {
    /// From `GOGREEN_SCHEDTRACE` and `GOGREEN_SCHEDDETAIL`; `None` if the trace is off.
    /// A malformed value is reported and ignored, as the other settings are.
    pub(crate) fn from_env() -> Option<Schedtrace> {
        let raw = std::env::var("GOGREEN_SCHEDTRACE").ok()?;
        let ms = match raw.trim().parse::<u64>() {
            Ok(0) => return None,
            Ok(ms) => ms,
            Err(e) => {
                eprintln!(
                    "gogreen: ignoring GOGREEN_SCHEDTRACE={raw:?}: {e} (it takes a period in milliseconds)"
                );
                return None;
            }
        };
        let detail = std::env::var("GOGREEN_SCHEDDETAIL").is_ok_and(|v| v.trim() == "1");
        let every = Duration::from_millis(ms);
        Some(Schedtrace {
            every,
            detail,
            next: Instant::now() + every,
        })
    }

    /// When the next line is due: sysmon sleeps no longer.
    pub(crate) fn due(&self) -> Instant {
        self.next
    }

    /// Prints the line (and the details) if it is due.
    pub(crate) fn tick(&mut self, rt: &Runtime, now: Instant) {
        if now < self.next {
            return;
        }
        // After a stall longer than a period: one line now, the next a period later.
        self.next += self.every;
        if self.next <= now {
            self.next = now + self.every;
        }
        let snap = snapshot::take(rt, false);
        let mut out = line(&snap, rt.instant_to_ns(now) / 1_000_000, self.detail);
        if self.detail {
            details(&snap, &mut out);
        }
        // One write, so that the lines of one trace do not interleave with other output.
        let _ = std::io::stderr().lock().write_all(out.as_bytes());
    }
}

/// The first line, with its newline: Go's format. `threads` counts sysmon's thread too.
pub(crate) fn line(snap: &Snapshot, ms: u64, detail: bool) -> String {
    let mut out = format!(
        "SCHED {ms}ms: gomaxprocs={} idleprocs={} threads={} spinningthreads={} idlethreads={} runqueue={}",
        snap.procs,
        snap.idle_ps,
        snap.ms.len() + 1,
        snap.spinning,
        snap.m_states.idle,
        snap.global_queue,
    );
    if !detail {
        let queues: Vec<String> = snap
            .processors
            .iter()
            .map(|p| p.runqueue.to_string())
            .collect();
        let _ = write!(out, " [{}]", queues.join(" "));
    }
    out.push('\n');
    out
}

/// `GOGREEN_SCHEDDETAIL`'s lines: per P, per M, per green thread.
fn details(snap: &Snapshot, out: &mut String) {
    for p in &snap.processors {
        let _ = write!(
            out,
            "  P{}: status={} schedtick={} m={} runqsize={} runnext={} timerslen={}",
            p.id,
            format!("{:?}", p.state).to_lowercase(),
            p.switches,
            p.m.map_or(-1, |m| m as i64),
            p.runqueue,
            p.runnext.map_or(-1, |g| g as i64),
            p.timers,
        );
        out.push('\n');
    }
    for m in &snap.ms {
        let _ = writeln!(
            out,
            "  M{}: p={} curg={} spinning={} blocked={} lockedg={} tid={}",
            m.id,
            m.p.map_or(-1, |p| p as i64),
            m.curg.map_or(-1, |g| g as i64),
            m.spinning,
            m.idle,
            if m.locked {
                m.curg.map_or(-1, |g| g as i64)
            } else {
                -1
            },
            m.tid,
        );
    }
    let now = clock::coarse_ms();
    let mut gs = Vec::new();
    census::for_each_g(|g| {
        let Some(state) = snap.curgs.classify(g) else {
            return;
        };
        let (status, m) = match state {
            GState::Runnable => ("runnable".to_string(), None),
            GState::Running(m) => ("running".to_string(), Some(m)),
            GState::Waiting(why, since) => (
                format!("waiting({why}, {} ms)", now.wrapping_sub(since)),
                None,
            ),
            GState::Blocking(m, since) => (
                format!("syscall(blocking call, {} ms)", now.wrapping_sub(since)),
                Some(m),
            ),
            GState::Dead => ("dead".to_string(), None),
        };
        gs.push((g.id(), status, m));
    });
    gs.sort_by_key(|(id, _, _)| *id);
    for (id, status, m) in gs {
        let _ = writeln!(
            out,
            "  G{id}: status={status} m={}",
            m.map_or(-1, |m| m as i64)
        );
    }
}
