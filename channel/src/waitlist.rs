//! A channel's list of blocked operations: an intrusive FIFO of stack entries under a lock.
//!
//! Each channel keeps one list per direction. `selectors` are operations waiting to
//! *happen* (a blocked `recv`, a `select` arm); `observers` wait only to *learn* that an
//! operation became ready (`Select::ready`). The entries live on the waiters' stacks
//! (`waiter.rs` says who may touch them when); the list only links them, so registering,
//! selecting and unregistering cost O(1) and never allocate, even with a million waiters.
//!
//! [`WaitList`] is the bare list; the rendezvous flavor keeps it inside its own lock.
//! [`SyncWaitList`] adds a lock and an `is_empty` flag so that the buffered flavors' fast
//! paths can skip the lock when nobody waits.

use std::ptr;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::loom::{AtomicBool, Mutex, fence, loom_seqcst_fence};
use crate::park::{Unparker, WaitReason};
use crate::waiter::{Entry, Selected, Waiter};

/// A doubly linked FIFO of entries.
struct Queue {
    head: *const Entry,
    tail: *const Entry,
}

impl Queue {
    const fn new() -> Queue {
        Queue {
            head: ptr::null(),
            tail: ptr::null(),
        }
    }

    fn is_empty(&self) -> bool {
        self.head.is_null()
    }

    /// Links `entry` at the back.
    ///
    /// # Safety
    ///
    /// `entry` is unlinked and stays alive and in place until it is unlinked again; the
    /// caller holds the lock that protects this queue.
    unsafe fn push_back(&mut self, entry: &Entry) {
        debug_assert!(!entry.linked.get());
        entry.prev.set(self.tail);
        entry.next.set(ptr::null());
        if self.tail.is_null() {
            self.head = entry;
        } else {
            // SAFETY: linked entries are alive (the caller's contract for each of them).
            unsafe { (*self.tail).next.set(entry) };
        }
        self.tail = entry;
        entry.linked.set(true);
    }

    /// Unlinks `entry`.
    ///
    /// # Safety
    ///
    /// `entry` is linked into this queue; the caller holds its lock.
    unsafe fn remove(&mut self, entry: &Entry) {
        debug_assert!(entry.linked.get());
        let (prev, next) = (entry.prev.get(), entry.next.get());
        if prev.is_null() {
            debug_assert!(ptr::eq(self.head, entry));
            self.head = next;
        } else {
            // SAFETY: linked entries are alive.
            unsafe { (*prev).next.set(next) };
        }
        if next.is_null() {
            debug_assert!(ptr::eq(self.tail, entry));
            self.tail = prev;
        } else {
            // SAFETY: linked entries are alive.
            unsafe { (*next).prev.set(prev) };
        }
        entry.linked.set(false);
    }
}

/// What a waker needs once it has selected a waiter: how to wake it, and where its packet is.
pub(crate) struct Wakeup {
    pub(crate) unparker: Unparker,
    /// The selected entry's packet (rendezvous hand-off), or null.
    pub(crate) packet: *mut (),
}

/// Blocked operations on one side of a channel. Every method requires the lock that
/// protects the list (which `&mut self` stands for).
pub(crate) struct WaitList {
    selectors: Queue,
    observers: Queue,
}

// SAFETY: the list holds pointers to entries on other threads' stacks; they are only
// dereferenced under the lock that owns the list, while the entries are linked and thus
// alive (`waiter.rs`). The unparkers reached through them are `Send + Sync`.
unsafe impl Send for WaitList {}

impl WaitList {
    pub(crate) const fn new() -> WaitList {
        WaitList {
            selectors: Queue::new(),
            observers: Queue::new(),
        }
    }

    /// Whether no operation waits or watches.
    pub(crate) fn is_empty(&self) -> bool {
        self.selectors.is_empty() && self.observers.is_empty()
    }

