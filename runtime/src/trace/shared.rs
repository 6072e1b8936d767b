//! What the Ms' buffers and `start`/`stop` share: the flag every hook tests, the
//! session number, the trace clock, and the current session's writer.

use super::json::Msg;
use parking_lot::Mutex;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;

/// Whether a trace is being written. Tested by every hook (`trace::on`), so it is the
/// only thing tracing costs when off.
pub(crate) static ON: AtomicBool = AtomicBool::new(false);
/// The current session: bumped by each `start`. Records of an older session are
/// dropped (`buffer.rs`, step 2). Written under `start`'s lock (`session.rs`), before `ON` goes on.
pub(crate) static SESSION: AtomicU64 = AtomicU64::new(0);
/// The writer of the current session, taken by `stop` (`session.rs`).
pub(super) static WRITER: Mutex<Option<Writer>> = Mutex::new(None);

/// A session's writer thread, the sender that feeds it, and the file it writes.
pub(super) struct Writer {
    pub(super) session: u64,
    pub(super) path: PathBuf,
    pub(super) tx: Sender<Msg>,
    pub(super) thread: JoinHandle<io::Result<()>>,
}

/// The trace clock: `CLOCK_MONOTONIC` in nanoseconds — the clock `Instant` reads, without
/// `Instant`'s checked arithmetic (a third of what a record cost the M, by callgrind).
pub(crate) fn now() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// Hands a full buffer of session `session` to its writer; dropped if that session
/// has ended meanwhile.
pub(crate) fn send(session: u64, msg: Msg) {
    if let Some(w) = WRITER.lock().as_ref()
        && w.session == session
    {
        // The writer ends only after `stop` dropped the sender: this cannot fail.
        let _ = w.tx.send(msg);
    }
}
