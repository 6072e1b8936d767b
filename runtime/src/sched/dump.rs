//! The task dump, `gogreen::dump()`: every green thread — id, name, state, what it
//! waits for and for how long, where it was spawned — with the frames of each parked
//! one, read from its saved context. Go's goroutine dump, for green threads; `SIGQUIT`
//! prints it (`sigquit.rs`), and so does the deadlock report (`deadlock.rs`).
//!
//! ```text
//! green thread 7 "worker" [chan receive, 2.4 s]:
//!   spawned at examples/deadlock.rs:31:9
//!    0: gogreen_channel::flavors::zero::Channel<T>::recv
//!              at ./channel/src/flavors/zero.rs:220:22
//!    ...
//!    4: deadlock::worker
//!              at ./examples/deadlock.rs:40:17
//! ```
//!
//! # Reading a parked green thread's frames
//!
//! 1. Pin the task (`G::observe`): its header is not recycled while the dump reads its
//!    name and spawn location.
//! 2. Take it from `WAITING` (`State::seize`), as an unpark would, but without queueing
//!    it: nobody else may resume its stack now.
//! 3. Unwind from its saved stack pointer (`stack::backtrace`).
//! 4. Give it back (`State::commit_park`). If an unpark came in the meantime it found
//!    the G `ACTIVE` and left a token; the commit then fails, and the dump queues the G
//!    as that unpark would have (`ready`). The wake-up is late by the time the unwind
//!    took (a fraction of a millisecond), never lost.
//!
//! A G that waits with its M (thread-locked or panicking, `pinned.rs`) has no saved
//! context — its stack is live under its sleeping M — and a running or runnable one is
//! not the dump's to hold: for those, the state and the M, without frames.

use super::census;
use super::clock;
use super::g::G;
use super::m::M;
use super::ready::ready;
use super::recycle::free_g;
use super::runtime::{RUNTIME, Runtime};
use super::schedtrace;
use super::snapshot::{self, GState, Snapshot};
use crate::stack::backtrace;
use std::fmt::Write as _;
use std::ptr;

/// Every green thread, as text (see the module docs). An empty report if the runtime
/// has not started. Safe to call from anywhere, at any time: it stops nothing; a parked
/// green thread whose frames are being read has its wake-up held back for that long.
pub fn dump() -> String {
    match RUNTIME.get() {
        Some(rt) => write(rt),
        None => "gogreen: the runtime has not started: no green threads\n".to_string(),
    }
}

/// The dump of `rt`.
pub(crate) fn write(rt: &'static Runtime) -> String {
    let snap = snapshot::take(rt, true);
    let now = clock::coarse_ms();
    let mut out = schedtrace::line(&snap, rt.now() / 1_000_000, false);
    let ms = rt.live_ms();
    let mut entries: Vec<(u64, String)> = Vec::new();
    census::for_each_g(|g| {
        if let Some(entry) = describe(g, &snap, &ms, now) {
            entries.push(entry);
        }
    });
    entries.sort_by_key(|(id, _)| *id);
    if let Some(t) = &snap.tasks {
        let _ = writeln!(
            out,
            "{} green threads: {} running, {} runnable, {} waiting, {} dead",
            entries.len(),
            t.running,
            t.runnable,
            t.waiting_total(),
            t.dead
        );
    }
    for (_, text) in entries {
        out.push('\n');
        out.push_str(&text);
    }
    out
}

/// One green thread's entry, or `None` if `g` holds no task.
fn describe(g: &'static G, snap: &Snapshot, ms: &[&'static M], now: u32) -> Option<(u64, String)> {
    if !g.observe() {
        return None;
    }
    let entry = snap.curgs.classify(g).map(|state| {
        let id = g.id();
        let mut text = format!("green thread {id}");
        if let Some(name) = g.name_str() {
            let _ = write!(text, " {name:?}");
        }
        let mut frames = None;
        let state = match state {
            GState::Runnable => "runnable".to_string(),
            GState::Running(m) => format!("running on M{m}{}", on_p(snap, m)),
            GState::Blocking(m, since) => {
                format!("blocking call on M{m}, {}", ago(now, since))
            }
            GState::Dead => "dead: finished, its JoinHandle neither joined nor dropped".into(),
            GState::Waiting(why, since) => {
                let (extra, f) = parked_frames(g, ms);
                frames = f;
                format!("{why}, {}{extra}", ago(now, since))
            }
        };
        let _ = writeln!(text, " [{state}]:");
        let _ = writeln!(text, "  spawned at {}", g.spawned_at());
        if let Some(frames) = frames {
            text.push_str(&frames);
        }
        (id, text)
    });
    if g.unobserve() {
        free_g(g);
    }
    entry
}

