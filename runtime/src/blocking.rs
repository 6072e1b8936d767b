//! Blocking calls: `blocking(f)` runs a call that blocks its OS thread (file I/O, a
//! `std::sync` wait, an FFI call) while the other green threads keep running.

use crate::sched;
use std::io;

/// Runs `f`, which may block its OS thread, while the other green threads keep
/// running: this green thread's processor goes to another OS thread for the call
/// (at once if green threads are queued for it), and is taken back — or another one —
/// when `f` returns. Go does the same around every system call.
///
/// Short calls stay cheap: with nothing queued the processor waits for the call in a
/// state it is taken back from with one atomic operation, unless the call lasts.
///
/// `f` runs on the calling green thread's own OS thread and stack, so it may borrow
/// from the caller and need not be `Send`. Inside it the green thread holds no
/// processor and behaves as a plain OS thread does: channel operations, joins and
/// [`sleep`](crate::sleep) block the OS thread, [`spawn`](crate::spawn) queues on the
/// global queue, and a nested `blocking` just calls its closure.
///
/// On a plain OS thread, just calls `f`. A panic in `f` continues in the caller, after
/// the green thread has a processor again.
///
/// If every thread the runtime may start is in use ([`Config::max_threads`](crate::Config::max_threads))
/// the processor cannot be handed over: `f` still runs, the green threads queued on
/// that processor wait for it to return, and a warning is printed once. Use
/// [`try_blocking`] to get an error instead.
///
/// ```
/// let text = gogreen::run(|| gogreen::blocking(|| std::fs::read_to_string("Cargo.toml")));
/// assert!(text.unwrap().contains("gogreen"));
/// ```
#[inline]
pub fn blocking<F, T>(f: F) -> T
where
    F: FnOnce() -> T,
{
    match sched::blocking(f, false) {
        Ok(v) => v,
        Err(_) => crate::fatal!("blocking(): an infallible blocking call failed"),
    }
}

/// Like [`blocking`], but does not run `f` if its processor cannot be handed to
/// another OS thread while green threads wait for it.
///
/// # Errors
///
/// `WouldBlock`, naming the limit to raise (`GOGREEN_MAX_THREADS` or
/// [`Config::max_threads`](crate::Config::max_threads)), when the runtime already runs
/// as many OS threads as it may; or the OS's error when it refuses a new thread.
#[inline]
pub fn try_blocking<F, T>(f: F) -> io::Result<T>
where
    F: FnOnce() -> T,
{
    sched::blocking(f, true)
}
