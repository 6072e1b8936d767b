//! Task-local storage: `thread_local!` for green threads.
//!
//! A green thread can resume on another OS thread after any runtime call, so a
//! `thread_local!` read before a channel receive and used after it may belong to another
//! thread. A [`task_local!`](crate::task_local!) value belongs to the task: it is created
//! on first use in that task, follows it from thread to thread, and is dropped when the
//! task's closure returns (before its `JoinHandle` sees the result).
//!
//! The values of a task live in a small map whose address is kept in the top word of
//! the task's own stack slot (`sched/locals.rs`). On a plain OS thread, a task-local is
//! simply per thread. As with `thread_local!`, a value's `Drop` cannot bring back a
//! value that is already dropped: [`LocalKey::try_with`] says so with an error.

use crate::sched::{self, locals};
use std::cell::UnsafeCell;
use std::fmt;

/// A task-local value, declared with [`task_local!`](crate::task_local!).
pub struct LocalKey<T: 'static> {
    init: fn() -> T,
}

/// The error of [`LocalKey::try_with`]: the task's (or thread's) task-local values are
/// being dropped, and this one is gone or was never made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccessError;

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task-local value accessed while its task's values are being dropped")
    }
}

impl std::error::Error for AccessError {}

impl<T: 'static> LocalKey<T> {
    #[doc(hidden)]
    pub const fn new(init: fn() -> T) -> Self {
        LocalKey { init }
    }

    /// Runs `f` with this task's value, creating it on first use.
    ///
    /// A value's initialiser may use other task-locals; it must not use its own key
    /// (that panics, as with `thread_local!`).
    ///
    /// # Panics
    ///
    /// When called from the `Drop` of a task-local value for a key whose value is
    /// already dropped or was never made (as `thread_local!`'s `with` does during its
    /// thread's teardown); [`try_with`](LocalKey::try_with) returns an error instead.
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        match self.try_with(f) {
            Ok(r) => r,
            Err(e) => panic!("gogreen: {e}"),
        }
    }

    /// Runs `f` with this task's value, creating it on first use; or returns
    /// [`AccessError`] if the task's values are being dropped and this one is gone.
    pub fn try_with<R>(&'static self, f: impl FnOnce(&T) -> R) -> Result<R, AccessError> {
        let key = self as *const Self as usize;
        let value = match sched::current_locals() {
            // SAFETY: the running task alone uses its slot and its map, and the map
            // lives until the task's closure returns, longer than this call.
            Some(slot) => unsafe { locals::get_or_init(slot, key, self.init) },
            None => THREAD_MAP
                .try_with(|map| {
                    // SAFETY: the thread's map lives as long as the thread and only
                    // this thread touches it, through this pointer alone.
                    unsafe { locals::get_or_init_in(map.get(), key, self.init) }
                })
                // The thread's own teardown has dropped the map already.
                .unwrap_or(Err(locals::Closing)),
        };
        match value {
            // SAFETY: values are boxed: one never moves while its map holds it, and the
            // map drops it only at teardown, after every `with` of the task returned —
            // or, during teardown, only after its own `Drop` (the only code then
            // running) is done with it.
            Ok(v) => Ok(f(unsafe { &*v })),
            Err(locals::Closing) => Err(AccessError),
        }
    }
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKey").finish_non_exhaustive()
    }
}

thread_local! {
    /// A plain OS thread's values.
    static THREAD_MAP: ThreadMap = const { ThreadMap(UnsafeCell::new(locals::Map::new())) };
}

/// A plain OS thread's map; its values go, newest first, when the thread exits.
struct ThreadMap(UnsafeCell<locals::Map>);

impl ThreadMap {
    fn get(&self) -> *mut locals::Map {
        self.0.get()
    }
}

impl Drop for ThreadMap {
    fn drop(&mut self) {
        // SAFETY: the thread is exiting and owns its map alone. A `Drop` that panics
        // during a thread's teardown aborts the process, as with `thread_local!`.
        if let Some(p) = unsafe { locals::clear(self.0.get()) } {
            std::panic::resume_unwind(p);
        }
    }
}

/// Declares task-local values: `thread_local!` for green threads.
///
/// ```
/// gogreen::task_local! {
///     static REQUEST_ID: std::cell::Cell<u64> = std::cell::Cell::new(0);
/// }
///
/// let h = gogreen::spawn(|| {
///     REQUEST_ID.with(|id| id.set(7));
///     gogreen::yield_now(); // may resume on another OS thread
///     REQUEST_ID.with(|id| id.get())
/// });
/// assert_eq!(h.join().unwrap(), 7);
/// // Another task has its own.
/// assert_eq!(gogreen::run(|| REQUEST_ID.with(|id| id.get())), 0);
/// ```
#[macro_export]
macro_rules! task_local {
    ($($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr;)+) => {
        $(
            $(#[$attr])*
            $vis static $name: $crate::LocalKey<$t> = $crate::LocalKey::new(|| $init);
        )+
    };
}
