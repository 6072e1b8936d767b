//! Unbounded channel, `unbounded()`: a linked list of blocks of slots.
//!
//! The design of crossbeam-channel's list flavor. Messages get consecutive indices; each
//! block holds `BLOCK_CAP` of them (one index per lap is a gap that marks "move to the next
//! block"). A sender claims an index with a CAS on `tail`, writes, and sets the slot's
//! `WRITE` bit; a receiver claims with a CAS on `head`, waits for `WRITE`, reads, and sets
//! `READ`. The sender that claims a block's last slot installs the next block (allocated
//! ahead of time, so others wait for it only briefly); the receiver that reads a block's
//! last slot frees the block, or leaves that to a slower receiver still reading an earlier
//! slot of it (the `DESTROY` bit). Sends never block; receivers block on `receivers`.
//!
//! Positions are `index << SHIFT | mark`. In `tail` the mark means closed; in `head` it
//! means "this is not the last block", which spares receivers a look at `tail`.

use std::mem::MaybeUninit;
use std::ptr;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crossbeam_utils::CachePadded;

use crate::backoff::Spin;
use crate::err::Received;
use crate::flavors::defer;
use crate::loom::{AtomicPtr, AtomicUsize, LOOM, UnsafeCell, fence};
use crate::park::WaitReason;
use crate::token::{SelectHandle, Token};
use crate::waiter::Entry;
use crate::waitlist::SyncWaitList;

// Slot states, as bits.
/// A message has been written into the slot.
const WRITE: usize = 1;
/// The message has been read from the slot.
const READ: usize = 2;
/// The block is being destroyed; the reader of this slot must finish the destruction.
const DESTROY: usize = 4;

/// Indices per block, one of which is the gap between blocks. Small under loom, so models
/// cross block boundaries.
const LAP: usize = if LOOM { 4 } else { 32 };
/// Messages per block.
const BLOCK_CAP: usize = LAP - 1;
/// Low bits of a position that are not part of the index.
const SHIFT: usize = 1;
/// In `tail`: closed. In `head`: the head block is not the last one.
const MARK_BIT: usize = 1;

struct Slot<T> {
    /// Written by the sender that claimed the slot, read by the receiver that claimed it.
    msg: UnsafeCell<MaybeUninit<T>>,
    /// `WRITE | READ | DESTROY` bits.
    state: AtomicUsize,
}

impl<T> Slot<T> {
    /// Waits until the sender that claimed this slot has written it.
    fn wait_write(&self) {
        let mut spin = Spin::new();
        // Acquire pairs with the Release `fetch_or(WRITE)` in `write`.
        while self.state.load(Ordering::Acquire) & WRITE == 0 {
            spin.snooze();
        }
    }
}

struct Block<T> {
    /// The next block; set once by the sender that claims this block's last slot.
    next: AtomicPtr<Block<T>>,
    slots: [Slot<T>; BLOCK_CAP],
}

impl<T> Block<T> {
    /// A fresh block, built in place on the heap (a block of large messages would not fit
    /// a green thread's stack).
    fn new() -> Box<Block<T>> {
        #[cfg(not(loom))]
        {
            // SAFETY: all zeroes is a valid block: a null `next`, slot states of 0 (empty),
            // and `MaybeUninit` messages, which may hold anything.
            unsafe { Box::<Block<T>>::new_zeroed().assume_init() }
        }
        #[cfg(loom)]
        {
            Box::new(Block {
                next: AtomicPtr::new(ptr::null_mut()),
                slots: std::array::from_fn(|_| Slot {
                    msg: UnsafeCell::new(MaybeUninit::uninit()),
                    state: AtomicUsize::new(0),
                }),
            })
        }
    }

    /// Waits until the next block is installed.
    fn wait_next(&self) -> *mut Block<T> {
        let mut spin = Spin::new();
        loop {
            // Acquire pairs with the Release store in `start_send`.
            let next = self.next.load(Ordering::Acquire);
            if !next.is_null() {
                return next;
            }
            spin.snooze();
        }
    }