/// ", P3" if M `m` held a P in the snapshot.
fn on_p(snap: &Snapshot, m: usize) -> String {
    snap.ms
        .iter()
        .find(|i| i.id == m)
        .and_then(|i| i.p)
        .map_or(String::new(), |p| format!(" (P{p})"))
}

/// Steps 2–4 of the module docs for a G seen `WAITING`: its frames, or a note on why
/// there are none.
fn parked_frames(g: &'static G, ms: &[&'static M]) -> (String, Option<String>) {
    let (generation, _) = g.state.snapshot();
    if !g.state.seize(generation) {
        // Woken since the snapshot: no longer the dump's to read.
        return (", just woken".into(), None);
    }
    // SAFETY: the seize made the dump the G's holder, which owns `sp`.
    let (note, frames) = match unsafe { g.pinned_to() } {
        Some(m) => {
            let m = ms
                .iter()
                .find(|x| ptr::eq(**x, m as *const M))
                .map_or(String::new(), |x| format!(" M{}", x.id));
            (format!(", waits with its thread{m} (locked)"), None)
        }
        None => {
            // SAFETY: the G is held (seized) and parked by a switch, so `sp` is the
            // saved stack pointer of a suspended context on its mapped stack.
            let bt = unsafe { backtrace::of_suspended(*g.sp.get()) };
            (String::new(), bt.map(|bt| frames_of(&bt.to_string())))
        }
    };
    if !g.state.commit_park() {
        // An unpark came while the dump held it (step 4).
        ready(g);
    }
    (note, frames)
}

/// The parked G's own frames out of the capture (see `stack::backtrace`): after the
/// linked bottom frame of the capture's segment, up to the G's entry, without the
/// scheduler's park frames on top. Indented, renumbered from 0.
fn frames_of(trace: &str) -> String {
    // A frame is its numbered line and the `at` lines under it.
    let mut frames: Vec<(&str, Vec<&str>)> = Vec::new();
    for line in trace.lines() {
        let t = line.trim_start();
        match t.split_once(": ") {
            Some((n, sym)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                frames.push((sym, Vec::new()));
            }
            _ => {
                if let Some((_, at)) = frames.last_mut() {
                    at.push(t);
                }
            }
        }
    }
    let start = frames
        .iter()
        .position(|(sym, _)| sym.contains("linked_trampoline"))
        .map_or(0, |i| i + 1);
    let end = frames[start..]
        .iter()
        .position(|(sym, _)| sym.contains("__rust_begin_short_backtrace"))
        .map_or(frames.len(), |i| start + i);
    let mut first = start;
    while first < end && is_scheduler(frames[first].0) {
        first += 1;
    }
    let mut out = String::new();
    for (n, (sym, at)) in frames[first..end].iter().enumerate() {
        let _ = writeln!(out, "  {n:>3}: {sym}");
        for line in at {
            let _ = writeln!(out, "            {line}");
        }
    }
    if out.is_empty() {
        out.push_str("  (no frames: build with debug info, `debug = 1` or more)\n");
    }
    out
}

/// The scheduler's own frames on top of a parked G: how it parks, not what it waits for.
fn is_scheduler(sym: &str) -> bool {
    [
        "gogreen::sched::",
        "gogreen::arch::",
        "gogreen_channel::park::",
    ]
    .iter()
    .any(|p| sym.starts_with(p))
}

/// For how long, from coarse-clock stamps: "120 ms", "3.4 s", "12 minutes".
pub(crate) fn ago(now: u32, since: u32) -> String {
    let ms = now.wrapping_sub(since);
    match ms {
        0..=999 => format!("{ms} ms"),
        1_000..=119_999 => format!("{:.1} s", f64::from(ms) / 1e3),
        _ => format!("{} minutes", ms / 60_000),
    }
}
