//! Bounded channel, `bounded(n)` with n > 0: a ring buffer of stamped slots.
//!
//! This is Dmitry Vyukov's bounded MPMC queue, the design crossbeam-channel's array flavor
//! uses. `head` and `tail` are words `lap | mark | index`: `index` the slot, `mark` (only
//! in `tail`) the closed flag, `lap` how often the index wrapped. Each slot has a stamp
//! that says whose turn it is:
//!
//! - `stamp == tail`: empty and ready for the sender that moves `tail` past it;
//! - `stamp == head + 1`: full and ready for the receiver that moves `head` past it;
//!   the receiver then sets `stamp = head + one_lap`, the next lap's "empty".
//!
//! A sender claims a slot by a CAS on `tail`, writes, and publishes with a Release store of
//! the stamp; a receiver claims by a CAS on `head`, reads, and frees the slot the same way.
//! Neither path locks or calls into the park seam. Only when the buffer is full (empty)
//! does a sender (receiver) link a stack entry into `senders` (`receivers`) and park;
//! whoever frees a slot (fills one) wakes one of them with [`SyncWaitList::notify`].
//!
//! # Keeping a distance
//!
//! A slot's line moves between the cores twice per lap (to the receiver that reads it,
//! back to the sender that refills it), carrying several messages at once — as long as
//! the two sides work on different lines. When the senders are faster, the buffer fills
//! and a sender waits for the very slot a receiver is reading: each message then costs a
//! round trip of that line, plus one of `head`, which the waiting sender polls while the
//! receiver moves it. On a 2-vCPU AMD EPYC, 4 senders and 4 receivers of `bounded(1024)`
//! took 10–12 ns per message while the buffer stayed partly full and 30–45 ns once it
//! ran in step with the receivers (a sender found its slot still being read 0.2–0.3
//! times per message); which of the two a run settled into depended on the relative
//! speed of the two loops, down to the code layout of the binary. The same holds, mirrored,
//! when the receivers are faster.
//!
//! So a blocking `send` that finds the buffer full, or its slot still being read, does
//! not retry slot by slot: it waits, within its usual spin-then-yield budget, until the
//! slot [`AHEAD`] positions on is free too (`wait_for_room`), polling that slot's stamp
//! — a line the receivers are not touching yet. A blocking `recv` that finds its slot
//! claimed but not yet written waits the same way for the slot `AHEAD` positions on to
//! be written (`wait_for_batch`). Either wait ends as soon as the other side stops
//! moving (`head`, resp. `tail`, unchanged between two looks), so a lone message is not
//! held back, and it changes nothing a waiter relies on: it only delays a retry, claims
//! still go through the stamp and the CAS, and blocking still happens only when the
//! buffer is full (empty) by `is_full` (`is_empty`). `try_send`, `try_recv` and
//! `select` claim as before: a slot being read or written is waited for, not reported.
//!
//! Rejected: waiting for `AHEAD` free slots in the blocking condition itself (a send
//! would then block on a buffer that is not full, and a program whose receiver takes
//! one message and waits for the next send would deadlock); reporting a slot being
//! read as "full" to `try_send` (the receive has happened — its CAS on `head` is the
//! moment it took effect — so the buffer is not full); spinning without yielding while
//! the other side keeps moving, and yielding at once after a failed CAS (both slower in
//! alternation on the machine above; `docs/BENCHMARKS.md`, "mpmc's two modes").

use std::mem::MaybeUninit;
use std::ptr;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crossbeam_utils::CachePadded;

use crate::backoff::Spin;
use crate::err::{Received, SendTimeoutError, TrySendError};
use crate::flavors::defer;
use crate::loom::{AtomicUsize, UnsafeCell, fence};
use crate::park::WaitReason;
use crate::token::{SelectHandle, Token};
use crate::waiter::Entry;
use crate::waitlist::SyncWaitList;

/// How far ahead of its position a blocked-to-be operation waits for the other side
/// (see "Keeping a distance"), at most half the capacity: 16 lines of `usize` slots.
const AHEAD: usize = 64;

/// What one attempt to claim a slot found.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Claim {
    /// A slot is ours, or the channel is closed (`token.ptr` null).
    Got,
    /// The buffer is full (sending) or empty (receiving).
    Not,
    /// The slot is being read (sending) or written (receiving) by the other side right
    /// now; reported only to a caller that does not wait such a slot out (`!wait_busy`).
    Busy,
}

