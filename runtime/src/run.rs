//! `gogreen::run`: run a closure as a green thread and wait for it — the way into the
//! runtime from `main`. The closure may borrow from the caller (see `job.rs`).

use crate::job::{self, AbortOnUnwind, Job};
use crate::task::{Builder, JoinHandle};
use std::panic::resume_unwind;

/// Runs `f` as a green thread and waits for it: the way into the runtime from `main`.
///
/// `f` may borrow from the caller, as with [`std::thread::scope`]: `run` returns only
/// once the green thread is done with `f` and its result. A panic in `f` continues in
/// the caller, after the green thread has finished. Called from a green thread, `run`
/// parks only that green thread while it waits.
///
/// ```
/// let data = vec![1, 2, 3];
/// let sum: i32 = gogreen::run(|| data.iter().sum());
/// assert_eq!(sum, 6);
/// assert_eq!(data.len(), 3); // still ours
/// ```
///
/// What `f` borrows crosses to another OS thread, so it must be `Sync`:
///
/// ```compile_fail
/// let shared = std::rc::Rc::new(5);
/// let five = gogreen::run(|| *shared); // error: `Rc` cannot be shared between threads
/// ```
///
/// # Panics
///
/// If no stack can be had for the green thread, and with the panic of `f` if it panics.
#[track_caller]
pub fn run<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    let mut frame = RunFrame {
        f: Some(f),
        out: None,
    };
    let data = &raw mut frame;
    // SAFETY: `run_frame` or `nothing` is called once (by the task, or when the spawn
    // drops the job). `frame` lives on this stack frame until the function returns, and
    // this function neither returns nor unwinds before `join` says the task completed
    // (a failed spawn never ran the job; see `waiting` below). Nobody else touches
    // `frame` meanwhile. `F: Send` and `T: Send` let the closure and the result cross
    // to the green thread's OS thread and back.
    let job = unsafe { Job::new(data.cast_const().cast(), run_frame::<F, T>, nothing) };
    // From here until the task has completed, unwinding would free `frame` under the
    // task's feet. Neither the spawn nor the join panics today; should that change, the
    // process aborts instead.
    let waiting = AbortOnUnwind("the wait for the green thread of `run`");
    let outcome = job::spawn(Builder::new(), job).map(JoinHandle::join);
    waiting.disarm();
    match outcome {
        Ok(Ok(())) => frame
            .out
            .take()
            .expect("gogreen: fatal: a green thread completed without a result"),
        Ok(Err(payload)) => resume_unwind(payload),
        // The spawn dropped the job unrun: `frame.f` is still ours.
        Err(e) => panic!("gogreen: failed to spawn a green thread: {e}"),
    }
}

/// `run`'s closure and its result, on `run`'s stack.
struct RunFrame<F, T> {
    f: Option<F>,
    out: Option<T>,
}

/// Runs the closure of a `RunFrame`: the job of `run`'s green thread.
///
/// # Safety
///
/// `data` points to a live `RunFrame<F, T>` that nobody else touches until the task
/// completes; called once.
unsafe fn run_frame<F: FnOnce() -> T, T>(data: *const ()) {
    // SAFETY: per the contract; `run` made the pointer from `&mut frame`.
    let frame = unsafe { &mut *data.cast::<RunFrame<F, T>>().cast_mut() };
    let f = frame
        .f
        .take()
        .expect("gogreen: fatal: a run closure ran twice");
    frame.out = Some(f());
}

/// A job that leaves nothing behind when dropped unrun: the caller owns its data.
fn nothing(_: *const ()) {}
