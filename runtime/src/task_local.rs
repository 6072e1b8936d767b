//! Task-local storage: `thread_local!` for green threads.
//!
//! A green thread can resume on another OS thread after any runtime call, so a
//! `thread_local!` read before a channel receive and used after it may belong to another
//! thread. A [`task_local!`](crate::task_local!) value belongs to the task: it is created
//! on first use in that task, follows it from thread to thread, and is dropped when the
//! task's closure returns (before its `JoinHandle` sees the result).
//!
//! The values of a task live in a small map whose address is kept in the top word of
//! the task's own stack slot — no field in the G header, nothing to find in a global
//! table. On a plain OS thread, a task-local is simply per thread.

use crate::sched;
use std::any::Any;
use std::cell::UnsafeCell;
use std::fmt;

/// The values of one task (or OS thread): key address → value.
type Map = Vec<(usize, Box<dyn Any>)>;

/// A task-local value, declared with [`task_local!`](crate::task_local!).
pub struct LocalKey<T: 'static> {
    init: fn() -> T,
}

impl<T: 'static> LocalKey<T> {
    #[doc(hidden)]
    pub const fn new(init: fn() -> T) -> Self {
        LocalKey { init }
    }

    /// Runs `f` with this task's value, creating it on first use.
    ///
    /// A value's initialiser may use other task-locals; it must not use its own key
    /// (that panics, as with `thread_local!`).
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        let key = self as *const Self as usize;
        match sched::current_locals() {
            Some(slot) => {
                // SAFETY: the running task alone uses its slot and its map, and the map
                // lives until the task's closure returns, longer than this call.
                let value = unsafe { get_or_init(slot, key, self.init) };
                // SAFETY: the value is boxed: it never moves while the map exists.
                f(unsafe { &*value })
            }
            None => THREAD_MAP.with(|map| {
                // SAFETY: the thread's map lives as long as the thread and only this
                // thread touches it, through this pointer alone.
                let value = unsafe { get_or_init_in(map.get(), key, self.init) };
                // SAFETY: the value is boxed: it never moves while the map exists.
                f(unsafe { &*value })
            }),
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
    static THREAD_MAP: UnsafeCell<Map> = const { UnsafeCell::new(Vec::new()) };
}

/// The value for `key` in the map behind `slot`, created (with the map) if needed.
///
/// # Safety
/// `slot` is the running task's locals word.
unsafe fn get_or_init<T: 'static>(slot: *mut *mut (), key: usize, init: fn() -> T) -> *const T {
    // SAFETY: per the contract.
    unsafe {
        if (*slot).is_null() {
            *slot = Box::into_raw(Box::new(Map::new())).cast();
        }
        get_or_init_in((*slot).cast::<Map>(), key, init)
    }
}

/// The value for `key` in `map`, created if needed.
///
/// # Safety
/// `map` is used by the calling task (or thread) alone; the reference is not held
/// across `init`, which may add other keys to the same map.
unsafe fn get_or_init_in<T: 'static>(map: *mut Map, key: usize, init: fn() -> T) -> *const T {
    // SAFETY: per the contract: no reference to the map outlives a statement.
    unsafe {
        if let Some((_, v)) = (*map).iter().find(|(k, _)| *k == key) {
            return v
                .downcast_ref::<T>()
                .expect("gogreen: task-local of another type") as *const T;
        }
        let value = init();
        assert!(
            !(*map).iter().any(|(k, _)| *k == key),
            "gogreen: a task-local's initialiser used the task-local itself"
        );
        (*map).push((key, Box::new(value)));
        let (_, v) = (*map).last().expect("just pushed");
        v.downcast_ref::<T>().expect("just pushed") as *const T
    }
}

/// Drops the running task's values, kept behind `slot`; called when its closure has
/// returned. A value's `Drop` that uses a task-local gets a fresh value, dropped right
/// after.
///
/// # Safety
/// `slot` is the running task's locals word.
#[inline]
pub(crate) unsafe fn destroy(slot: *mut *mut ()) {
    loop {
        // SAFETY: the running task alone uses its slot.
        let map = unsafe { std::mem::replace(&mut *slot, std::ptr::null_mut()) };
        if map.is_null() {
            return;
        }
        // SAFETY: the map was made by `get_or_init` with `Box::into_raw`, and the slot
        // no longer points to it.
        drop(unsafe { Box::from_raw(map.cast::<Map>()) });
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
