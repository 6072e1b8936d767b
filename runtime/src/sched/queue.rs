//! A processor's local run queue: a fixed ring that its owner pushes and pops, and
//! that idle processors steal half of; plus the `runnext` slot.
//!
//! The ring follows Go's `runq`: `tail` is written only by the owner, `head` is advanced
//! by whoever consumes — the owner popping or a thief stealing — with a compare-and-swap.
//! A thief copies a batch out of the victim's ring *before* its CAS on the victim's head;
//! if the CAS fails the copy is discarded. The copy may read a slot the owner is
//! overwriting at that moment, which is why slots are atomics: the value read is then
//! garbage, but never undefined behaviour, and it is never used.
//!
//! `runnext` holds one G that should run next on this processor, ahead of the ring: the
//! G just readied by the running one (the receiver of a send). A communicating pair
//! then stays on one processor and hands the core back and forth.
//! Thieves never take it; sysmon moves a `runnext` G that has waited a whole sysmon
//! period to the global queue.
//!
//! Items are raw pointers, owned by the queue while queued. Under loom the ring holds 4
//! items so the models reach the full and wrap-around cases.

use crate::loom::{AtomicPtr, AtomicU32, Ordering};
use std::ptr;

/// Ring capacity: Go's 256; 4 under loom.
#[cfg(not(loom))]
pub const CAPACITY: u32 = 256;
#[cfg(loom)]
pub const CAPACITY: u32 = 4;

const MASK: u32 = CAPACITY - 1;

/// A processor's run queue. Shared by reference; the owner-only operations are on
/// [`Local`], obtained through the `unsafe` [`RunQueue::local`].
///
/// The ring's ends and `runnext` are on cache lines of their own: thieves poll the ends
/// while they wait for work (`steal.rs`), and the owner swaps `runnext` at every channel
/// hand-off — sharing a line, each poll would cost the owner a cache miss.
#[repr(C, align(128))]
pub struct RunQueue<T> {
    /// Next slot to consume. Advanced by CAS by the owner (pop) and thieves (steal).
    head: AtomicU32,
    /// Next slot to fill. Only updated by the owner, but read by thieves.
    tail: AtomicU32,
    buf: Box<[AtomicPtr<T>]>,
    /// The G to run next, ahead of the ring. Swapped by the owner, taken by sysmon.
    runnext: Line<AtomicPtr<T>>,
}

/// A value on a cache-line pair of its own (the adjacent-line prefetcher fetches two).
#[repr(align(128))]
struct Line<T>(T);

impl<T> std::ops::Deref for Line<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.0
    }
}

/// The owner's handle on a run queue: pushing, popping, `runnext`.
pub struct Local<'a, T> {
    q: &'a RunQueue<T>,
}

/// What `Local::push` could not fit: the caller moves these to the global queue.
pub struct Overflow<T> {
    /// Half of the ring, oldest first, followed by the item being pushed.
    pub items: Vec<*mut T>,
}

// SAFETY: the queue only moves pointers between threads; ownership of the pointees
// travels with them (the caller's contract), and all shared state is atomic.
unsafe impl<T> Send for RunQueue<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for RunQueue<T> {}

impl<T> RunQueue<T> {
    pub fn new() -> Self {
        RunQueue {
            head: AtomicU32::new(0),
            tail: AtomicU32::new(0),
            buf: (0..CAPACITY)
                .map(|_| AtomicPtr::new(ptr::null_mut()))
                .collect(),
            runnext: Line(AtomicPtr::new(ptr::null_mut())),
        }
    }

