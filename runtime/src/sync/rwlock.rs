//! `std::sync::RwLock` for green threads: many readers or one writer; a blocked
//! caller parks its green thread, not the OS thread under it.
//!
//! The lock itself is [`RawRwLock`] (`raw_rwlock.rs`: the protocol, the hand-over);
//! this file adds the data, poisoning as `std` does it, and the guards.

use super::poison::{self, map_result};
use super::raw_rwlock::RawRwLock;
use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};

/// A reader-writer lock protecting a `T`, with `std::sync::RwLock`'s API.
///
/// Waiters are served in arrival order: once a writer waits, later readers queue behind
/// it, so readers cannot starve writers; readers that wait together are let in
/// together. Blocking parks the calling green thread, or blocks the calling OS thread.
///
/// ```
/// use gogreen::sync::RwLock;
///
/// let lock = RwLock::new(5);
/// {
///     let r1 = lock.read().unwrap();
///     let r2 = lock.read().unwrap();
///     assert_eq!(*r1 + *r2, 10);
/// }
/// *lock.write().unwrap() += 1;
/// assert_eq!(*lock.read().unwrap(), 6);
/// ```
pub struct RwLock<T: ?Sized> {
    raw: RawRwLock,
    poison: poison::Flag,
    data: UnsafeCell<T>,
}

// SAFETY: std's bounds: the lock moves the `T` between threads (`Send`), and lets
// several threads read it at once (`Sync`).
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

/// Shared access to an [`RwLock`]'s data; releases the read lock when dropped.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized + 'a> {
    lock: &'a RwLock<T>,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a shared guard gives `&T` only.
unsafe impl<T: ?Sized + Sync> Sync for RwLockReadGuard<'_, T> {}

/// Exclusive access to an [`RwLock`]'s data; releases the write lock when dropped.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized + 'a> {
    lock: &'a RwLock<T>,
    poison: poison::Guard,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a shared guard gives `&T` only.
unsafe impl<T: ?Sized + Sync> Sync for RwLockWriteGuard<'_, T> {}

impl<T> RwLock<T> {
    super::loom_const_fn! {
        /// A new, unlocked lock.
        pub fn new(t: T) -> RwLock<T> {
            RwLock {
                raw: RawRwLock::new(),
                poison: poison::Flag::new(),
                data: UnsafeCell::new(t),
            }
        }
    }

    /// Consumes the lock and returns its data; `Err` (with the data) if poisoned.
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

impl<T: ?Sized> RwLock<T> {
    /// Takes a read lock, parking (or blocking) while a writer holds the lock or waits
    /// ahead of us.
    ///
    /// # Errors
    ///
    /// `Err`, holding the read lock, if a writer panicked while holding the lock.
    #[inline]
    pub fn read(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        self.raw.read();
        // SAFETY: we just took a read lock.
        unsafe { RwLockReadGuard::new(self) }
    }

    /// Takes a read lock if that needs no waiting.
    ///
    /// # Errors
    ///
    /// [`TryLockError::WouldBlock`] if a writer holds the lock or anyone is queued;
    /// [`TryLockError::Poisoned`], holding the read lock, if a writer panicked.
    #[inline]
    pub fn try_read(&self) -> TryLockResult<RwLockReadGuard<'_, T>> {
        if self.raw.try_read() {
            // SAFETY: we just took a read lock.
            Ok(unsafe { RwLockReadGuard::new(self) }?)
        } else {
            Err(TryLockError::WouldBlock)
        }
    }

    /// Takes the write lock, parking (or blocking) until nobody else holds the lock.
    ///
    /// # Errors
    ///
    /// `Err`, holding the write lock, if a writer panicked while holding the lock.
    #[inline]
    pub fn write(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        self.raw.write();
        // SAFETY: we just took the write lock.
        unsafe { RwLockWriteGuard::new(self) }
    }

    /// Takes the write lock if that needs no waiting.
    ///
    /// # Errors
    ///
    /// [`TryLockError::WouldBlock`] if anyone holds the lock or is queued;
    /// [`TryLockError::Poisoned`], holding the write lock, if a writer panicked.
    #[inline]
    pub fn try_write(&self) -> TryLockResult<RwLockWriteGuard<'_, T>> {
        if self.raw.try_write() {
            // SAFETY: we just took the write lock.
            Ok(unsafe { RwLockWriteGuard::new(self) }?)
        } else {
            Err(TryLockError::WouldBlock)
        }
    }

    /// Whether a writer panicked while holding the lock (and nobody cleared it since).
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
    /// `Err`, with the reference, if the lock is poisoned.
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        let data = self.data.get_mut();
        if self.poison.get() {
            Err(PoisonError::new(data))
        } else {
            Ok(data)
        }
    }
}

impl<'a, T: ?Sized> RwLockReadGuard<'a, T> {
    /// # Safety
    ///
    /// The caller holds a read lock on `lock`, and hands it to the guard.
    #[inline]
    unsafe fn new(lock: &'a RwLock<T>) -> LockResult<RwLockReadGuard<'a, T>> {
        let guard = RwLockReadGuard {
            lock,
            _not_send: PhantomData,
        };
        if lock.poison.get() {
            Err(PoisonError::new(guard))
        } else {
            Ok(guard)
        }
    }
}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    /// # Safety
    ///
    /// The caller holds the write lock on `lock`, and hands it to the guard.
    #[inline]
    unsafe fn new(lock: &'a RwLock<T>) -> LockResult<RwLockWriteGuard<'a, T>> {
        map_result(lock.poison.guard(), |poison| RwLockWriteGuard {
            lock,
            poison,
            _not_send: PhantomData,
        })
    }

    /// Turns the write lock into a read lock without letting a writer in between;
    /// readers queued at the front come in too.
    pub fn downgrade(this: Self) -> RwLockReadGuard<'a, T> {
        let lock = this.lock;
        // A panic between taking the lock and here would have unwound through `this`;
        // poisoning is settled as at a drop.
        lock.poison.done(&this.poison);
        std::mem::forget(this);
        // SAFETY: the guard held the write lock, and we forgot it instead of dropping it.
        unsafe { lock.raw.downgrade() };
        RwLockReadGuard {
            lock,
            _not_send: PhantomData,
        }
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds a read lock: no writer until it drops.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the write lock.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the write lock.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard holds a read lock, and gives it up here.
        unsafe { self.lock.raw.read_unlock() };
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.poison.done(&self.poison);
        // SAFETY: the guard holds the write lock, and gives it up here.
        unsafe { self.lock.raw.write_unlock() };
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Ok(guard) => d.field("data", &&*guard),
            Err(TryLockError::Poisoned(err)) => d.field("data", &&**err.get_ref()),
            Err(TryLockError::WouldBlock) => d.field("data", &format_args!("<locked>")),
        };
        d.field("poisoned", &self.poison.get());
        d.finish_non_exhaustive()
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> RwLock<T> {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    fn from(t: T) -> RwLock<T> {
        RwLock::new(t)
    }
}

// As std's: a panic inside a write leaves the lock poisoned, which later locks report.
impl<T: ?Sized> std::panic::UnwindSafe for RwLock<T> {}
impl<T: ?Sized> std::panic::RefUnwindSafe for RwLock<T> {}
