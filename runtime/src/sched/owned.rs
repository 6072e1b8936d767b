//! Fields one thread writes and any thread may read as a snapshot: an M's P, its
//! running G, whether it spins — which `gogreen::stats`, the task dump and the deadlock
//! check read from other threads.
//!
//! They were `Cell`s, and reading a `Cell` from another thread is a data race. These
//! have `Cell`'s API on a Relaxed atomic: a load or a store is the same `mov` as a
//! `Cell`'s, and `replace` is a load and a store, not a locked exchange — correct
//! because only the owner writes. What they cost is what the compiler can no longer
//! do: keep the value in a register across other memory accesses.

use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering};

/// A pointer its owner thread writes; others read it as a snapshot.
pub(crate) struct OwnedPtr<T>(AtomicPtr<T>);

impl<T> OwnedPtr<T> {
    pub(crate) const fn new(p: *const T) -> Self {
        OwnedPtr(AtomicPtr::new(p.cast_mut()))
    }

    #[inline]
    pub(crate) fn get(&self) -> *const T {
        self.0.load(Ordering::Relaxed)
    }

    /// Owner only.
    #[inline]
    pub(crate) fn set(&self, p: *const T) {
        self.0.store(p.cast_mut(), Ordering::Relaxed);
    }

    /// Owner only: a load and a store (no other thread writes).
    #[inline]
    pub(crate) fn replace(&self, p: *const T) -> *const T {
        let old = self.get();
        self.set(p);
        old
    }
}

/// A flag its owner thread writes; others read it as a snapshot.
pub(crate) struct OwnedBool(AtomicBool);

impl OwnedBool {
    pub(crate) const fn new(v: bool) -> Self {
        OwnedBool(AtomicBool::new(v))
    }

    #[inline]
    pub(crate) fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Owner only.
    #[inline]
    pub(crate) fn set(&self, v: bool) {
        self.0.store(v, Ordering::Relaxed);
    }

    /// Owner only: a load and a store (no other thread writes).
    #[inline]
    pub(crate) fn replace(&self, v: bool) -> bool {
        let old = self.get();
        self.set(v);
        old
    }
}

/// A number its owner thread writes; others read it as a snapshot.
pub(crate) struct OwnedU32(AtomicU32);

impl OwnedU32 {
    pub(crate) const fn new(v: u32) -> Self {
        OwnedU32(AtomicU32::new(v))
    }

    #[inline]
    pub(crate) fn get(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }

    /// Owner only.
    #[inline]
    pub(crate) fn set(&self, v: u32) {
        self.0.store(v, Ordering::Relaxed);
    }
}