    /// Links a blocked operation.
    ///
    /// # Safety
    ///
    /// `entry` must stay alive and in place until it is unlinked, by [`unregister`] or by a
    /// waker that selects it.
    ///
    /// [`unregister`]: WaitList::unregister
    #[inline]
    pub(crate) unsafe fn register(&mut self, entry: &Entry) {
        // SAFETY: the caller's contract.
        unsafe { self.selectors.push_back(entry) }
    }

    /// Unlinks `entry` if a waker has not already done so.
    pub(crate) fn unregister(&mut self, entry: &Entry) {
        if entry.linked.get() {
            // SAFETY: a linked entry the caller registered here is in `selectors`.
            unsafe { self.selectors.remove(entry) }
        }
    }

    /// Links an operation that only watches for readiness.
    ///
    /// # Safety
    ///
    /// As for [`register`](WaitList::register).
    pub(crate) unsafe fn watch(&mut self, entry: &Entry) {
        // SAFETY: the caller's contract.
        unsafe { self.observers.push_back(entry) }
    }

    /// Unlinks a watching `entry` if a waker has not already done so.
    pub(crate) fn unwatch(&mut self, entry: &Entry) {
        if entry.linked.get() {
            // SAFETY: a linked entry the caller watched with is in `observers`.
            unsafe { self.observers.remove(entry) }
        }
    }

    /// Selects the first waiting operation, oldest first, and unlinks it.
    ///
    /// Entries whose waiter was selected elsewhere or gave up are unlinked on the way (their
    /// owners find them unlinked and skip them). The caller **must** wake the returned
    /// waiter through [`Wakeup::unparker`] once it has done its part of the operation.
    ///
    /// Inlined: the rendezvous calls it on every hand-off.
    #[inline]
    pub(crate) fn try_select(&mut self) -> Option<Wakeup> {
        while !self.selectors.head.is_null() {
            // SAFETY: linked entries are alive while we hold the lock.
            let entry = unsafe { &*self.selectors.head };
            let waiter = entry.waiter();
            let (oper, state, sole) = (entry.oper(), waiter.state(), waiter.is_sole());
            // A linked sole waiter is waiting (`waiter.rs`, "Sole waiters").
            let candidate = (sole || waiter.is_waiting())
                .then(|| (waiter.unparker().clone(), entry.packet.get()));
            // Unlink before the CAS: after it the owner may return and its frame is gone.
            // SAFETY: `entry` is the head of `selectors`.
            unsafe { self.selectors.remove(entry) };
            if let Some((unparker, packet)) = candidate
                && Waiter::select_linked(state, sole, Selected::Operation(oper))
            {
                // `entry`, `waiter` and `state` may be dangling from here on.
                return Some(Wakeup { unparker, packet });
            }
        }
        None
    }

    /// Whether some operation waits whose waiter is not `me` (a `select` must not
    /// rendezvous with itself).
    pub(crate) fn has_waiting_other(&self, me: *const Waiter) -> bool {
        let mut cur = self.selectors.head;
        while !cur.is_null() {
            // SAFETY: linked entries are alive while we hold the lock.
            let entry = unsafe { &*cur };
            let waiter = entry.waiter();
            if !ptr::eq(waiter, me) && waiter.is_waiting() {
                return true;
            }
            cur = entry.next.get();
        }
        false
    }

    /// Tells every watcher that something changed; they re-check for themselves.
    #[inline]
    pub(crate) fn notify_observers(&mut self) {
        // Watchers (`Select::ready`) are rare; every blocking operation calls this.
        if !self.observers.head.is_null() {
            self.notify_observers_slow();
        }
    }

    #[cold]
    fn notify_observers_slow(&mut self) {
        while !self.observers.head.is_null() {
            // SAFETY: linked entries are alive while we hold the lock.
            let entry = unsafe { &*self.observers.head };
            let waiter = entry.waiter();
            let (oper, state) = (entry.oper(), waiter.state());
            let unparker = waiter.unparker().clone();
            // SAFETY: `entry` is the head of `observers`.
            unsafe { self.observers.remove(entry) };
            // As in `try_select`: after the CAS the record may be gone.
            if Waiter::select_through(state, Selected::Operation(oper)).is_ok() {
                unparker.unpark();
            }
        }
    }

