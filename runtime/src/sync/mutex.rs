//! `std::sync::Mutex` for green threads: the same API, but a waiter parks its green
//! thread, not the OS thread under it.
//!
//! The lock itself is [`RawMutex`] (`raw_mutex.rs`: the protocol, starvation mode);
//! this file adds the data, poisoning as `std` does it, and the guard.

use super::poison::{self, map_result};
use super::raw_mutex::{self, RawMutex};
use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};

/// A mutual-exclusion lock protecting a `T`, with `std::sync::Mutex`'s API.
///
/// Inside a green thread, [`lock`](Mutex::lock) parks only the green thread while the
/// mutex is held elsewhere; its OS thread runs other green threads meanwhile. On a
/// plain OS thread it blocks that thread. Both kinds of caller can share one mutex.
///
/// A waiter left waiting more than about a millisecond is handed the lock directly
/// (Go's starvation mode), so no caller waits forever behind ones that keep relocking.
/// The uncontended paths cost one atomic instruction each to lock and to unlock, and
/// nothing is allocated: a parked waiter's record lives on its own stack.
///
/// ```
/// use gogreen::sync::Mutex;
/// use std::sync::Arc;
///
/// let counter = Arc::new(Mutex::new(0));
/// let tasks: Vec<_> = (0..8)
///     .map(|_| {
///         let counter = counter.clone();
///         gogreen::spawn(move || {
///             for _ in 0..1000 {
///                 *counter.lock().unwrap() += 1;
///             }
///         })
///     })
///     .collect();
/// for t in tasks {
///     t.join().unwrap();
/// }
/// assert_eq!(*counter.lock().unwrap(), 8000);
/// ```
pub struct Mutex<T: ?Sized> {
    raw: RawMutex,
    poison: poison::Flag,
    data: UnsafeCell<T>,
}

// SAFETY: the mutex hands the `T` to one holder at a time, on whatever thread; `T: Send`
// is what moving it between threads needs (std's bounds).
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above: shared access to the mutex gives exclusive access to the `T`.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

/// Exclusive access to a [`Mutex`]'s data; unlocks when dropped.
///
/// Like std's, it is not `Send` (so code written for std's keeps its meaning), but it
/// may be held across anything that parks a green thread: the mutex is not tied to an
/// OS thread, and the green thread may resume on another one.
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized + 'a> {
    lock: &'a Mutex<T>,
    poison: poison::Guard,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a shared guard gives `&T` only.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<T> Mutex<T> {
    super::loom_const_fn! {
        /// A new, unlocked mutex.
        pub fn new(t: T) -> Mutex<T> {
            Mutex {
                raw: RawMutex::new(),
                poison: poison::Flag::new(),
                data: UnsafeCell::new(t),
            }
        }
    }

    /// Consumes the mutex and returns its data; `Err` (with the data) if poisoned.
    pub fn into_inner(self) -> LockResult<T> {
        let poisoned = self.poison.get();
        let data = self.data.into_inner();
        if poisoned {
            Err(PoisonError::new(data))
        } else {
            Ok(data)
        }
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Takes the lock, parking the calling green thread (or blocking the calling OS
    /// thread) until it is free.
    ///
    /// # Errors
    ///
    /// If a holder panicked, the mutex is poisoned and this returns `Err` — which still
    /// holds the lock: `.unwrap_or_else(PoisonError::into_inner)` takes it anyway.
    ///
    /// The lock is not reentrant: locking it again from its holder never returns.
    #[inline]
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        self.raw.lock();
        // SAFETY: we just took the lock.
        unsafe { MutexGuard::new(self) }
    }

    /// Takes the lock if that needs no waiting.
    ///
    /// # Errors
    ///
    /// [`TryLockError::WouldBlock`] if the lock is held (or reserved for a starving
    /// waiter); [`TryLockError::Poisoned`], holding the lock, if a holder panicked.
    #[inline]
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        if self.raw.try_lock() {
            // SAFETY: we just took the lock.
            Ok(unsafe { MutexGuard::new(self) }?)
        } else {
            Err(TryLockError::WouldBlock)
        }
    }

    /// Whether a holder panicked (and nobody cleared it since).
    #[inline]
    pub fn is_poisoned(&self) -> bool {
        self.poison.get()
    }

    /// Clears the poisoned state: the caller vouches that the data is consistent.
    #[inline]
    pub fn clear_poison(&self) {
        self.poison.clear();
    }

    /// The data, through an exclusive borrow: no locking needed.
    ///
    /// # Errors
    ///
    /// `Err`, with the reference, if the mutex is poisoned.
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        let data = self.data.get_mut();
        if self.poison.get() {
            Err(PoisonError::new(data))
        } else {
            Ok(data)
        }
    }

    /// The lock without its data, for [`Condvar`](super::Condvar).
    #[inline]
    pub(crate) fn raw(&self) -> &RawMutex {
        &self.raw
    }

    /// How many times, process-wide, a mutex has entered starvation mode (a waiter
    /// waited over a millisecond, so unlocks hand the lock over). For tests.
    #[doc(hidden)]
    pub fn starvation_count() -> u64 {
        raw_mutex::starvation_count()
    }
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// # Safety
    ///
    /// The caller holds `lock`'s raw lock, and hands it to the guard.
    #[inline]
    unsafe fn new(lock: &'a Mutex<T>) -> LockResult<MutexGuard<'a, T>> {
        map_result(lock.poison.guard(), |poison| MutexGuard {
            lock,
            poison,
            _not_send: PhantomData,
        })
    }

    /// The mutex this guard locks, for [`Condvar`](super::Condvar).
    #[inline]
    pub(crate) fn mutex(this: &Self) -> &'a Mutex<T> {
        this.lock
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.poison.done(&self.poison);
        // SAFETY: the guard holds the lock, and gives it up here.
        unsafe { self.lock.raw.unlock() };
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Ok(guard) => d.field("data", &&*guard),
            Err(TryLockError::Poisoned(err)) => d.field("data", &&**err.get_ref()),
            Err(TryLockError::WouldBlock) => d.field("data", &format_args!("<locked>")),
        };
        d.field("poisoned", &self.poison.get());
        d.finish_non_exhaustive()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(t: T) -> Mutex<T> {
        Mutex::new(t)
    }
}

// As std's: a panic inside leaves the mutex poisoned, which every later lock reports.
impl<T: ?Sized> std::panic::UnwindSafe for Mutex<T> {}
impl<T: ?Sized> std::panic::RefUnwindSafe for Mutex<T> {}
