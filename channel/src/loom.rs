//! `std` or `loom` synchronization types behind one path, so the loom models run the real code.
//!
//! Every atomic, lock and shared cell of the crate comes from here. Under `cfg(loom)` they
//! are loom's, which explores every interleaving and checks every access to a cell; otherwise
//! they are `std`'s, with wrappers that compile to nothing.

#[cfg(loom)]
pub(crate) use ::loom::sync::Arc;
#[cfg(loom)]
pub(crate) use ::loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, fence};

#[cfg(not(loom))]
pub(crate) use std::sync::Arc;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, fence};

use std::sync::atomic::Ordering;

/// Whether the crate runs under loom: spin loops shrink and capacities become tiny.
pub(crate) const LOOM: bool = cfg!(loom);

/// Orders a preceding `SeqCst` read-modify-write or store before a following `SeqCst` load.
///
/// The waiting protocol of the buffered flavors is Dekker's: a waiter publishes itself
/// (`SeqCst` store), then re-reads the channel (`SeqCst` load); a waker changes the channel
/// (`SeqCst` CAS), then reads whether anyone waits (`SeqCst` load). The C++ model already
/// forbids both loads from missing the other side's write, because all four operations are
/// in the single total order of `SeqCst` operations; on x86 the CAS is a full barrier anyway.
/// loom, however, models `SeqCst` accesses as `AcqRel` (loom's documented limitation) and
/// would report a lost wake-up that cannot happen. It does model `SeqCst` fences, so under
/// loom the fence is made explicit; elsewhere this is free.
#[inline(always)]
pub(crate) fn loom_seqcst_fence() {
    if LOOM {
        fence(Ordering::SeqCst);
    }
}

#[cfg(loom)]
pub(crate) use ::loom::sync::MutexGuard;

/// A mutex whose poisoning is ignored: the crate never panics while holding one.
#[cfg(loom)]
pub(crate) struct Mutex<T>(::loom::sync::Mutex<T>);

#[cfg(loom)]
impl<T> Mutex<T> {
    pub(crate) fn new(value: T) -> Self {
        Mutex(::loom::sync::Mutex::new(value))
    }

    #[inline]
    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The channels' lock: a spin lock, released with a plain store.
///
/// Every critical section of the crate is a few dozen instructions and never blocks,
/// parks or yields, so a holder is always running (unless the OS preempted it): waiting
/// means spinning a moment, then yielding the OS thread. A futex mutex would cost a second
/// read-modify-write per critical section, to release, and a rendezvous hand-off takes
/// two locks per side. (Not `park::snooze`: the holder is never a green thread waiting
/// for our processor, so giving way to other green threads would not help it.) A lock
/// held across a park is released before the runtime's next first run of a green
/// thread, whose fresh stack page faults (`runtime/src/sched/switch.rs`,
/// `start_after_unlock`): held through that fault, it cost the `parked` workload 5.5
/// yields per green thread.
#[cfg(not(loom))]
pub(crate) struct Mutex<T> {
    locked: AtomicBool,
    value: std::cell::UnsafeCell<T>,
}

// SAFETY: the lock gives one thread at a time access to the value.
#[cfg(not(loom))]
unsafe impl<T: Send> Sync for Mutex<T> {}
// SAFETY: as above.
#[cfg(not(loom))]
unsafe impl<T: Send> Send for Mutex<T> {}

#[cfg(not(loom))]
impl<T> Mutex<T> {
    pub(crate) const fn new(value: T) -> Self {
        Mutex {
            locked: AtomicBool::new(false),
            value: std::cell::UnsafeCell::new(value),
        }
    }

    #[inline]
    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        // Acquire pairs with the Release in `MutexGuard::drop`.
        if self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        MutexGuard { mutex: self }
    }

    #[cold]
    fn lock_contended(&self) {
        let mut step = 0u32;
        loop {
            // Wait for a release without writing the line, then try again.
            while self.locked.load(Ordering::Relaxed) {
                if step < 7 {
                    for _ in 0..1u32 << step {
                        std::hint::spin_loop();
                    }
                    step += 1;
                } else {
                    std::thread::yield_now();
                }
            }
            if self
                .locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }
}

/// Access to a [`Mutex`]'s value; unlocks when dropped.
#[cfg(not(loom))]
pub(crate) struct MutexGuard<'a, T> {
    mutex: &'a Mutex<T>,
}

#[cfg(not(loom))]
impl<'a, T> MutexGuard<'a, T> {
    /// Gives up the guard but keeps the lock held: someone must call
    /// [`Mutex::unlock_raw`] for it (the park seam's `park_unlocking`).
    #[inline]
    pub(crate) fn leak(guard: MutexGuard<'a, T>) -> &'a Mutex<T> {
        let mutex = guard.mutex;
        std::mem::forget(guard);
        mutex
    }
}

#[cfg(not(loom))]
impl<T> Mutex<T> {
    /// Releases a lock whose guard was leaked ([`MutexGuard::leak`]), through a pointer
    /// to the mutex, from any thread.
    ///
    /// # Safety
    ///
    /// `mutex` points to a live `Mutex<T>` that is locked, and whose guard was leaked;
    /// nothing touches its value under that leaked hold any more.
    pub(crate) unsafe fn unlock_raw(mutex: *const ()) {
        // SAFETY: the caller's contract.
        let mutex = unsafe { &*(mutex as *const Mutex<T>) };
        // Release: as in `MutexGuard::drop`.
        mutex.locked.store(false, Ordering::Release);
    }
}

#[cfg(not(loom))]
impl<T> std::ops::Deref for MutexGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock.
        unsafe { &*self.mutex.value.get() }
    }
}

#[cfg(not(loom))]
impl<T> std::ops::DerefMut for MutexGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock.
        unsafe { &mut *self.mutex.value.get() }
    }
}

#[cfg(not(loom))]
impl<T> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // Release: what the holder wrote is visible to the next holder.
        self.mutex.locked.store(false, Ordering::Release);
    }
}

/// An `UnsafeCell` with loom's closure-based API, so loom can check every access.
#[cfg(not(loom))]
#[repr(transparent)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    #[inline(always)]
    pub(crate) const fn new(value: T) -> Self {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    /// Runs `f` with a pointer for reading.
    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Runs `f` with a pointer for writing.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

#[cfg(loom)]
pub(crate) use ::loom::cell::UnsafeCell;

/// A `Cell` for plain values that a lock protects; under loom every access is checked, so
/// a read or write outside the lock is reported as a data race.
pub(crate) struct Cell<T: Copy>(UnsafeCell<T>);

impl<T: Copy> Cell<T> {
    #[inline(always)]
    pub(crate) fn new(value: T) -> Self {
        Cell(UnsafeCell::new(value))
    }

    #[inline(always)]
    pub(crate) fn get(&self) -> T {
        // SAFETY: callers hold the lock that protects this cell (or own it exclusively), so
        // no write races with this read; `T: Copy` means no reference escapes.
        self.0.with(|p| unsafe { *p })
    }

    #[inline(always)]
    pub(crate) fn set(&self, value: T) {
        // SAFETY: as in `get`: the protecting lock makes this the only access.
        self.0.with_mut(|p| unsafe { *p = value })
    }
}