struct Slot<T> {
    /// Whose turn it is (module docs). Written with Release by the one who finishes with
    /// the slot, read with Acquire by the one who claims it next.
    stamp: AtomicUsize,
    /// Touched only by the sender or receiver that claimed the slot.
    msg: UnsafeCell<MaybeUninit<T>>,
}

/// A bounded channel.
pub(crate) struct Channel<T> {
    /// Next slot to receive from. Moved by receivers (CAS), read by senders.
    head: CachePadded<AtomicUsize>,
    /// Next slot to send into, plus the closed mark. Moved by senders (CAS), marked by close.
    tail: CachePadded<AtomicUsize>,
    buffer: Box<[Slot<T>]>,
    cap: usize,
    /// The mark bit; indices are below it.
    mark_bit: usize,
    /// One lap: the value that, added to a position, means "same slot, next turn".
    one_lap: usize,
    /// Senders blocked because the buffer is full.
    senders: SyncWaitList,
    /// Receivers blocked because the buffer is empty.
    receivers: SyncWaitList,
}

// SAFETY: a message moves from one thread to another through a slot, hence `T: Send`;
// every slot is claimed by exactly one thread at a time (the stamp protocol), and the rest
// is atomics and locks.
unsafe impl<T: Send> Send for Channel<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Channel<T> {}

/// The panic of a `bounded(cap)` whose buffer cannot be allocated.
#[cold]
#[inline(never)]
fn too_large(cap: usize, slot: usize, e: std::collections::TryReserveError) -> ! {
    panic!(
        "gogreen::chan::bounded({cap}): cannot allocate the buffer ({cap} slots of {slot} bytes, \
         allocated up front): {e}; use a smaller capacity, or an unbounded channel, whose \
         memory grows with the messages actually queued"
    )
}

impl<T> Channel<T> {
    /// A channel of capacity `cap` (> 0).
    ///
    /// Panics with the reason if the buffer cannot be allocated. The buffer is allocated
    /// up front (every slot carries its stamp), so a capacity too large for memory must
    /// fail here with a message, not abort the process the way an infallible
    /// allocation does.
    pub(crate) fn with_capacity(cap: usize) -> Self {
        assert!(cap > 0, "capacity must be positive");
        let mut buffer: Vec<Slot<T>> = Vec::new();
        if let Err(e) = buffer.try_reserve_exact(cap) {
            too_large(cap, size_of::<Slot<T>>(), e);
        }
        // A slot is at least a word, so an allocated `cap` is below `usize::MAX / 8`:
        // neither the mark bit nor a lap overflows.
        let mark_bit = (cap + 1).next_power_of_two();
        let one_lap = mark_bit * 2;
        buffer.extend((0..cap).map(|i| Slot {
            stamp: AtomicUsize::new(i),
            msg: UnsafeCell::new(MaybeUninit::uninit()),
        }));
        let buffer = buffer.into_boxed_slice();
        Channel {
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            buffer,
            cap,
            mark_bit,
            one_lap,
            senders: SyncWaitList::new(),
            receivers: SyncWaitList::new(),
        }
    }

    /// Claims a slot to send into. `true` with `token.ptr` null means: closed.
    fn start_send(&self, token: &mut Token) -> bool {
        self.claim_send(token, true) == Claim::Got
    }

