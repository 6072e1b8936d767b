//! Per-M event buffers: where an M writes its records without meeting any other M, and
//! how they reach the writer thread — when full, and all of them when tracing stops.
//!
//! # Protocol
//!
//! 1. Each M owns one [`MTrace`] (a field of the M; events off any M — sysmon, plain OS
//!    threads — go to [`OFF_M`]). Its lock is taken by the M itself for every record,
//!    and by anyone else only in `stop`: uncontended, it is one compare-and-swap and
//!    one release store, on a cache line no other core touches.
//! 2. Under the lock, the M checks that tracing is on and that its buffer belongs to the
//!    current session (a buffer left from an earlier session is dropped), writes the
//!    record, and when the buffer holds [`CHUNK`] records sends it to the writer thread
//!    (`json.rs`) over a channel and starts an empty one.
//! 3. `stop` turns the flag off first, then takes every registered buffer's lock in
//!    turn, closes the run that buffer has open, and sends what it holds. An M that
//!    takes its lock after `stop` released it sees the flag off (the lock orders the
//!    two) and records nothing; an M that took it before finishes its record first.
//! 4. A buffer registers itself (once, before it first takes its own lock) in
//!    [`REGISTRY`], which `stop` walks; the lock order is registry, then a buffer, then
//!    the writer's slot, so `stop` and a registering M cannot deadlock.
//!
//! Rejected: one global buffer behind a lock (every switch of every M would meet on
//! one cache line — the perturbation the trace is meant not to cause); lock-free
//! buffers that `stop` reads while their M writes (a race between `stop` and a buffer
//! swapped out when full needs a protocol of its own, to save one uncontended lock per
//! record — which tracing pays only when on).

use super::event::Event;
use super::json::Msg;
use super::shared::{self, ON, SESSION};
use parking_lot::Mutex;
use std::mem;
use std::sync::atomic::{AtomicBool, Ordering};

/// Records per buffer before it goes to the writer.
pub(crate) const CHUNK: usize = 2048;

/// Every buffer that ever recorded (step 4).
static REGISTRY: Mutex<Vec<&'static MTrace>> = Mutex::new(Vec::new());

/// The buffer for events outside any M: sysmon's, and those of plain OS threads.
pub(crate) static OFF_M: MTrace = MTrace::new(0);

/// One M's buffer (step 1).
pub(crate) struct MTrace {
    /// Whether it is in [`REGISTRY`]; set once, by the owner.
    registered: AtomicBool,
    /// The owner's records; `stop` takes them (step 3).
    local: Mutex<Local>,
}

/// What an M's buffer holds, behind its lock.
pub(crate) struct Local {
    /// The session these records belong to.
    pub(crate) session: u64,
    pub(crate) events: Vec<Event>,
    /// The run this M has started and not ended: a slice once it ends (`record.rs`).
    pub(crate) open: Option<Event>,
    /// Since when the M has slept without a P, if it does.
    pub(crate) idle: Option<u64>,
    /// The count of the last flow id handed out (`record.rs`).
    pub(crate) flows: u32,
    /// The track the records go to: the M's id + 1 (0 is [`OFF_M`]'s). Set at creation.
    pub(crate) tid: u32,
}

impl MTrace {
    pub(crate) const fn new(tid: u32) -> Self {
        MTrace {
            registered: AtomicBool::new(false),
            local: Mutex::new(Local {
                session: 0,
                events: Vec::new(),
                open: None,
                idle: None,
                flows: 0,
                tid,
            }),
        }
    }

    /// Runs `f` on this buffer with the time now, if tracing is on (step 2). Returns
    /// `None` if it is off.
    #[inline]
    pub(crate) fn with<R>(&'static self, f: impl FnOnce(&mut Local, u64) -> R) -> Option<R> {
        if !self.registered.load(Ordering::Relaxed) {
            self.register();
        }
        let mut local = self.local.lock();
        // Acquire pairs with `start`'s Release store: the session number and the
        // writer it names are visible. (That `stop`'s `false` is seen is the lock's
        // doing: step 3.)
        if !ON.load(Ordering::Acquire) {
            return None;
        }
        let session = SESSION.load(Ordering::Relaxed);
        if local.session != session {
            local.session = session;
            local.events.clear();
            local.open = None;
            local.idle = None;
            local.flows = 0;
        }
        if local.events.capacity() == 0 {
            local.events.reserve_exact(CHUNK);
        }
        let r = f(&mut local, shared::now());
        if local.events.len() >= CHUNK {
            local.flush();
        }
        Some(r)
    }

    #[cold]
    fn register(&'static self) {
        let mut all = REGISTRY.lock();
        // Only the owner registers, so no other thread races this check.
        if !self.registered.load(Ordering::Relaxed) {
            all.push(self);
            self.registered.store(true, Ordering::Relaxed);
        }
    }
}

impl Local {
    /// Sends the records to the writer and starts an empty buffer.
    #[cold]
    pub(crate) fn flush(&mut self) {
        if self.events.is_empty() {
            return;
        }
        let events = mem::replace(&mut self.events, Vec::with_capacity(CHUNK));
        shared::send(self.session, Msg::Chunk(self.tid, events));
    }
}

/// Step 3, for `stop`: lets `close` end each buffer's open run at `now`, and sends
/// every buffer of session `session` to the writer. The flag must be off already.
pub(crate) fn drain_all(session: u64, now: u64, close: impl Fn(&mut Local, u64)) {
    for t in REGISTRY.lock().iter() {
        let mut local = t.local.lock();
        if local.session != session {
            continue;
        }
        close(&mut local, now);
        local.flush();
        // Gone to the writer: the buffer's memory can go too, until the next session.
        local.events = Vec::new();
    }
}