    /// Marks slots from `start` on as `DESTROY` and frees the block, unless a reader is
    /// still busy with one of them: that reader then continues the destruction.
    ///
    /// # Safety
    ///
    /// `this` is a live block whose every slot has been claimed by a receiver, and the
    /// caller is the receiver of its last slot or one that found `DESTROY` set.
    unsafe fn destroy(this: *mut Block<T>, start: usize) {
        // The last slot needs no mark: its reader started the destruction.
        for i in start..BLOCK_CAP - 1 {
            // SAFETY: the block is alive until this function frees it.
            let slot = unsafe { (*this).slots.get_unchecked(i) };
            // AcqRel: Acquire to see the reader's `READ`, Release so that the reader who
            // sees `DESTROY` sees the slots we checked before.
            if slot.state.load(Ordering::Acquire) & READ == 0
                && slot.state.fetch_or(DESTROY, Ordering::AcqRel) & READ == 0
            {
                return;
            }
        }
        // SAFETY: every slot has been read and nobody else holds the block.
        drop(unsafe { Box::from_raw(this) });
    }
}

/// One end of the list: an index and the block it points into.
struct Position<T> {
    index: AtomicUsize,
    block: AtomicPtr<Block<T>>,
}

/// An unbounded channel.
pub(crate) struct Channel<T> {
    /// Moved by receivers.
    head: CachePadded<Position<T>>,
    /// Moved by senders; carries the closed mark.
    tail: CachePadded<Position<T>>,
    /// Receivers blocked because the list is empty.
    receivers: SyncWaitList,
}

// SAFETY: a message moves between threads through a slot, hence `T: Send`; each slot is
// claimed by one sender and one receiver, in that order (the `WRITE` bit).
unsafe impl<T: Send> Send for Channel<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Channel<T> {}

impl<T> Channel<T> {
    pub(crate) fn new() -> Self {
        Channel {
            head: CachePadded::new(Position {
                index: AtomicUsize::new(0),
                block: AtomicPtr::new(ptr::null_mut()),
            }),
            tail: CachePadded::new(Position {
                index: AtomicUsize::new(0),
                block: AtomicPtr::new(ptr::null_mut()),
            }),
            receivers: SyncWaitList::new(),
        }
    }

