//! `GOGREEN_WARN=1`: one line to stderr, once per green thread, when it keeps its P
//! from the others for too long — the habits a green-thread program must unlearn.
//!
//! ```text
//! gogreen: warning: green thread 5 "hash" (spawned at src/main.rs:12:5) kept its P over 10 ms computing, without a runtime call: call gogreen::preempt_point() in long loops
//! gogreen: warning: green thread 6 (spawned at src/main.rs:20:9) kept its P over 10 ms blocked in the kernel: wrap blocking calls in gogreen::blocking
//! ```
//!
//! sysmon already watches every P for one that has not switched green threads since
//! its previous look (`sysmon.rs`); with the warnings on, it also notes, at the first
//! such look, how many times the OS thread that holds the P has blocked in the kernel
//! (`voluntary_ctxt_switches` in `/proc/self/task/<tid>/status`), and once the P has
//! been held [`HOLD_LIMIT`] longer, it decides, once per hold, and names the green
//! thread. A thread that blocked during the hold, or is asleep in the kernel now (`S`
//! or `D` in `.../stat`: one long call that began before the hold), made a blocking
//! call the runtime was not told about (`std::fs`, `std::thread::sleep`, a std lock) —
//! the kind sysmon must hand the P off from. A thread that did not block is named as
//! computing once it has also run [`HOLD_LIMIT`] on a CPU during the hold (its thread
//! CPU clock): a loop that never blocks has no voluntary switches, however often a
//! loaded machine preempts it, but neither has a sleeper that woke just before the
//! first look and then waited over 10 ms for a CPU — until it runs, it is judged
//! later. Rejected: the state alone — a sample may fall between two short sleeps of a
//! loop, or on a sleeper that has woken and waits for a CPU; the CPU time alone — on a
//! loaded machine a thread asleep in the kernel and one waiting for a CPU both run
//! little, and only the first is a blocking call.
//!
//! Off (the default), it costs sysmon one branch per stuck P; the green threads pay
//! nothing either way. On, sysmon opens files in `/proc` for a moment now and then:
//! a program that reuses an fd number it just closed may find it taken.

use super::g::{G, flag};
use super::p::P;
use super::recycle::free_g;
use super::runtime::Runtime;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How long a green thread may hold its P without a runtime call before it is named
/// (the issue's 10 ms, which is also when sysmon starts to hand its P off).
pub(crate) const HOLD_LIMIT: Duration = Duration::from_millis(10);

/// Whether `GOGREEN_WARN=1` is set.
fn enabled() -> bool {
    match std::env::var("GOGREEN_WARN") {
        Ok(v) if v.trim() == "1" => true,
        Ok(v) if v.trim() == "0" || v.trim().is_empty() => false,
        Ok(v) => {
            eprintln!("gogreen: ignoring GOGREEN_WARN={v:?}: it takes 1 (on) or 0 (off)");
            false
        }
        Err(_) => false,
    }
}

/// What sysmon keeps for the warnings: per P, since when (by its own looks) the P
/// has held the same green thread.
pub(crate) struct Warner {
    held: Vec<Option<Held>>,
}

#[derive(Clone, Copy)]
struct Held {
    /// The P's `schedtick` when first seen stuck: the same value means the same hold.
    tick: u64,
    /// How many times the holding OS thread had blocked in the kernel then (`None` if
    /// unreadable).
    blocks: Option<u64>,
    /// Its CPU time then (`None` if unreadable).
    cpu: Option<Duration>,
    at: Instant,
    /// This hold was judged already (at most once per hold).
    judged: bool,
}

impl Warner {
    /// `Some` if `GOGREEN_WARN=1`; read once, by sysmon at its start.
    pub(crate) fn from_env(ps: usize) -> Option<Warner> {
        enabled().then(|| Warner {
            held: vec![None; ps],
        })
    }

