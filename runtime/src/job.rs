//! A job that borrows from its caller, handed to a green thread behind a raw pointer.
//!
//! The scheduler stores a task's closure in the G header and runs it whenever an M gets
//! to it, so `sched::spawn` asks for `'static`. `run` and `scope` can do without: they
//! wait for the task before the borrowed data goes away. They hand the scheduler a
//! [`Job`] instead of their closure: a data pointer and two functions, which is
//! `'static` whatever the data borrows. The closure itself stays where the caller put
//! it (`run`'s stack frame, a scoped thread's shared packet), and the caller promises,
//! by building the `Job` in `unsafe`, to keep it there until the task is done with it.
//!
//! Rejected: boxing the closure as `Box<dyn FnOnce() + Send + 'a>` and transmuting the
//! lifetime away. It works, but costs an allocation per task that `run` does not need
//! at all and that `scope` can share with the packet it allocates anyway; and it gives
//! no hook for a task that is dropped without running (see [`Job::abandon`]).
//!
//! Rejected: relaxing `'static` in the scheduler (`G::prepare`). The G would then hold
//! the borrowing closure directly, but every `'static` argument the scheduler makes
//! (a detached task, a result dropped by whoever is last) would need re-checking; the
//! raw pointer keeps the whole argument in this file and its two callers.

use crate::task::{Builder, JoinHandle};
use std::io;
use std::mem::ManuallyDrop;

/// A job for a green thread: `run(data)` once, or `abandon(data)` if the task is
/// dropped without running (the spawn failed, or no stack could be had at its first
/// run).
pub(crate) struct Job {
    data: *const (),
    run: unsafe fn(*const ()),
    abandon: unsafe fn(*const ()),
}

// SAFETY: `Job::new`'s contract: `run` and `abandon` may be called with `data` on any
// thread.
unsafe impl Send for Job {}

impl Job {
    /// # Safety
    ///
    /// Exactly one of `run(data)` and `abandon(data)` will be called, once, on any
    /// thread, at any time until the task that owns the job has completed (its
    /// `JoinHandle::join` returned, or the job itself signalled its end). The caller
    /// keeps whatever `data` points to, and whatever that borrows, valid and untouched
    /// by others for that long, and makes sure the data may move to another thread
    /// (the closure and its result are `Send`).
    pub(crate) unsafe fn new(
        data: *const (),
        run: unsafe fn(*const ()),
        abandon: unsafe fn(*const ()),
    ) -> Self {
        Job { data, run, abandon }
    }

    fn run(self) {
        let job = ManuallyDrop::new(self);
        // SAFETY: `new`'s contract; `ManuallyDrop` keeps `abandon` from running too.
        unsafe { (job.run)(job.data) }
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        // SAFETY: `new`'s contract; `run` consumed the job without dropping it, so this
        // is the one call.
        unsafe { (self.abandon)(self.data) }
    }
}

/// Spawns a green thread that runs `job`. Not generic, so the closure captures a `Job`
/// and nothing else: it is `'static` whatever the job borrows.
#[track_caller]
pub(crate) fn spawn(builder: Builder, job: Job) -> io::Result<JoinHandle<()>> {
    builder.spawn(move || job.run())
}

/// Aborts the process if dropped: armed around a wait that must not unwind, because
/// the caller's frame holds data a green thread still uses.
pub(crate) struct AbortOnUnwind(pub(crate) &'static str);

impl AbortOnUnwind {
    /// The wait is over: nothing to guard any more.
    pub(crate) fn disarm(self) {
        std::mem::forget(self);
    }
}

impl Drop for AbortOnUnwind {
    fn drop(&mut self) {
        eprintln!(
            "gogreen: fatal: unwinding out of {} while a green thread borrows from this stack",
            self.0
        );
        std::process::abort();
    }
}