    /// The owner's handle.
    ///
    /// # Safety
    ///
    /// The caller owns this queue's processor, and no other `Local` for this queue is
    /// in use at the same time.
    #[inline]
    pub unsafe fn local(&self) -> Local<'_, T> {
        Local { q: self }
    }

    /// Whether the ring (not `runnext`) looks empty. A snapshot: racy by nature.
    #[inline]
    pub fn ring_is_empty(&self) -> bool {
        let h = self.head.load(Ordering::Acquire);
        let t = self.tail.load(Ordering::Acquire);
        t == h
    }

    /// Whether anything is queued, `runnext` included. A snapshot.
    #[inline]
    pub fn has_work(&self) -> bool {
        !self.ring_is_empty() || !self.runnext.load(Ordering::Acquire).is_null()
    }

    /// How many items were ever taken from the ring (wrapping): a snapshot that tells an
    /// observer whether the ring is being drained.
    #[inline]
    pub fn taken(&self) -> u32 {
        self.head.load(Ordering::Acquire)
    }

    /// The `runnext` item, without taking it (an observer's snapshot).
    #[allow(dead_code)] // for observers; not in the loom build
    pub fn peek_runnext(&self) -> *mut T {
        self.runnext.load(Ordering::Acquire)
    }

    /// Number of items in the ring. A snapshot (`head` first: a later `tail` is never
    /// behind it).
    #[allow(dead_code)] // not in the loom build's runtime code
    pub fn len(&self) -> usize {
        let h = self.head.load(Ordering::Acquire);
        let t = self.tail.load(Ordering::Acquire);
        t.wrapping_sub(h) as usize
    }

    /// Takes the `runnext` item away from the owner: sysmon's move of a G that waited
    /// too long. Any thread may call it.
    pub fn take_runnext(&self) -> Option<*mut T> {
        let p = self.runnext.load(Ordering::Acquire);
        if p.is_null() {
            return None;
        }
        // AcqRel: Acquire pairs with the owner's Release swap that published the item.
        self.runnext
            .compare_exchange(p, ptr::null_mut(), Ordering::AcqRel, Ordering::Relaxed)
            .ok()
    }

    /// Takes every item of the ring (not `runnext`), oldest first: sysmon's rescue of
    /// the queue of a P whose M is stuck, and a retiring P's last act. Any thread may
    /// call it; it competes with the owner's pops and thieves like a steal.
    pub fn take_all(&self) -> Vec<*mut T> {
        loop {
            // Acquire on both, as in `grab`.
            let h = self.head.load(Ordering::Acquire);
            let t = self.tail.load(Ordering::Acquire);
            let n = t.wrapping_sub(h);
            if n == 0 {
                return Vec::new();
            }
            if n > CAPACITY {
                // Read at different moments; retry.
                continue;
            }
            let items: Vec<*mut T> = (0..n)
                .map(|i| self.buf[(h.wrapping_add(i) & MASK) as usize].load(Ordering::Relaxed))
                .collect();
            // AcqRel: commits the batch, as `grab` does; on failure the copy is garbage.
            if self
                .head
                .compare_exchange(h, h.wrapping_add(n), Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return items;
            }
        }
    }

    /// Moves half of `self`'s ring into `dst`'s ring and returns one of the stolen items
    /// (the rest are queued in `dst`). `dst` must be empty: its owner (the caller)
    /// steals only when it has nothing else.
    pub fn steal_into(&self, dst: &mut Local<'_, T>) -> Option<*mut T> {
        let dst_tail = dst.q.tail.load(Ordering::Relaxed);
        debug_assert!(
            dst.q.ring_is_empty(),
            "gogreen: fatal: stealing into a non-empty ring"
        );
        let n = self.grab(dst.q, dst_tail)?;
        // The last grabbed item is returned, the others become visible to dst's thieves.
        let n = n - 1;
        let item = dst.q.buf[(dst_tail.wrapping_add(n) & MASK) as usize].load(Ordering::Relaxed);
        if n > 0 {
            // Release pairs with thieves' Acquire of `tail`: they see the copied slots.
            dst.q
                .tail
                .store(dst_tail.wrapping_add(n), Ordering::Release);
        }
        Some(item)
    }

    /// Copies half of the ring into `dst`'s buffer at `dst_tail` and commits by CAS on
    /// `head`; returns how many were taken. Go's `runqgrab`.
    fn grab(&self, dst: &RunQueue<T>, dst_tail: u32) -> Option<u32> {
        loop {
            // Acquire on both: pairs with the owner's Release store of `tail` (the slots
            // below it are written) and other consumers' CAS of `head`.
            let h = self.head.load(Ordering::Acquire);
            let t = self.tail.load(Ordering::Acquire);
            let len = t.wrapping_sub(h);
            let n = len - len / 2;
            if n == 0 {
                return None;
            }
            if n > CAPACITY / 2 {
                // h and t were read at different moments and are inconsistent; retry.
                continue;
            }
            for i in 0..n {
                let v = self.buf[(h.wrapping_add(i) & MASK) as usize].load(Ordering::Relaxed);
                dst.buf[(dst_tail.wrapping_add(i) & MASK) as usize].store(v, Ordering::Relaxed);
            }
            // AcqRel: commits the batch; on success the copied slots were not reused by
            // the owner (it could only write past `h + CAPACITY`).
            if self
                .head
                .compare_exchange(h, h.wrapping_add(n), Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return Some(n);
            }
        }
    }
}

