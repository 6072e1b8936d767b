//! The task-local map: the values of one task (or one OS thread), by key, and their
//! teardown.
//!
//! A task's map is made on its first task-local access and its address kept in the top
//! word of the task's own stack slot (`G::locals_slot`): no field in the G header,
//! nothing to find in a global table. `task_local.rs` is the public face (`LocalKey`);
//! this file is the storage the scheduler tears down when a task's closure returns.
//!
//! # Teardown
//!
//! Values are dropped one at a time, newest first. While that happens the map refuses to
//! create values: a `Drop` may still read a task-local that is not dropped yet, but one
//! that would have to be created again (its own key, or one already dropped) is refused,
//! as std refuses a `thread_local!` during its thread's teardown. Re-creating it instead
//! would loop for ever when a value's `Drop` touches its own key.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// The values of one task or thread.
pub(crate) struct Map {
    /// Key address → value, in creation order.
    entries: Vec<(usize, Box<dyn Any>)>,
    /// Teardown has begun: no value may be created any more.
    closing: bool,
}

impl Map {
    pub(crate) const fn new() -> Self {
        Map {
            entries: Vec::new(),
            closing: false,
        }
    }
}

/// A value that cannot be had: its task's (or thread's) values are being dropped.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Closing;

/// The value for `key` in the map behind `slot`, created (with the map) if needed.
///
/// # Safety
/// `slot` is the running task's locals word.
pub(crate) unsafe fn get_or_init<T: 'static>(
    slot: *mut *mut (),
    key: usize,
    init: fn() -> T,
) -> Result<*const T, Closing> {
    // SAFETY: per the contract, the running task alone uses its slot.
    unsafe {
        if (*slot).is_null() {
            *slot = Box::into_raw(Box::new(Map::new())).cast();
        }
        get_or_init_in((*slot).cast::<Map>(), key, init)
    }
}

/// The value for `key` in `map`, created if needed (unless teardown has begun).
///
/// # Safety
/// `map` is used by the calling task (or thread) alone; no reference into it is held
/// across this call, which runs `init` (and `init` may add other keys to the map).
pub(crate) unsafe fn get_or_init_in<T: 'static>(
    map: *mut Map,
    key: usize,
    init: fn() -> T,
) -> Result<*const T, Closing> {
    // SAFETY: per the contract: no reference to the map outlives a statement.
    unsafe {
        if let Some((_, v)) = (*map).entries.iter().find(|(k, _)| *k == key) {
            // A key is the address of one `LocalKey<T>`: one type per key.
            return match v.downcast_ref::<T>() {
                Some(v) => Ok(v as *const T),
                None => crate::fatal!("a task-local's key holds a value of another type"),
            };
        }
        if (*map).closing {
            return Err(Closing);
        }
        let value = init();
        assert!(
            !(*map).entries.iter().any(|(k, _)| *k == key),
            "gogreen: a task-local's initialiser used the task-local itself"
        );
        if (*map).closing {
            // `init` ended the map's life (it cannot: only the owner's teardown does).
            return Err(Closing);
        }
        let value: Box<dyn std::any::Any> = Box::new(value);
        let at = &*value as *const dyn std::any::Any as *const T;
        // The box's contents do not move when the box does.
        (*map).entries.push((key, value));
        Ok(at)
    }
}

/// Drops every value of `map`, newest first (see the module docs), without freeing
/// the map itself. A value whose `Drop` panics does not stop the others; the first
/// panic is returned.
///
/// # Safety
/// `map` is used by the calling task (or thread) alone, and no reference into it is
/// held across the call.
pub(crate) unsafe fn clear(map: *mut Map) -> Option<Box<dyn Any + Send>> {
    let mut first_panic = None;
    // SAFETY: per the contract; each statement borrows the map only for itself, so a
    // value's `Drop` may look into the map meanwhile.
    unsafe {
        (*map).closing = true;
        while let Some(entry) = (*map).entries.pop() {
            if let Err(p) = catch_unwind(AssertUnwindSafe(move || drop(entry))) {
                first_panic.get_or_insert(p);
            }
        }
    }
    first_panic
}

/// Drops the running task's values, kept behind `slot`, and the map; called when its
/// closure has returned. The slot is null again afterwards. Returns the first panic of
/// a value's `Drop`, which the caller reports as the task's.
///
/// # Safety
/// `slot` is the running task's locals word.
#[inline]
pub(crate) unsafe fn destroy(slot: *mut *mut ()) -> Option<Box<dyn Any + Send>> {
    // SAFETY: the running task alone uses its slot.
    let map = unsafe { *slot }.cast::<Map>();
    if map.is_null() {
        return None;
    }
    // SAFETY: made by `get_or_init` with `Box::into_raw`; the slot keeps pointing to it
    // while values drop, so their `Drop`s see a closing map, not a fresh one.
    unsafe {
        let panicked = clear(map);
        *slot = std::ptr::null_mut();
        drop(Box::from_raw(map));
        panicked
    }
}