    /// Ends up to `out.len()` waits with `Disconnected` (the channel closed), oldest
    /// first, and puts their unparkers in `out`; returns how many. The caller wakes them
    /// after releasing the lock, and calls again until [`has_selectors`] is false.
    ///
    /// Like [`try_select`](WaitList::try_select), each entry is unlinked and its unparker
    /// cloned before the CAS, after which its owner may return. A close therefore holds
    /// the lock for one batch at a time, not for all its waiters: with a million blocked
    /// receivers, the ones woken first can unlink and run while the rest are woken.
    ///
    /// [`has_selectors`]: WaitList::has_selectors
    pub(crate) fn disconnect_some(&mut self, out: &mut [Option<Unparker>]) -> usize {
        let mut n = 0;
        while n < out.len() && !self.selectors.head.is_null() {
            // SAFETY: linked entries are alive while we hold the lock.
            let entry = unsafe { &*self.selectors.head };
            let waiter = entry.waiter();
            let (state, sole) = (waiter.state(), waiter.is_sole());
            let unparker = (sole || waiter.is_waiting()).then(|| waiter.unparker().clone());
            // SAFETY: `entry` is the head of `selectors`.
            unsafe { self.selectors.remove(entry) };
            if let Some(u) = unparker
                && Waiter::select_linked(state, sole, Selected::Disconnected)
            {
                // `entry` and its waiter may be gone from here on.
                out[n] = Some(u);
                n += 1;
            }
        }
        n
    }

    /// Whether some operation waits (watchers not counted).
    #[inline]
    pub(crate) fn has_selectors(&self) -> bool {
        !self.selectors.is_empty()
    }
}

impl Drop for WaitList {
    fn drop(&mut self) {
        // Every owner unlinks its entries before it returns, and a channel is dropped only
        // when no handle, and so no blocked operation, is left.
        debug_assert!(
            self.is_empty(),
            "gogreen: fatal: wait list dropped with waiters"
        );
    }
}

/// Waiters a close wakes per hold of a wait list's lock.
pub(crate) const CLOSE_BATCH: usize = 32;

/// A [`WaitList`] with its own lock, for the flavors whose fast paths are lock-free.
pub(crate) struct SyncWaitList {
    list: Mutex<WaitList>,
    /// Whether `list` is empty; written under the lock, read without it by [`notify`] so
    /// that a send or receive that nobody waits for never takes the lock.
    ///
    /// [`notify`]: SyncWaitList::notify
    is_empty: AtomicBool,
}

impl SyncWaitList {
    pub(crate) fn new() -> SyncWaitList {
        SyncWaitList {
            list: Mutex::new(WaitList::new()),
            is_empty: AtomicBool::new(true),
        }
    }

    /// Links a blocked operation, then re-checks whether it can proceed (`ready`): the
    /// channel may have become ready just before the entry was linked.
    ///
    /// The link publishes `is_empty = false` (SeqCst), a `SeqCst` fence follows, then
    /// `ready` reads the channel: that store-fence-load pairs with
    /// [`notify`](SyncWaitList::notify)'s change-then-load (Dekker's pattern), so either
    /// the waker sees the entry or `ready` sees the change. Returns what `ready` says.
    ///
    /// # Safety
    ///
    /// As for [`WaitList::register`].
    pub(crate) unsafe fn register(&self, entry: &Entry, ready: impl FnOnce() -> bool) -> bool {
        {
            let mut list = self.list.lock();
            // SAFETY: the caller's contract.
            unsafe { list.register(entry) };
            // SeqCst: the waiter's store of the Dekker pair.
            self.is_empty.store(false, Ordering::SeqCst);
        }
        // SeqCst: orders the store above before the loads in `ready`.
        fence(Ordering::SeqCst);
        ready()
    }

