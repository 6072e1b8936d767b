//! `std::sync::OnceLock` for green threads: a cell written once, by whoever comes first;
//! callers that come while it is being written park until it is.
//!
//! Built on [`Once`]: `call_once_force` runs the initialiser, so one that panicked leaves
//! the cell empty (not poisoned) and the next caller tries again, as std's does.

use super::once::Once;
use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::mem::MaybeUninit;

/// A cell written at most once, with `std::sync::OnceLock`'s API.
///
/// ```
/// use gogreen::sync::OnceLock;
///
/// static CONFIG: OnceLock<String> = OnceLock::new();
/// let tasks: Vec<_> = (0..4)
///     .map(|i| gogreen::spawn(move || CONFIG.get_or_init(|| format!("set by {i}")).len()))
///     .collect();
/// for t in tasks {
///     assert_eq!(t.join().unwrap(), 8);
/// }
/// assert!(CONFIG.get().unwrap().starts_with("set by "));
/// ```
pub struct OnceLock<T> {
    once: Once,
    /// Written once, by the initialiser `once` runs; read only after `once` completed.
    value: UnsafeCell<MaybeUninit<T>>,
    /// Drops a `T` (for the drop checker).
    _marker: PhantomData<T>,
}

// SAFETY: std's bounds. Sharing the cell lets any thread read the `T` (`Sync`) and any
// thread write it, moving it in (`Send`).
unsafe impl<T: Sync + Send> Sync for OnceLock<T> {}
// SAFETY: moving the cell moves the `T`.
unsafe impl<T: Send> Send for OnceLock<T> {}

impl<T> OnceLock<T> {
    super::loom_const_fn! {
        /// An empty cell.
        #[must_use]
        pub fn new() -> OnceLock<T> {
            OnceLock {
                once: Once::new(),
                value: UnsafeCell::new(MaybeUninit::uninit()),
                _marker: PhantomData,
            }
        }
    }

    /// The value, if it has been written (does not wait for a writer in progress).
    #[inline]
    pub fn get(&self) -> Option<&T> {
        if self.once.is_completed() {
            // SAFETY: written, and never written again while shared.
            Some(unsafe { self.get_unchecked() })
        } else {
            None
        }
    }

    /// The value, through an exclusive borrow.
    #[inline]
    pub fn get_mut(&mut self) -> Option<&mut T> {
        if self.once.is_completed() {
            // SAFETY: written, and we have the cell to ourselves.
            Some(unsafe { (*self.value.get()).assume_init_mut() })
        } else {
            None
        }
    }

    /// Waits until the value is written (by someone else), and returns it.
    pub fn wait(&self) -> &T {
        self.once.wait_force();
        // SAFETY: the `Once` completed, so the value is written.
        unsafe { self.get_unchecked() }
    }

    /// Writes `value` if the cell is empty; otherwise hands it back. Waits if another
    /// writer is in progress.
    ///
    /// # Errors
    ///
    /// `Err(value)` if the cell was already written.
    pub fn set(&self, value: T) -> Result<(), T> {
        let mut value = Some(value);
        self.get_or_init(|| value.take().expect("runs once"));
        match value {
            None => Ok(()),
            Some(v) => Err(v),
        }
    }

    /// The value, writing it with `f` first if the cell is empty. Callers that come
    /// while another one's `f` runs wait for it. If `f` panics, the panic propagates and
    /// the cell stays empty.
    pub fn get_or_init<F: FnOnce() -> T>(&self, f: F) -> &T {
        if let Some(v) = self.get() {
            return v;
        }
        let slot = &self.value;
        let mut f = Some(f);
        self.once.call_once_force(|_| {
            let v = (f.take().expect("runs once"))();
            // SAFETY: the `Once` runs one initialiser at a time and none has completed,
            // so nobody else reads or writes the slot.
            unsafe { (*slot.get()).write(v) };
        });
        // SAFETY: `call_once_force` returned, so an initialiser completed.
        unsafe { self.get_unchecked() }
    }

    /// Consumes the cell, returning its value if written.
    pub fn into_inner(mut self) -> Option<T> {
        self.take()
    }

    /// Takes the value out, leaving the cell empty.
    pub fn take(&mut self) -> Option<T> {
        if !self.once.is_completed() {
            return None;
        }
        self.once = Once::new();
        // SAFETY: the value was written, and the fresh `Once` says it no longer is, so
        // it is read out exactly once.
        Some(unsafe { (*self.value.get()).assume_init_read() })
    }

    /// # Safety
    ///
    /// The value is written (the `Once` completed).
    #[inline]
    unsafe fn get_unchecked(&self) -> &T {
        // SAFETY: the contract; nobody writes a completed cell through `&self`.
        unsafe { (*self.value.get()).assume_init_ref() }
    }
}

impl<T> Default for OnceLock<T> {
    fn default() -> OnceLock<T> {
        OnceLock::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_tuple("OnceLock");
        match self.get() {
            Some(v) => d.field(v),
            None => d.field(&format_args!("<uninit>")),
        };
        d.finish()
    }
}

impl<T: Clone> Clone for OnceLock<T> {
    fn clone(&self) -> OnceLock<T> {
        let cell = OnceLock::new();
        if let Some(v) = self.get() {
            let _ = cell.set(v.clone());
        }
        cell
    }
}

impl<T> From<T> for OnceLock<T> {
    fn from(value: T) -> OnceLock<T> {
        let cell = OnceLock::new();
        let _ = cell.set(value);
        cell
    }
}

impl<T: PartialEq> PartialEq for OnceLock<T> {
    fn eq(&self, other: &OnceLock<T>) -> bool {
        self.get() == other.get()
    }
}

impl<T: Eq> Eq for OnceLock<T> {}

impl<T> Drop for OnceLock<T> {
    fn drop(&mut self) {
        if self.once.is_completed() {
            // SAFETY: written, and dropped once, here.
            unsafe { (*self.value.get()).assume_init_drop() };
        }
    }
}

impl<T: std::panic::RefUnwindSafe + std::panic::UnwindSafe> std::panic::RefUnwindSafe
    for OnceLock<T>
{
}
impl<T: std::panic::UnwindSafe> std::panic::UnwindSafe for OnceLock<T> {}