    /// [`start_send`](Channel::start_send), which waits out a slot being read if
    /// `wait_busy`, and returns [`Claim::Busy`] otherwise.
    fn claim_send(&self, token: &mut Token, wait_busy: bool) -> Claim {
        let mut spin = Spin::new();
        // Relaxed: a guess that the slot's stamp (Acquire) and the CAS validate.
        let mut tail = self.tail.load(Ordering::Relaxed);
        loop {
            if tail & self.mark_bit != 0 {
                token.ptr = ptr::null();
                return Claim::Got;
            }
            let index = tail & (self.mark_bit - 1);
            let lap = tail & !(self.one_lap - 1);
            debug_assert!(index < self.cap);
            // SAFETY: `index < cap` by construction of the positions.
            let slot = unsafe { self.buffer.get_unchecked(index) };
            // Acquire pairs with the Release in `read`: the slot's last message is gone.
            let stamp = slot.stamp.load(Ordering::Acquire);
            if tail == stamp {
                let new_tail = if index + 1 < self.cap {
                    tail + 1
                } else {
                    lap.wrapping_add(self.one_lap)
                };
                // SeqCst: the waker half of the Dekker pair (see `SyncWaitList::register`).
                match self.tail.compare_exchange_weak(
                    tail,
                    new_tail,
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        token.ptr = slot as *const Slot<T> as *const u8;
                        token.stamp = tail + 1;
                        return Claim::Got;
                    }
                    Err(t) => {
                        tail = t;
                        spin.spin();
                    }
                }
            } else if stamp.wrapping_add(self.one_lap) == tail + 1 {
                // The slot still holds last lap's message: full, unless a receiver has just
                // moved `head` and is still reading. The fence orders the stamp read before
                // this read of `head`, against the receivers' SeqCst CAS of `head`.
                fence(Ordering::SeqCst);
                let head = self.head.load(Ordering::Relaxed);
                if head.wrapping_add(self.one_lap) == tail {
                    return Claim::Not;
                }
                if !wait_busy {
                    return Claim::Busy;
                }
                spin.spin();
                tail = self.tail.load(Ordering::Relaxed);
            } else {
                // Another sender claimed the slot and has not written it yet.
                spin.snooze();
                tail = self.tail.load(Ordering::Relaxed);
            }
        }
    }

    /// Moves the message at `msg` into the slot `start_send` claimed; `Err` if closed.
    ///
    /// # Safety
    ///
    /// `token` comes from a successful `start_send` on this channel, and is used once;
    /// `msg` is a message in (see `channel.rs`).
    pub(crate) unsafe fn write(&self, token: &mut Token, msg: *const T) -> Result<(), ()> {
        if token.ptr.is_null() {
            return Err(());
        }
        // SAFETY: `start_send` pointed the token at a slot of `buffer` that we own now.
        let slot = unsafe { &*(token.ptr as *const Slot<T>) };
        // SAFETY: the slot is ours until the stamp store below; `msg` is valid to read.
        slot.msg
            .with_mut(|p| unsafe { ptr::copy_nonoverlapping(msg, p.cast::<T>(), 1) });
        // Release pairs with the Acquire in `start_recv`.
        slot.stamp.store(token.stamp, Ordering::Release);
        self.receivers.notify();
        Ok(())
    }

    /// Claims a slot to receive from. `true` with `token.ptr` null means: closed and empty.
    fn start_recv(&self, token: &mut Token) -> bool {
        self.claim_recv(token, true) == Claim::Got
    }

    /// [`start_recv`](Channel::start_recv), which waits out a slot being written if
    /// `wait_busy`, and returns [`Claim::Busy`] otherwise.
    fn claim_recv(&self, token: &mut Token, wait_busy: bool) -> Claim {
        let mut spin = Spin::new();
        // Relaxed: a guess that the slot's stamp (Acquire) and the CAS validate.
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            let index = head & (self.mark_bit - 1);
            let lap = head & !(self.one_lap - 1);
            debug_assert!(index < self.cap);
            // SAFETY: `index < cap` by construction of the positions.
            let slot = unsafe { self.buffer.get_unchecked(index) };
            // Acquire pairs with the Release in `write`: the message is there.
            let stamp = slot.stamp.load(Ordering::Acquire);
            if head + 1 == stamp {
                let new = if index + 1 < self.cap {
                    head + 1
                } else {
                    lap.wrapping_add(self.one_lap)
                };
                // SeqCst: the waker half of the Dekker pair (see `SyncWaitList::register`).
                match self.head.compare_exchange_weak(
                    head,
                    new,
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        token.ptr = slot as *const Slot<T> as *const u8;
                        token.stamp = head.wrapping_add(self.one_lap);
                        return Claim::Got;
                    }
                    Err(h) => {
                        head = h;
                        spin.spin();
                    }
                }
            } else if stamp == head {
                // The slot waits for this lap's message: empty, unless a sender has just
                // moved `tail` and is still writing. The fence orders the stamp read before
                // this read of `tail`, against the senders' SeqCst CAS of `tail`.
                fence(Ordering::SeqCst);
                let tail = self.tail.load(Ordering::Relaxed);
                if tail & !self.mark_bit == head {
                    if tail & self.mark_bit != 0 {
                        token.ptr = ptr::null();
                        return Claim::Got;
                    }
                    return Claim::Not;
                }
                if !wait_busy {
                    return Claim::Busy;
                }
                spin.spin();
                head = self.head.load(Ordering::Relaxed);
            } else {
                // Another receiver claimed the slot and has not read it yet.
                spin.snooze();
                head = self.head.load(Ordering::Relaxed);
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
        // SAFETY: `start_recv` pointed the token at a slot of `buffer` that we own now.
        let slot = unsafe { &*(token.ptr as *const Slot<T>) };
        let stamp = token.stamp;
        // Runs once the message is out (see `Defer`).
        let _release = defer(|| {
            // Release pairs with the Acquire in `start_send`.
            slot.stamp.store(stamp, Ordering::Release);
            self.senders.notify();
        });
        // SAFETY: the slot is ours and holds a message (its stamp said so).
        R::msg(slot.msg.with(|p| unsafe { p.read().assume_init() }))
    }

    /// # Safety
    ///
    /// `msg` is a message in (see `channel.rs`).
    pub(crate) unsafe fn try_send(&self, msg: *const T) -> Result<(), TrySendError<()>> {
        let token = &mut Token::default();
        if self.start_send(token) {
            // SAFETY: a successful `start_send`; the caller's contract.
            unsafe { self.write(token, msg) }.map_err(TrySendError::Disconnected)
        } else {
            Err(TrySendError::Full(()))
        }
    }

    /// # Safety
    ///
    /// `msg` is a message in (see `channel.rs`).
    pub(crate) unsafe fn send(
        &self,
        msg: *const T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<()>> {
        let token = &mut Token::default();
        loop {
            let mut spin = Spin::new();
            loop {
                // Patient while the budget lasts; the last try before blocking waits
                // out a slot being read, so that only a full buffer blocks.
                if self.claim_send(token, spin.is_completed()) == Claim::Got {
                    // SAFETY: a successful claim; the caller's contract.
                    return unsafe { self.write(token, msg) }
                        .map_err(SendTimeoutError::Disconnected);
                }
                if spin.is_completed() {
                    break;
                }
                spin.snooze();
                self.wait_for_room(&mut spin);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(SendTimeoutError::Timeout(()));
            }
            self.senders.wait(
                &|| !self.is_full() || self.is_disconnected(),
                deadline,
                WaitReason::Send,
            );
        }
    }

    /// The position `k` slots after `pos` (`k < cap`).
    fn advance(&self, pos: usize, k: usize) -> usize {
        let index = pos & (self.mark_bit - 1);
        if index + k < self.cap {
            pos + k
        } else {
            let lap = pos & !(self.one_lap - 1);
            lap.wrapping_add(self.one_lap) + (index + k - self.cap)
        }
    }

    /// How far ahead the waits look: [`AHEAD`], at most half the buffer; 0 for a buffer
    /// of one, where there is nothing to wait for.
    fn ahead(&self) -> usize {
        AHEAD.min(self.cap / 2)
    }

    /// Before a sender retries a full buffer: waits, while `spin`'s budget lasts, until
    /// the slot `ahead()` positions after `tail` is free as well, or the receivers stop
    /// moving `head` (see "Keeping a distance"). Only delays the retry.
    fn wait_for_room(&self, spin: &mut Spin) {
        let k = self.ahead();
        if k == 0 {
            return;
        }
        // Relaxed throughout: hints; the claim validates with the stamp and the CAS.
        let mut head = self.head.load(Ordering::Relaxed);
        while !spin.is_completed() {
            let tail = self.tail.load(Ordering::Relaxed);
            if tail & self.mark_bit != 0 {
                return;
            }
            let pos = self.advance(tail, k);
            // SAFETY: a position's index is below `cap`.
            let slot = unsafe { self.buffer.get_unchecked(pos & (self.mark_bit - 1)) };
            // Still last lap's message (the test in `claim_send`): wait; anything else
            // (free, or already refilled by a faster sender) means there is room.
            if slot
                .stamp
                .load(Ordering::Relaxed)
                .wrapping_add(self.one_lap)
                != pos + 1
            {
                return;
            }
            spin.snooze();
            let now = self.head.load(Ordering::Relaxed);
            if now == head {
                return;
            }
            head = now;
        }
    }

    /// Before a receiver retries a slot that a sender is still writing: waits, while
    /// `spin`'s budget lasts, until the slot `ahead()` positions after `head` is written
    /// as well, or the senders stop moving `tail`. Only delays the retry.
    fn wait_for_batch(&self, spin: &mut Spin) {
        let k = self.ahead();
        if k == 0 {
            return;
        }
        // Relaxed throughout: hints, as in `wait_for_room`.
        let mut tail = self.tail.load(Ordering::Relaxed);
        while !spin.is_completed() {
            let head = self.head.load(Ordering::Relaxed);
            let pos = self.advance(head, k);
            // SAFETY: a position's index is below `cap`.
            let slot = unsafe { self.buffer.get_unchecked(pos & (self.mark_bit - 1)) };
            // Still waiting for this lap's message: wait; anything else means written.
            if slot.stamp.load(Ordering::Relaxed) != pos {
                return;
            }
            spin.snooze();
            let now = self.tail.load(Ordering::Relaxed);
            if now == tail || now & self.mark_bit != 0 {
                return;
            }
            tail = now;
        }
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
                // Patient as in `send`.
                let claim = self.claim_recv(token, spin.is_completed());
                if claim == Claim::Got {
                    // SAFETY: a successful claim.
                    return unsafe { self.read(token) };
                }
                if spin.is_completed() {
                    break;
                }
                spin.snooze();
                if claim == Claim::Busy {
                    self.wait_for_batch(&mut spin);
                }
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
            let tail = self.tail.load(Ordering::SeqCst);
            let head = self.head.load(Ordering::SeqCst);
            // Consistent only if `tail` did not move meanwhile.
            if self.tail.load(Ordering::SeqCst) == tail {
                let hix = head & (self.mark_bit - 1);
                let tix = tail & (self.mark_bit - 1);
                return if hix < tix {
                    tix - hix
                } else if hix > tix {
                    self.cap - hix + tix
                } else if tail & !self.mark_bit == head {
                    0
                } else {
                    self.cap
                };
            }
        }
    }

    pub(crate) fn capacity(&self) -> Option<usize> {
        Some(self.cap)
    }

    /// Closes the channel; returns whether this call did it. Wakes everyone blocked.
    pub(crate) fn disconnect(&self) -> bool {
        // SeqCst: blocked operations re-check `is_disconnected` in their Dekker step.
        let tail = self.tail.fetch_or(self.mark_bit, Ordering::SeqCst);
        if tail & self.mark_bit == 0 {
            self.senders.disconnect();
            self.receivers.disconnect();
            true
        } else {
            false
        }
    }

    /// Closes the channel for the last receiver and drops every buffered message, which
    /// nobody can receive any more; returns whether this call closed the channel.
    pub(crate) fn disconnect_receivers(&self) -> bool {
        // SeqCst: as in `disconnect`.
        let tail = self.tail.fetch_or(self.mark_bit, Ordering::SeqCst);
        let closed_now = tail & self.mark_bit == 0;
        if closed_now {
            self.senders.disconnect();
            self.receivers.disconnect();
        }
        self.discard_all_messages(tail & !self.mark_bit);
        closed_now
    }

    /// Drops the messages from `head` up to `tail`, the final tail (the mark is set, so no
    /// sender can claim a slot any more).
    ///
    /// Only the last receiver calls this, so nobody else moves `head`. A slot claimed
    /// before the close may still be being written (a `select` send arm evaluates its
    /// message after claiming): we wait for its stamp, as a receiver would.
    ///
    /// `head` jumps to `tail` first: if a message's `drop` panics, the messages after it
    /// leak, and `Drop` does not drop any of them a second time.
    fn discard_all_messages(&self, tail: usize) {
        let mut spin = Spin::new();
        // Relaxed: receivers move `head`, and every other one has been dropped (the
        // receiver count's AcqRel decrement ordered their moves before us).
        let mut head = self.head.load(Ordering::Relaxed);
        // SeqCst, like every move of `head`: `len` and `is_empty` now say empty.
        self.head.store(tail, Ordering::SeqCst);
        while head != tail {
            let index = head & (self.mark_bit - 1);
            let lap = head & !(self.one_lap - 1);
            // SAFETY: `index < cap` by construction of the positions.
            let slot = unsafe { self.buffer.get_unchecked(index) };
            // Acquire pairs with the Release in `write`: the message is there.
            if slot.stamp.load(Ordering::Acquire) != head + 1 {
                spin.snooze();
                continue;
            }
            // SAFETY: the slot holds a message (its stamp said so) that nobody else
            // can claim (`head` is past it, and senders see the mark); dropped once, here.
            slot.msg.with_mut(|p| unsafe { (*p).assume_init_drop() });
            head = if index + 1 < self.cap {
                head + 1
            } else {
                lap.wrapping_add(self.one_lap)
            };
        }
    }

    pub(crate) fn is_disconnected(&self) -> bool {
        self.tail.load(Ordering::SeqCst) & self.mark_bit != 0
    }

    /// SeqCst loads: the waiter half of the Dekker pair (`SyncWaitList::register`).
    pub(crate) fn is_empty(&self) -> bool {
        let head = self.head.load(Ordering::SeqCst);
        let tail = self.tail.load(Ordering::SeqCst);
        // Comparing positions, not indices: a full buffer has equal indices too.
        tail & !self.mark_bit == head
    }

    /// SeqCst loads: as for `is_empty`.
    pub(crate) fn is_full(&self) -> bool {
        let tail = self.tail.load(Ordering::SeqCst);
        let head = self.head.load(Ordering::SeqCst);
        head.wrapping_add(self.one_lap) == tail & !self.mark_bit
    }
}

