//! What a panic in a green thread prints: std's message, naming the green thread (its
//! name and task id) instead of the OS thread it happened to run on, written straight
//! to the process's stderr.
//!
//! # How it composes with other hooks
//!
//! The hook is installed when the program is loaded, before `main` (a constructor in
//! `.init_array`), over std's default hook, which it keeps for panics on plain OS
//! threads. Every hook set later composes with it the way std hooks always compose:
//!
//! - one set with `std::panic::set_hook` replaces it, and then gets every panic, green
//!   or not (`gogreen::current()` names the green thread inside it);
//! - one that wraps `std::panic::take_hook()`'s result calls it in turn — as the test
//!   harness does under `cargo test`, so green threads' panics are named there too.
//!
//! Rejected: installing it when the runtime starts. Whatever hook is in place then
//! would have to be told apart — std's default (to report green panics in its stead)
//! from a user's (to leave them to it) — and the test harness's wrapper of the
//! default looks like a user's: under `cargo test`, the one place the issue names,
//! green panics would still be reported as the scheduler thread's.
//!
//! # Where the output goes
//!
//! Straight to file descriptor 2. std's own hook writes into the output capture of the
//! thread it runs on, and the scheduler's threads inherit the capture of whichever
//! thread started them — under `cargo test`, some test that has long finished, whose
//! captured output is thrown away when it passes. The terminal is the one place that
//! reaches whoever runs the program (stable Rust cannot find the capture of the test
//! that owns the task).
//!
//! # Backtraces
//!
//! `RUST_BACKTRACE` is read as std reads it: unset or `0`, a note on the first panic;
//! `full`, every frame; anything else, the short form — the frames between std's
//! panic machinery (`__rust_end_short_backtrace`) and the green thread's entry
//! (`__rust_begin_short_backtrace` in `g.rs`, which std's own short backtraces also
//! stop at).

use super::calls::current_g;
use super::g::G;
use std::any::Any;
use std::backtrace::Backtrace;
use std::fmt::Write as _;
use std::io::Write as _;
use std::panic::{self, PanicHookInfo};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

// The constructor that installs the hook at load time. `#[used]` keeps it, and rustc
// links every `#[used]` static of a dependency (it references them from a synthetic
// object), so it runs in every program that links gogreen.
#[used]
#[unsafe(link_section = ".init_array")]
static INSTALL_AT_LOAD: extern "C" fn() = install_at_load;

extern "C" fn install_at_load() {
    install();
}

/// Installs the hook over the current one (std's default, at load time), which keeps
/// every panic outside green threads.
fn install() {
    // std refuses to change hooks from a panicking thread; nothing panics before main.
    if std::thread::panicking() {
        return;
    }
    let previous = panic::take_hook();
    panic::set_hook(Box::new(move |info| match current_g() {
        Some(g) => report(g, info),
        None => previous(info),
    }));
}

/// How much backtrace `RUST_BACKTRACE` asks for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Off,
    Short,
    Full,
}

/// `RUST_BACKTRACE`, read once, as std reads it.
fn style() -> Style {
    static STYLE: OnceLock<Style> = OnceLock::new();
    *STYLE.get_or_init(|| match std::env::var_os("RUST_BACKTRACE") {
        None => Style::Off,
        Some(v) if v == "0" => Style::Off,
        Some(v) if v == "full" => Style::Full,
        Some(_) => Style::Short,
    })
}

/// Writes std's panic message for `info`, naming green thread `g`.
fn report(g: &G, info: &PanicHookInfo<'_>) {
    static FIRST_PANIC: AtomicBool = AtomicBool::new(true);
    let name = g.name_str().unwrap_or("<unnamed>");
    let mut out = String::with_capacity(256);
    let _ = write!(out, "\nthread '{name}' (green thread {}) panicked", g.id());
    if let Some(at) = info.location() {
        let _ = write!(out, " at {at}");
    }
    let _ = writeln!(out, ":\n{}", message(info.payload()));
    match style() {
        Style::Off => {
            if FIRST_PANIC.swap(false, Ordering::Relaxed) {
                out.push_str(
                    "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n",
                );
            }
        }
        Style::Short => {
            out.push_str("stack backtrace:\n");
            short_frames(&Backtrace::force_capture().to_string(), &mut out);
            out.push_str(
                "note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.\n",
            );
        }
        Style::Full => {
            let _ = writeln!(out, "stack backtrace:\n{:#}", Backtrace::force_capture());
        }
    }
    // One write, so that panics of green threads on other threads do not interleave
    // line by line. Nothing to do if stderr is gone.
    let _ = std::io::stderr().lock().write_all(out.as_bytes());
}

/// The payload as text, as std shows it.
fn message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "Box<dyn Any>"
    }
}

/// Appends the frames of `trace` (a `Backtrace`'s plain `Display`) that std's short
/// form keeps, renumbered from 0: after the last `__rust_end_short_backtrace` frame,
/// before the first `__rust_begin_short_backtrace` frame after it.
fn short_frames(trace: &str, out: &mut String) {
    // A frame is its numbered line and the `at` lines under it.
    let mut frames: Vec<(&str, Vec<&str>)> = Vec::new();
    for line in trace.lines() {
        let t = line.trim_start();
        let numbered = t
            .split_once(": ")
            .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        match (numbered, frames.last_mut()) {
            (true, _) => frames.push((t.split_once(": ").map_or(t, |(_, s)| s), Vec::new())),
            (false, Some((_, at))) => at.push(line),
            (false, None) => {}
        }
    }
    let start = frames
        .iter()
        .rposition(|(sym, _)| sym.contains("__rust_end_short_backtrace"))
        .map_or(0, |i| i + 1);
    let end = frames[start..]
        .iter()
        .position(|(sym, _)| sym.contains("__rust_begin_short_backtrace"))
        .map_or(frames.len(), |i| start + i);
    for (n, (sym, at)) in frames[start..end].iter().enumerate() {
        let _ = writeln!(out, "{n:>4}: {sym}");
        for line in at {
            let _ = writeln!(out, "{line}");
        }
    }
}