    /// sysmon saw `p` still at `tick`, as at its previous look: names the green thread
    /// that holds it once it has held it [`HOLD_LIMIT`] — once per green thread and kind.
    pub(crate) fn stuck(&mut self, rt: &Runtime, p: &P, tick: u64, now: Instant) {
        let Some((g, tid)) = rt.live_ms().into_iter().find_map(|m| {
            let g = m.curg.get();
            // SAFETY: G headers are never freed.
            (std::ptr::eq(m.p.get(), p) && !g.is_null())
                .then(|| (unsafe { &*g }, m.tid.load(Ordering::Relaxed)))
        }) else {
            self.held[p.id] = None;
            return;
        };
        let held = match self.held[p.id] {
            Some(h) if h.tick == tick => h,
            _ => {
                self.held[p.id] = Some(Held {
                    tick,
                    blocks: voluntary_switches(tid),
                    cpu: thread_cpu_time(tid),
                    at: now,
                    judged: false,
                });
                return;
            }
        };
        let wall = now.duration_since(held.at);
        if held.judged || wall < HOLD_LIMIT {
            return;
        }
        let blocked = thread_asleep(tid)
            || matches!((held.blocks, voluntary_switches(tid)), (Some(a), Some(b)) if b > a);
        // Neither blocked nor computing yet: it mostly waited for a CPU. Judged later.
        let ran = || match (held.cpu, thread_cpu_time(tid)) {
            (Some(a), Some(b)) => b.saturating_sub(a) >= HOLD_LIMIT,
            _ => true,
        };
        if !blocked && !ran() {
            return;
        }
        if let Some(h) = &mut self.held[p.id] {
            h.judged = true;
        }
        // Pinned, so that its name and spawn location stay its own while they are read.
        if !g.observe() {
            return;
        }
        let bit = if blocked {
            flag::WARNED_BLOCKED
        } else {
            flag::WARNED_HOG
        };
        if g.flag_once(bit) {
            let line = describe(g, wall, blocked);
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        }
        if g.unobserve() {
            free_g(g);
        }
    }
}

/// The warning line for `g`.
fn describe(g: &G, held: Duration, blocked: bool) -> String {
    let mut line = format!("gogreen: warning: green thread {}", g.id());
    if let Some(name) = g.name_str() {
        let _ = write!(line, " {name:?}");
    }
    let _ = write!(line, " (spawned at {})", g.spawned_at());
    let ms = held.as_millis();
    if blocked {
        let _ = writeln!(
            line,
            " kept its P over {ms} ms blocked in the kernel: wrap blocking calls in \
             gogreen::blocking"
        );
    } else {
        let _ = writeln!(
            line,
            " kept its P over {ms} ms computing, without a runtime call: call \
             gogreen::preempt_point() in long loops"
        );
    }
    line
}

/// Whether thread `tid` sleeps in the kernel (state `S` or `D`); `false` if unknown.
fn thread_asleep(tid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")) else {
        return false;
    };
    // The state is the first field after the parenthesised command name.
    stat.rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next())
        .is_some_and(|s| s == "S" || s == "D")
}

/// How many times thread `tid` has blocked in the kernel (`voluntary_ctxt_switches`),
/// or `None`.
fn voluntary_switches(tid: i32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))?
        .trim()
        .parse()
        .ok()
}

/// The CPU time thread `tid` of this process has used (its thread CPU clock, exact to
/// the moment, where `schedstat` lags by up to a scheduler tick), or `None`.
fn thread_cpu_time(tid: i32) -> Option<Duration> {
    if tid <= 0 {
        return None; // Not started: 0 would name the calling thread's clock.
    }
    // The kernel's clock id for a thread's CPU clock: the tid, inverted and shifted,
    // with CPUCLOCK_PERTHREAD (4) | CPUCLOCK_SCHED (2) (`posix-timers.h`).
    let clock = (!tid << 3) | 6;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer; an unknown clock id is refused with EINVAL.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return None;
    }
    Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}