    /// Claims a slot to send into. Always `true`; `token.ptr` null means closed.
    fn start_send(&self, token: &mut Token) -> bool {
        let mut spin = Spin::new();
        // Acquire pairs with the Release stores that install a block and skip the gap: a
        // sender that sees the new index or block sees the block initialized.
        let mut tail = self.tail.index.load(Ordering::Acquire);
        let mut block = self.tail.block.load(Ordering::Acquire);
        let mut next_block = None;
        loop {
            if tail & MARK_BIT != 0 {
                token.ptr = ptr::null();
                return true;
            }
            let offset = (tail >> SHIFT) % LAP;
            if offset == BLOCK_CAP {
                // Another sender is installing the next block.
                spin.snooze();
                tail = self.tail.index.load(Ordering::Acquire);
                block = self.tail.block.load(Ordering::Acquire);
                continue;
            }
            // Allocate before claiming the last slot, so others wait less for the install.
            if offset + 1 == BLOCK_CAP && next_block.is_none() {
                next_block = Some(Block::<T>::new());
            }
            if block.is_null() {
                // The very first message: install the first block.
                let new = Box::into_raw(Block::<T>::new());
                // Release pairs with the Acquire loads of `block` here and in `start_recv`.
                if self
                    .tail
                    .block
                    .compare_exchange(block, new, Ordering::Release, Ordering::Relaxed)
                    .is_ok()
                {
                    self.head.block.store(new, Ordering::Release);
                    block = new;
                } else {
                    // SAFETY: `new` came from `Box::into_raw` above and was not published.
                    next_block = Some(unsafe { Box::from_raw(new) });
                    tail = self.tail.index.load(Ordering::Acquire);
                    block = self.tail.block.load(Ordering::Acquire);
                    continue;
                }
            }
            let new_tail = tail + (1 << SHIFT);
            // SeqCst: the waker half of the Dekker pair (see `SyncWaitList::register`).
            match self.tail.index.compare_exchange_weak(
                tail,
                new_tail,
                Ordering::SeqCst,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    if offset + 1 == BLOCK_CAP {
                        // We claimed the last slot: install the next block and skip the gap
                        // (Release: see the Acquire loads at the top).
                        let next = Box::into_raw(next_block.take().expect("allocated above"));
                        self.tail.block.store(next, Ordering::Release);
                        self.tail.index.fetch_add(1 << SHIFT, Ordering::Release);
                        // SAFETY: `block` is alive: its last slot is ours and unread.
                        unsafe { (*block).next.store(next, Ordering::Release) };
                    }
                    token.ptr = block as *const u8;
                    token.stamp = offset;
                    return true;
                }
                Err(t) => {
                    tail = t;
                    block = self.tail.block.load(Ordering::Acquire);
                    spin.spin();
                }
            }
        }
    }

    /// Moves the message at `msg` into the slot `start_send` claimed; `Err` if closed.
    ///
    /// # Safety
    ///
    /// `token` comes from a `start_send` on this channel, and is used once; `msg` is a
    /// message in (see `channel.rs`).
    pub(crate) unsafe fn write(&self, token: &mut Token, msg: *const T) -> Result<(), ()> {
        if token.ptr.is_null() {
            return Err(());
        }
        let block = token.ptr as *const Block<T>;
        // SAFETY: the block lives until all its slots are read, and ours is not yet written.
        let slot = unsafe { (*block).slots.get_unchecked(token.stamp) };
        // SAFETY: the slot is ours until we set `WRITE`; `msg` is valid to read.
        slot.msg
            .with_mut(|p| unsafe { ptr::copy_nonoverlapping(msg, p.cast::<T>(), 1) });
        // Release pairs with the Acquire in `wait_write`.
        slot.state.fetch_or(WRITE, Ordering::Release);
        self.receivers.notify();
        Ok(())
    }

    /// Claims a slot to receive from. `true` with `token.ptr` null means closed and empty.
    fn start_recv(&self, token: &mut Token) -> bool {
        let mut spin = Spin::new();
        // Acquire pairs with the Release stores that move `head` to the next block.
        let mut head = self.head.index.load(Ordering::Acquire);
        let mut block = self.head.block.load(Ordering::Acquire);
        loop {
            let offset = (head >> SHIFT) % LAP;
            if offset == BLOCK_CAP {
                // Another receiver is moving `head` to the next block.
                spin.snooze();
                head = self.head.index.load(Ordering::Acquire);
                block = self.head.block.load(Ordering::Acquire);
                continue;
            }
            let mut new_head = head + (1 << SHIFT);
            if new_head & MARK_BIT == 0 {
                // Maybe the last block: compare with `tail`. The fence orders our read of
                // `head` before this read of `tail`, against the senders' SeqCst CAS.
                fence(Ordering::SeqCst);
                let tail = self.tail.index.load(Ordering::Relaxed);
                if head >> SHIFT == tail >> SHIFT {
                    if tail & MARK_BIT != 0 {
                        token.ptr = ptr::null();
                        return true;
                    }
                    return false;
                }
                if (head >> SHIFT) / LAP != (tail >> SHIFT) / LAP {
                    new_head |= MARK_BIT;
                }
            }
            if block.is_null() {
                // The first block is being installed.
                spin.snooze();
                head = self.head.index.load(Ordering::Acquire);
                block = self.head.block.load(Ordering::Acquire);
                continue;
            }
            // SeqCst, like every move of `head` and `tail`, so that `len` and `is_empty`
            // (SeqCst loads) see the two in one order.
            match self.head.index.compare_exchange_weak(
                head,
                new_head,
                Ordering::SeqCst,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    if offset + 1 == BLOCK_CAP {
                        // We claimed the block's last slot: move `head` to the next block.
                        // SAFETY: `block` is alive: its last slot is ours and unread.
                        let next = unsafe { (*block).wait_next() };
                        let mut next_index = (new_head & !MARK_BIT).wrapping_add(1 << SHIFT);
                        // SAFETY: `next` is installed and freed only after all its slots
                        // are read, which needs `head` to move past them first. (Relaxed:
                        // the mark is only a hint that spares a look at `tail`.)
                        if !unsafe { (*next).next.load(Ordering::Relaxed) }.is_null() {
                            next_index |= MARK_BIT;
                        }
                        self.head.block.store(next, Ordering::Release);
                        self.head.index.store(next_index, Ordering::Release);
                    }
                    token.ptr = block as *const u8;
                    token.stamp = offset;
                    return true;
                }
                Err(h) => {
                    head = h;
                    block = self.head.block.load(Ordering::Acquire);
                    spin.spin();
                }
            }
        }
    }

    /// Moves the message out of the slot `start_recv` claimed, into the caller's
    /// `Result`; `Err(closed)` if closed and empty.
    ///
    /// # Safety
    ///
    /// `token` comes from a successful `start_recv` on this channel, and is used once.
    pub(crate) unsafe fn read<R: Received<T>>(&self, token: &mut Token) -> R {
        if token.ptr.is_null() {
            return R::closed();
        }
        let block = token.ptr as *mut Block<T>;
        let offset = token.stamp;
        // SAFETY: the block lives until its slots are all read, and ours is not.
        let slot = unsafe { (*block).slots.get_unchecked(offset) };
        slot.wait_write();
        // Runs once the message is out (see `Defer`). It holds raw pointers only: a
        // reference held across `destroy` would outlive the block it points into.
        let state: *const AtomicUsize = &slot.state;
        let _release = defer(move || {
            if offset + 1 == BLOCK_CAP {
                // SAFETY: we read the last slot, so every slot is claimed.
                unsafe { Block::destroy(block, 0) };
            // SAFETY: the block lives until its every slot is read, ours included.
            } else if unsafe { (*state).fetch_or(READ, Ordering::AcqRel) } & DESTROY != 0 {
                // SAFETY: the destroyer left the rest to us.
                unsafe { Block::destroy(block, offset + 1) };
            }
        });
        // SAFETY: the slot is written (`WRITE`) and ours to read.
        R::msg(slot.msg.with(|p| unsafe { p.read().assume_init() }))
    }

    /// Sends; never blocks, fails only if closed.
    ///
    /// # Safety
    ///
    /// `msg` is a message in (see `channel.rs`).
    pub(crate) unsafe fn send(&self, msg: *const T) -> Result<(), ()> {
        let token = &mut Token::default();
        let claimed = self.start_send(token);
        debug_assert!(claimed);
        // SAFETY: `start_send` always succeeds for this flavor; the caller's contract.
        unsafe { self.write(token, msg) }
    }

    pub(crate) fn try_recv<R: Received<T>>(&self) -> R {
        let token = &mut Token::default();
        if self.start_recv(token) {
            // SAFETY: a successful `start_recv`.
            unsafe { self.read(token) }
        } else {
            R::not_ready()
        }
    }

    pub(crate) fn recv<R: Received<T>>(&self, deadline: Option<Instant>) -> R {
        let token = &mut Token::default();
        loop {
            let mut spin = Spin::new();
            loop {
                if self.start_recv(token) {
                    // SAFETY: a successful `start_recv`.
                    return unsafe { self.read(token) };
                }
                if spin.is_completed() {
                    break;
                }
                spin.snooze();
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return R::not_ready();
            }
            self.receivers.wait(
                &|| !self.is_empty() || self.is_disconnected(),
                deadline,
                WaitReason::Recv,
            );
        }
    }

    pub(crate) fn len(&self) -> usize {
        loop {
            // SeqCst, like every read of both positions: one order for head and tail.
            let mut tail = self.tail.index.load(Ordering::SeqCst);
            let mut head = self.head.index.load(Ordering::SeqCst);
            // Consistent only if `tail` did not move meanwhile.
            if self.tail.index.load(Ordering::SeqCst) == tail {
                tail &= !((1 << SHIFT) - 1);
                head &= !((1 << SHIFT) - 1);
                // A position on a block's gap counts as the next block's first slot.
                if (tail >> SHIFT) & (LAP - 1) == LAP - 1 {
                    tail = tail.wrapping_add(1 << SHIFT);
                }
                if (head >> SHIFT) & (LAP - 1) == LAP - 1 {
                    head = head.wrapping_add(1 << SHIFT);
                }
                // Rotate so that `head` falls into the first block, then discount the gaps.
                let lap = (head >> SHIFT) / LAP;
                tail = tail.wrapping_sub((lap * LAP) << SHIFT);
                head = head.wrapping_sub((lap * LAP) << SHIFT);
                tail >>= SHIFT;
                head >>= SHIFT;
                return tail - head - tail / LAP;
            }
        }
    }

    /// Closes the sending side; returns whether this call did it.
    pub(crate) fn disconnect_senders(&self) -> bool {
        // SeqCst: blocked receivers re-check `is_disconnected` in their Dekker step.
        let tail = self.tail.index.fetch_or(MARK_BIT, Ordering::SeqCst);
        if tail & MARK_BIT == 0 {
            self.receivers.disconnect();
            true
        } else {
            false
        }
    }

    /// Closes the channel for the last receiver: sends fail from now on, and the messages
    /// still buffered, which nobody can receive any more, are dropped now (not when the
    /// last sender goes too). Returns whether this call closed the channel.
    pub(crate) fn disconnect_receivers(&self) -> bool {
        // SeqCst: as in `disconnect_senders`.
        let tail = self.tail.index.fetch_or(MARK_BIT, Ordering::SeqCst);
        let closed_now = tail & MARK_BIT == 0;
        if closed_now {
            self.receivers.disconnect();
        }
        self.discard_all_messages();
        closed_now
    }

    /// Drops the messages from `head` to the final `tail`, and the blocks they fill but
    /// the last. Only the last receiver calls this, once the mark is set.
    ///
    /// 1. The mark makes every later claim's CAS of `tail` fail, except that a sender which
    ///    claimed a block's last slot before the close still moves `tail` over the gap:
    ///    wait until `tail` is off the gap; then it is final.
    /// 2. Nobody else moves `head` (the other receivers are gone), so walk it to `tail`,
    ///    waiting for each slot's `WRITE` (claimed before the close, perhaps by a `select`
    ///    send arm still evaluating its message) and for each block's successor.
    /// 3. `head.index` jumps to `tail` before the walk, and `head.block` follows the walk
    ///    before each block is freed, so `Drop` frees only the block the walk stopped in
    ///    and drops no message twice, even if a message's `drop` panics (the messages
    ///    after it then leak). `head.block` is stored only when the walk leaves a block:
    ///    while the channel has no block yet, a sender that lost the race with the mark
    ///    may still be installing the first one there, and `Drop` frees it.
    fn discard_all_messages(&self) {
        let mut spin = Spin::new();
        // Acquire pairs with the Release of the gap skip in `start_send`.
        let mut tail = self.tail.index.load(Ordering::Acquire);
        while (tail >> SHIFT) % LAP == BLOCK_CAP {
            spin.snooze();
            tail = self.tail.index.load(Ordering::Acquire);
        }
        // Relaxed: only receivers move `head`, and the others' moves are ordered before us
        // by the receiver count's AcqRel decrement.
        let mut head = self.head.index.load(Ordering::Relaxed);
        if head >> SHIFT == tail >> SHIFT {
            return;
        }
        // Acquire pairs with the Release store that publishes the first block: a sender
        // may have claimed a slot in it before the installer stored it in `head.block`.
        let first = loop {
            let block = self.head.block.load(Ordering::Acquire);
            if !block.is_null() {
                break block;
            }
            spin.snooze();
        };
        let mut block = first;
        // SeqCst, like every move of `head`: `len` and `is_empty` now say empty.
        self.head.index.store(tail & !MARK_BIT, Ordering::SeqCst);
        while head >> SHIFT != tail >> SHIFT {
            let offset = (head >> SHIFT) % LAP;
            if offset < BLOCK_CAP {
                // SAFETY: the block lives until its slots are read, and this one was
                // claimed by a sender but not by a receiver.
                let slot = unsafe { (*block).slots.get_unchecked(offset) };
                slot.wait_write();
                // SAFETY: written (`WRITE`) and unread; dropped once, here.
                slot.msg.with_mut(|p| unsafe { (*p).assume_init_drop() });
            } else {
                // SAFETY: every slot of `block` is behind us, and nobody else reads it.
                let next = unsafe { (*block).wait_next() };
                // Release pairs with the Acquire loads of `head.block`.
                self.head.block.store(next, Ordering::Release);
                // SAFETY: as above; nobody holds the block any more.
                drop(unsafe { Box::from_raw(block) });
                block = next;
            }
            head = head.wrapping_add(1 << SHIFT);
        }
    }

    pub(crate) fn is_disconnected(&self) -> bool {
        self.tail.index.load(Ordering::SeqCst) & MARK_BIT != 0
    }

    /// SeqCst loads: the waiter half of the Dekker pair (`SyncWaitList::register`).
    pub(crate) fn is_empty(&self) -> bool {
        let head = self.head.index.load(Ordering::SeqCst);
        let tail = self.tail.index.load(Ordering::SeqCst);
        head >> SHIFT == tail >> SHIFT
    }
}

