//! `std` or `loom` synchronisation types behind one path, so the protocol modules
//! (run queue, global queue, idle/spinning, G state, parker, poll slots, the `sync`
//! primitives) compile unchanged under loom.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{
    AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, fence,
};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{
    AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, fence,
};

pub(crate) use std::sync::atomic::Ordering;

/// A mutex whose `lock` returns the guard directly, over `parking_lot` or loom.
pub(crate) struct Mutex<T> {
    #[cfg(loom)]
    inner: loom::sync::Mutex<T>,
    #[cfg(not(loom))]
    inner: parking_lot::Mutex<T>,
}

#[cfg(loom)]
pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;
#[cfg(not(loom))]
pub(crate) type MutexGuard<'a, T> = parking_lot::MutexGuard<'a, T>;

impl<T> Mutex<T> {
    #[cfg(not(loom))]
    pub(crate) const fn new(value: T) -> Self {
        Mutex {
            inner: parking_lot::Mutex::new(value),
        }
    }

    #[cfg(loom)]
    pub(crate) fn new(value: T) -> Self {
        Mutex {
            inner: loom::sync::Mutex::new(value),
        }
    }

    #[inline]
    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        #[cfg(loom)]
        {
            self.inner.lock().unwrap()
        }
        #[cfg(not(loom))]
        {
            self.inner.lock()
        }
    }
}

/// An `UnsafeCell` with loom's closure-based API, so that under loom every access is
/// checked against the others.
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
pub(crate) use loom::cell::UnsafeCell;

/// A `Cell` for plain values that a lock protects. Under loom every access is checked,
/// so a read or write outside the lock shows up as a data race.
pub(crate) struct Cell<T: Copy>(UnsafeCell<T>);

impl<T: Copy> Cell<T> {
    #[cfg(not(loom))]
    #[inline(always)]
    pub(crate) const fn new(value: T) -> Self {
        Cell(UnsafeCell::new(value))
    }

    #[cfg(loom)]
    pub(crate) fn new(value: T) -> Self {
        Cell(UnsafeCell::new(value))
    }

    #[inline(always)]
    pub(crate) fn get(&self) -> T {
        // SAFETY: callers hold the lock that protects this cell (or own it alone), so no
        // write races with this read; `T: Copy`, so no reference escapes.
        self.0.with(|p| unsafe { *p })
    }

    #[inline(always)]
    pub(crate) fn set(&self, value: T) {
        // SAFETY: as in `get`: the protecting lock makes this the only access.
        self.0.with_mut(|p| unsafe { *p = value })
    }
}

/// One turn of waiting for a word that another thread holds for a few instructions
/// (`step` counts the turns): spin a little longer each time, then give the OS thread
/// up, in case the holder was preempted. Under loom, a yield, so the model lets the
/// holder run.
#[inline]
pub(crate) fn spin_wait(step: &mut u32) {
    #[cfg(loom)]
    {
        let _ = step;
        loom::thread::yield_now();
    }
    #[cfg(not(loom))]
    {
        if *step < 7 {
            for _ in 0..1u32 << *step {
                std::hint::spin_loop();
            }
            *step += 1;
        } else {
            std::thread::yield_now();
        }
    }
}