    /// Unlinks `entry` if a waker has not already done so.
    pub(crate) fn unregister(&self, entry: &Entry) {
        let mut list = self.list.lock();
        list.unregister(entry);
        self.is_empty.store(list.is_empty(), Ordering::SeqCst);
    }

    /// Links a watcher, then re-checks `ready` as [`register`](SyncWaitList::register)
    /// does, and returns what it says.
    ///
    /// # Safety
    ///
    /// As for [`WaitList::register`].
    pub(crate) unsafe fn watch(&self, entry: &Entry, ready: impl FnOnce() -> bool) -> bool {
        {
            let mut list = self.list.lock();
            // SAFETY: the caller's contract.
            unsafe { list.watch(entry) };
            // SeqCst: as in `register`.
            self.is_empty.store(false, Ordering::SeqCst);
        }
        // SeqCst: as in `register`.
        fence(Ordering::SeqCst);
        ready()
    }

    /// Unlinks a watcher if a waker has not already done so.
    pub(crate) fn unwatch(&self, entry: &Entry) {
        let mut list = self.list.lock();
        list.unwatch(entry);
        self.is_empty.store(list.is_empty(), Ordering::SeqCst);
    }

    /// Wakes one blocked operation and every watcher, if there are any.
    ///
    /// Call it after changing the channel with a `SeqCst` read-modify-write (moving head or
    /// tail): that change and this `SeqCst` load form the other half of the Dekker pair
    /// described on [`register`](SyncWaitList::register).
    #[inline]
    pub(crate) fn notify(&self) {
        loom_seqcst_fence();
        if !self.is_empty.load(Ordering::SeqCst) {
            self.notify_slow();
        }
    }

    #[cold]
    #[inline(never)]
    fn notify_slow(&self) {
        let wakeup = {
            let mut list = self.list.lock();
            if self.is_empty.load(Ordering::SeqCst) {
                return;
            }
            let wakeup = list.try_select();
            list.notify_observers();
            self.is_empty.store(list.is_empty(), Ordering::SeqCst);
            wakeup
        };
        // Outside the lock: the woken thread may want it at once.
        if let Some(wakeup) = wakeup {
            wakeup.unparker.unpark();
        }
    }

    /// Blocks the caller until a waker selects it, the channel closes, `deadline` passes,
    /// or `ready()` holds right after registering. The caller then retries its operation.
    ///
    /// The waiting record lives in this frame; a blocked `recv` of a buffered channel is
    /// this frame, [`Waiter::wait_until`]'s and the park seam's.
    #[cold]
    #[inline(never)]
    pub(crate) fn wait(
        &self,
        ready: &dyn Fn() -> bool,
        deadline: Option<Instant>,
        why: WaitReason,
    ) {
        let waiter = Waiter::new(why);
        let entry = Entry::new(&waiter);
        // SAFETY: `entry` stays in this frame, and we return only once it is unlinked: by
        // the waker that selects it (before its CAS) or by `unregister` below.
        if unsafe { self.register(&entry, ready) } {
            let _ = waiter.try_select(Selected::Aborted);
        }
        match waiter.wait_until(deadline) {
            Selected::Operation(_) => {}
            _ => self.unregister(&entry),
        }
    }

    /// Ends every wait with `Disconnected` and wakes every watcher: the channel closed.
    /// Waiters are woken in batches, outside the lock (see
    /// [`WaitList::disconnect_some`]).
    pub(crate) fn disconnect(&self) {
        let mut batch: [Option<Unparker>; CLOSE_BATCH] = Default::default();
        loop {
            let (n, more) = {
                let mut list = self.list.lock();
                let n = list.disconnect_some(&mut batch);
                if !list.has_selectors() {
                    list.notify_observers();
                }
                self.is_empty.store(list.is_empty(), Ordering::SeqCst);
                (n, list.has_selectors())
            };
            for u in batch.iter_mut().take(n) {
                u.take().expect("filled by disconnect_some").unpark();
            }
            if !more {
                return;
            }
        }
    }
}