impl<T> Drop for Channel<T> {
    fn drop(&mut self) {
        // The last handle is gone: no operation runs, every claimed slot was written, and
        // dropping the last `Arc` synchronized with all of them (hence Relaxed).
        let mut head = self.head.index.load(Ordering::Relaxed) & !((1 << SHIFT) - 1);
        let tail = self.tail.index.load(Ordering::Relaxed) & !((1 << SHIFT) - 1);
        let mut block = self.head.block.load(Ordering::Relaxed);
        while head != tail {
            let offset = (head >> SHIFT) % LAP;
            if offset < BLOCK_CAP {
                // SAFETY: slots between head and tail hold unreceived messages; each is
                // dropped once, here.
                unsafe {
                    (*block).slots[offset]
                        .msg
                        .with_mut(|p| (*p).assume_init_drop());
                }
            } else {
                // SAFETY: a fully passed block; its successor is installed.
                let next = unsafe { (*block).next.load(Ordering::Relaxed) };
                // SAFETY: we own every block left.
                drop(unsafe { Box::from_raw(block) });
                block = next;
            }
            head = head.wrapping_add(1 << SHIFT);
        }
        if !block.is_null() {
            // SAFETY: the last block, owned by us.
            drop(unsafe { Box::from_raw(block) });
        }
    }
}

