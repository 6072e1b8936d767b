//! The global run queue: overflow of full local queues, Gs readied from outside the
//! runtime (an OS thread sending to a green thread), and Gs that lost their processor.
//!
//! An intrusive FIFO list under a mutex, so a million queued Gs cost no memory beyond
//! their own headers. Its length is mirrored in an atomic so the scheduler can look
//! without locking — every 61 ticks, and in the idle protocol, where the length is the
//! "is there global work" half of the no-lost-wake-up argument (see `idle.rs`).

use crate::loom::{AtomicUsize, Mutex, Ordering};
use std::ptr;

/// Items that carry their own `next` link.
///
/// # Safety
///
/// `next`/`set_next` must read and write a link field owned by whoever holds the item;
/// the queue calls them only under its lock, on items it owns.
pub unsafe trait Linked {
    /// # Safety
    /// `this` is a live item owned by the caller.
    unsafe fn next(this: *mut Self) -> *mut Self;
    /// # Safety
    /// As for `next`.
    unsafe fn set_next(this: *mut Self, next: *mut Self);
}

pub struct Inject<T: Linked> {
    list: Mutex<List<T>>,
    /// Mirror of `list.len`, written under the lock, read without it.
    len: AtomicUsize,
}

struct List<T> {
    head: *mut T,
    tail: *mut T,
    len: usize,
}

// SAFETY: the list is only touched under the mutex; items move between threads with
// their ownership.
unsafe impl<T: Linked> Send for Inject<T> {}
// SAFETY: as above.
unsafe impl<T: Linked> Sync for Inject<T> {}

impl<T: Linked> Inject<T> {
    pub fn new() -> Self {
        Inject {
            list: Mutex::new(List {
                head: ptr::null_mut(),
                tail: ptr::null_mut(),
                len: 0,
            }),
            len: AtomicUsize::new(0),
        }
    }

    /// Number of queued items. SeqCst: one side of the idle protocol's Dekker pattern.
    #[inline]
    pub fn len(&self) -> usize {
        self.len.load(Ordering::SeqCst)
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends one item.
    pub fn push(&self, item: *mut T) {
        self.push_batch(std::iter::once(item));
    }

    /// Appends items in order, under one lock.
    pub fn push_batch(&self, items: impl IntoIterator<Item = *mut T>) {
        let mut list = self.list.lock();
        for item in items {
            // SAFETY: the caller hands over ownership of `item`; we hold the lock.
            unsafe { T::set_next(item, ptr::null_mut()) };
            if list.tail.is_null() {
                list.head = item;
            } else {
                // SAFETY: `tail` is a queued item, owned by the list.
                unsafe { T::set_next(list.tail, item) };
            }
            list.tail = item;
            list.len += 1;
        }
        // SeqCst: publishes the new length for the idle protocol (submit, then check).
        self.len.store(list.len, Ordering::SeqCst);
    }

    /// Takes up to `max` items from the front, handing each to `f` in order.
    pub fn pop_n(&self, max: usize, mut f: impl FnMut(*mut T)) -> usize {
        if self.is_empty() {
            return 0;
        }
        let mut list = self.list.lock();
        let n = max.min(list.len);
        for _ in 0..n {
            let item = list.head;
            // SAFETY: `item` is queued (n <= len), owned by the list until handed out.
            list.head = unsafe { T::next(item) };
            f(item);
        }
        list.len -= n;
        if list.head.is_null() {
            list.tail = ptr::null_mut();
        }
        self.len.store(list.len, Ordering::SeqCst);
        n
    }

    /// Takes the front item.
    pub fn pop(&self) -> Option<*mut T> {
        let mut out = None;
        self.pop_n(1, |item| out = Some(item));
        out
    }
}