impl<T> Drop for RunQueue<T> {
    fn drop(&mut self) {
        debug_assert!(
            !self.has_work() || std::thread::panicking(),
            "run queue dropped with work in it"
        );
    }
}

impl<T> Local<'_, T> {
    /// Pushes onto the ring's tail. When the ring is full, returns half of it plus
    /// `item` for the caller to put on the global queue (Go's `runqputslow`).
    #[inline]
    pub fn push(&mut self, item: *mut T) -> Result<(), Overflow<T>> {
        let q = self.q;
        loop {
            let h = q.head.load(Ordering::Acquire);
            let t = q.tail.load(Ordering::Relaxed);
            if t.wrapping_sub(h) < CAPACITY {
                q.buf[(t & MASK) as usize].store(item, Ordering::Relaxed);
                // Release: the slot write above is visible to whoever Acquire-loads tail.
                q.tail.store(t.wrapping_add(1), Ordering::Release);
                return Ok(());
            }
            if let Some(items) = self.take_half(h, t, item) {
                return Err(Overflow { items });
            }
            // A thief moved head meanwhile: there is room now.
        }
    }

    fn take_half(&mut self, h: u32, t: u32, item: *mut T) -> Option<Vec<*mut T>> {
        let q = self.q;
        let n = t.wrapping_sub(h) / 2;
        debug_assert_eq!(n, CAPACITY / 2);
        let mut items = Vec::with_capacity(n as usize + 1);
        for i in 0..n {
            items.push(q.buf[(h.wrapping_add(i) & MASK) as usize].load(Ordering::Relaxed));
        }
        // AcqRel: like a pop of n items; fails if a thief took some first.
        if q.head
            .compare_exchange(h, h.wrapping_add(n), Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return None;
        }
        items.push(item);
        Some(items)
    }

    /// Pops from the ring's head (FIFO).
    #[inline]
    pub fn pop(&mut self) -> Option<*mut T> {
        let q = self.q;
        loop {
            let h = q.head.load(Ordering::Acquire);
            let t = q.tail.load(Ordering::Relaxed);
            if t == h {
                return None;
            }
            let item = q.buf[(h & MASK) as usize].load(Ordering::Relaxed);
            // AcqRel: competes with thieves for the same slot.
            if q.head
                .compare_exchange(h, h.wrapping_add(1), Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                return Some(item);
            }
        }
    }

    /// Puts `item` in `runnext`, returning the item it displaces (which the caller
    /// pushes onto the ring).
    #[inline]
    pub fn set_runnext(&mut self, item: *mut T) -> Option<*mut T> {
        if self.fill_runnext(item) {
            return None;
        }
        // AcqRel: Release publishes the item; Acquire takes ownership of the displaced
        // one. A swap, because sysmon may be taking that one at this moment.
        let old = self.q.runnext.swap(item, Ordering::AcqRel);
        if old.is_null() { None } else { Some(old) }
    }

    /// Puts `item` in `runnext` if it is empty; returns whether it did.
    #[inline]
    pub fn fill_runnext(&mut self, item: *mut T) -> bool {
        // Only the owner ever puts an item in `runnext`; others only take one out. So an
        // empty slot stays empty until this store, and a plain store fills it: the
        // common case of a channel hand-off, whose readied G the owner took out of
        // `runnext` to run it. Release publishes the item to a `take_runnext`.
        if self.q.runnext.load(Ordering::Relaxed).is_null() {
            self.q.runnext.store(item, Ordering::Release);
            return true;
        }
        false
    }

    /// Takes the `runnext` item.
    #[inline]
    pub fn take_runnext(&mut self) -> Option<*mut T> {
        if self.q.runnext.load(Ordering::Relaxed).is_null() {
            return None;
        }
        let old = self.q.runnext.swap(ptr::null_mut(), Ordering::AcqRel);
        if old.is_null() { None } else { Some(old) }
    }
}