/// The receiving side of an unbounded channel, as `select` sees it.
pub(crate) struct RecvHandle<'a, T>(pub(crate) &'a Channel<T>);

/// The sending side of an unbounded channel, as `select` sees it: always ready.
pub(crate) struct SendHandle<'a, T>(pub(crate) &'a Channel<T>);

impl<T> SelectHandle for RecvHandle<'_, T> {
    fn try_select(&self, token: &mut Token) -> bool {
        self.0.start_recv(token)
    }

    fn deadline(&self) -> Option<Instant> {
        None
    }

    fn version(&self) -> u64 {
        // Only a send (moving `tail`) or a close (marking it) makes a receive ready.
        self.0.tail.index.load(Ordering::SeqCst) as u64
    }

    unsafe fn register(&self, entry: &Entry) -> bool {
        // SAFETY: the caller's contract.
        unsafe { self.0.receivers.register(entry, || self.is_ready()) }
    }

    fn unregister(&self, entry: &Entry) {
        self.0.receivers.unregister(entry);
    }

    fn accept(&self, token: &mut Token, _entry: &Entry) -> bool {
        self.try_select(token)
    }

    fn is_ready(&self) -> bool {
        !self.0.is_empty() || self.0.is_disconnected()
    }

    unsafe fn watch(&self, entry: &Entry) -> bool {
        // SAFETY: the caller's contract.
        unsafe { self.0.receivers.watch(entry, || self.is_ready()) }
    }

    fn unwatch(&self, entry: &Entry) {
        self.0.receivers.unwatch(entry);
    }
}

impl<T> SelectHandle for SendHandle<'_, T> {
    fn try_select(&self, token: &mut Token) -> bool {
        self.0.start_send(token)
    }

    fn deadline(&self) -> Option<Instant> {
        None
    }

    fn version(&self) -> u64 {
        // Always ready.
        0
    }

    unsafe fn register(&self, _entry: &Entry) -> bool {
        true
    }

    fn unregister(&self, _entry: &Entry) {}

    fn accept(&self, token: &mut Token, _entry: &Entry) -> bool {
        self.try_select(token)
    }

    fn is_ready(&self) -> bool {
        true
    }

    unsafe fn watch(&self, _entry: &Entry) -> bool {
        true
    }

    fn unwatch(&self, _entry: &Entry) {}
}