impl<T> Drop for Channel<T> {
    fn drop(&mut self) {
        // The last handle is gone: no operation runs, every claimed slot was completed,
        // and dropping the last `Arc` synchronized with all of them (hence Relaxed).
        let head = self.head.load(Ordering::Relaxed);
        let tail = self.tail.load(Ordering::Relaxed) & !self.mark_bit;
        let hix = head & (self.mark_bit - 1);
        let tix = tail & (self.mark_bit - 1);
        let len = if hix < tix {
            tix - hix
        } else if hix > tix {
            self.cap - hix + tix
        } else if tail == head {
            0
        } else {
            self.cap
        };
        for i in 0..len {
            let index = (hix + i) % self.cap;
            // SAFETY: the `len` slots from `head` hold messages nobody received; each is
            // dropped once, here.
            self.buffer[index]
                .msg
                .with_mut(|p| unsafe { (*p).assume_init_drop() });
        }
    }
}

/// The receiving side of a bounded channel, as `select` sees it.
pub(crate) struct RecvHandle<'a, T>(pub(crate) &'a Channel<T>);

/// The sending side of a bounded channel, as `select` sees it.
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
        self.0.tail.load(Ordering::SeqCst) as u64
    }

    unsafe fn register(&self, entry: &Entry) -> bool {
        // SAFETY: the caller's contract.
        unsafe { self.0.receivers.register(entry, || self.is_ready()) }
    }

    fn unregister(&self, entry: &Entry) {
        self.0.receivers.unregister(entry);
    }

    fn accept(&self, token: &mut Token, _entry: &Entry) -> bool {
        // The waker only said "something arrived"; claim it like anyone else.
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
        // Only a receive (moving `head`) or a close (marking `tail`) makes a send ready;
        // `head` never has the mark bit.
        let head = self.0.head.load(Ordering::SeqCst);
        let mark = self.0.tail.load(Ordering::SeqCst) & self.0.mark_bit;
        (head | mark) as u64
    }

    unsafe fn register(&self, entry: &Entry) -> bool {
        // SAFETY: the caller's contract.
        unsafe { self.0.senders.register(entry, || self.is_ready()) }
    }

    fn unregister(&self, entry: &Entry) {
        self.0.senders.unregister(entry);
    }

    fn accept(&self, token: &mut Token, _entry: &Entry) -> bool {
        self.try_select(token)
    }

    fn is_ready(&self) -> bool {
        !self.0.is_full() || self.0.is_disconnected()
    }

    unsafe fn watch(&self, entry: &Entry) -> bool {
        // SAFETY: the caller's contract.
        unsafe { self.0.senders.watch(entry, || self.is_ready()) }
    }

    fn unwatch(&self, entry: &Entry) {
        self.0.senders.unwatch(entry);
    }
}
