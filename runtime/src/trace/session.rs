//! Starting and stopping a trace: the flag every hook tests, the session it belongs to,
//! the writer thread it feeds, `GOGREEN_TRACE`, and the flush at exit.

use super::buffer;
use super::json::{self, Msg};
use super::record;
use super::shared::{ON, SESSION, WRITER, Writer, now};
use parking_lot::Mutex;
use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::thread;

/// Serialises `start` and `stop`.
static CONTROL: Mutex<()> = Mutex::new(());

/// Starts writing a timeline of the scheduler to `path` (created or truncated), in the
/// Chrome trace-event JSON format that Perfetto (<https://ui.perfetto.dev>) and
/// `chrome://tracing` open: see `docs/timeline.md`. The file is complete once
/// [`stop`] returns, or at exit if `stop` is never called. `GOGREEN_TRACE=<path>` does
/// the same from the start of the runtime.
///
/// # Errors
/// If a trace is already being written, or `path` cannot be created.
pub fn start(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    let _control = CONTROL.lock();
    if let Some(w) = WRITER.lock().as_ref() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "gogreen: a trace is already being written to {}; call gogreen::trace::stop() first",
                w.path.display()
            ),
        ));
    }
    let file = File::create(path).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "gogreen: cannot create the trace file {}: {e}",
                path.display()
            ),
        )
    })?;
    let session = SESSION.load(Ordering::Relaxed) + 1;
    let origin = now();
    let (tx, rx) = mpsc::channel();
    let thread = thread::Builder::new()
        .name("gogreen-trace".into())
        .spawn(move || json::write(file, rx, origin))
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("gogreen: cannot start the trace writer thread: {e}"),
            )
        })?;
    SESSION.store(session, Ordering::Relaxed);
    *WRITER.lock() = Some(Writer {
        session,
        path: path.to_owned(),
        tx,
        thread,
    });
    flush_at_exit();
    // Release pairs with the Acquire load in `MTrace::with`: a hook that sees the flag
    // sees the session and its writer.
    ON.store(true, Ordering::Release);
    Ok(())
}

/// Stops the trace that [`start`] (or `GOGREEN_TRACE`) began: every M's buffer goes to
/// the writer, which finishes the file. Returns once the file is complete.
///
/// # Errors
/// If no trace is being written, or writing the file failed (the error says which
/// file).
pub fn stop() -> io::Result<()> {
    let _control = CONTROL.lock();
    if WRITER.lock().is_none() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "gogreen: no trace is being written; call gogreen::trace::start(path) first",
        ));
    }
    // Step 3 of `buffer.rs`: off first, then every buffer.
    ON.store(false, Ordering::SeqCst);
    let session = SESSION.load(Ordering::Relaxed);
    buffer::drain_all(session, now(), record::close_open);
    let Some(w) = WRITER.lock().take() else {
        unreachable!("the writer slot is written only under CONTROL");
    };
    let _ = w.tx.send(Msg::Finish);
    drop(w.tx);
    let result = match w.thread.join() {
        Ok(r) => r,
        Err(_) => Err(io::Error::other("the trace writer thread panicked")),
    };
    result.map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "gogreen: writing the trace {} failed: {e}",
                w.path.display()
            ),
        )
    })
}

/// Whether a trace is being written.
pub fn is_on() -> bool {
    ON.load(Ordering::Relaxed)
}

/// `GOGREEN_TRACE=<path>`: starts a trace when the runtime starts. A path that cannot
/// be written is reported on stderr, and the program runs untraced.
pub(crate) fn start_from_env() {
    let Some(path) = std::env::var_os("GOGREEN_TRACE") else {
        return;
    };
    if path.is_empty() {
        return;
    }
    if let Err(e) = start(&path) {
        eprintln!("gogreen: warning: GOGREEN_TRACE: {e}; running without a trace");
    }
}

/// Registers, once, an exit handler that finishes a trace still being written when the
/// process exits (`main` returning, or `std::process::exit`).
fn flush_at_exit() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    extern "C" fn at_exit() {
        let tracing = WRITER.lock().is_some();
        if tracing && let Err(e) = stop() {
            eprintln!("{e}");
        }
    }
    ONCE.call_once(|| {
        // SAFETY: `at_exit` is a plain `extern "C" fn()` that lives as long as the
        // program; atexit has no other precondition.
        if unsafe { libc::atexit(at_exit) } != 0 {
            eprintln!(
                "gogreen: warning: cannot register the trace's exit handler; call gogreen::trace::stop() before exiting"
            );
        }
    });
}
