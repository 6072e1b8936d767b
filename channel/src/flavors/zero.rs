//! Rendezvous channel, `bounded(0)`: a send completes only when a receiver takes the value.
//!
//! There is no buffer: a message goes straight from the sender's *packet* to the
//! receiver's. Whoever comes second finds the first one blocked in the channel's wait list
//! (one lock protects both lists and the closed flag) and completes the hand-off with it.
//!
//! # How a send meets a receive
//!
//! A blocked operation owns a packet — a `ready` flag and a pointer to the message — on
//! its stack. A blocked `send` points it at the message it was given (the caller's own
//! memory), a blocked `recv` at its landing place (a local, or a heap box for a message
//! over [`LAND_ON_HEAP`] bytes), so the message is copied from the sender's memory
//! straight to the receiver's, and no frame holds a large message twice (see "Stack" in
//! `docs/channels.md`). A `select`
//! arm's packet holds the message itself, in the arm's entry (a small message) or on the
//! heap, because the arm's message does not exist yet (a send) or its frame dies before the
//! message is read (a receive). The packet address travels in the wait-list entry.
//!
//! A sender that finds a waiting receiver R:
//! 1. under the lock, selects R (clones R's unparker, unlinks R's entry, CAS on R's state
//!    — a Release store if R is a plain operation without a deadline, a *sole* waiter that
//!    only lock holders select, see `waiter.rs`);
//! 2. after unlocking, moves the message to where R's packet points, sets `ready`
//!    (Release), and wakes R through the clone;
//! 3. R sees its state, waits for `ready` (Acquire) and takes the message.
//!
//! A receiver that finds a waiting sender S selects S the same way, then:
//! - if S's packet holds the message (a plain `send`), takes it, sets `ready`, wakes S;
//!   S waits for `ready` before it returns, because the packet is in its frame;
//! - if S's packet is empty (a `select` send arm, whose message exists only once the arm
//!   has won), wakes S and waits for `ready`; S writes the message in
//!   `SelectedOperation::send`, and the receiver takes it and frees the packet.
//!
//! The waker unparks only after it is done with the packet, so a woken owner rarely has to
//! wait for `ready`; `ready` covers the case where the owner saw its state while spinning.
//!
//! A plain operation that blocks registers under the lock and, as a sole waiter in a
//! green thread, parks still holding it: its scheduler releases the lock once the park
//! is committed (`Channel::unlock_to_wait`), so the waker, which needs the lock to find
//! it, always finds it parked.

use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ptr;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::backoff::Spin;
use crate::err::{Received, SendTimeoutError, TrySendError};
use crate::flavors::defer;
use crate::loom::{AtomicBool, Mutex, MutexGuard};
use crate::park::{self, Unparker, WaitReason};
use crate::token::{SelectHandle, Token};
use crate::waiter::{ENTRY_SLOT_WORDS, Entry, Selected, Waiter};
use crate::waitlist::{CLOSE_BATCH, WaitList, Wakeup};

/// A blocking receive of a message larger than this lands it in a heap box, not on the
/// stack (see `Channel::recv_blocking`).
const LAND_ON_HEAP: usize = 256;

/// Where one message changes hands: what a peer that selected the packet's owner reads.
#[repr(C)]
struct Packet<T> {
    /// Made by `select` registration on the heap: freed by whoever takes the message (or
    /// by the registering `select` if nobody selected it).
    on_heap: bool,
    /// Set (Release) by the side that finishes with the packet second-to-last; the owner
    /// (or the receiver of a `select` send arm) waits for it (Acquire).
    ready: AtomicBool,
    /// Where the message is (a blocked sender) or goes (a blocked receiver). Set before
    /// the packet is published, never changed while it is.
    msg: *mut T,
}

/// A `select` arm's packet, with room for the message after the header (a peer finds the
/// room through `packet.msg`, which the constructors point at it).
#[repr(C)]
struct ArmPacket<T> {
    packet: Packet<T>,
    /// Written by the arm's sender (its own, for a send arm, in `SelectedOperation::send`),
    /// read by the receiver, per the hand-off protocol.
    msg: UnsafeCell<MaybeUninit<T>>,
}

impl<T> Packet<T> {
    /// A plain operation's packet, pointing at the caller's message or destination.
    fn plain(msg: *mut T) -> Packet<T> {
        Packet {
            on_heap: false,
            ready: AtomicBool::new(false),
            msg,
        }
    }

    /// Waits until the other side is done with the packet.
    fn wait_ready(&self) {
        let mut spin = Spin::new();
        // Acquire pairs with the Release stores of `ready` in `give` and `take_from`.
        while !self.ready.load(Ordering::Acquire) {
            spin.snooze();
        }
    }
}

impl<T> ArmPacket<T> {
    /// An empty arm packet in `entry`'s slot, if it fits there (not under loom, which
    /// tracks heap packets better).
    fn in_slot(entry: &Entry) -> Option<*mut ArmPacket<T>> {
        let fits = std::mem::size_of::<ArmPacket<T>>()
            <= std::mem::size_of::<[usize; ENTRY_SLOT_WORDS]>()
            && std::mem::align_of::<ArmPacket<T>>() <= std::mem::align_of::<usize>();
        if !fits || cfg!(loom) {
            return None;
        }
        let p = entry.slot.get().cast::<ArmPacket<T>>();
        // SAFETY: the slot is large and aligned enough (checked above), owned by the
        // caller (the entry's owner, registering it), and holds nothing.
        unsafe { ArmPacket::init(p, false) };
        Some(p)
    }

    fn on_heap() -> *mut ArmPacket<T> {
        let p = Box::into_raw(Box::<ArmPacket<T>>::new_uninit()).cast::<ArmPacket<T>>();
        // SAFETY: a fresh allocation for an `ArmPacket<T>`.
        unsafe { ArmPacket::init(p, true) };
        p
    }

    /// Writes an empty packet at `p`, its `msg` pointing at its own room.
    ///
    /// # Safety
    ///
    /// `p` is valid for writes of an `ArmPacket<T>` and holds nothing to drop.
    unsafe fn init(p: *mut ArmPacket<T>, on_heap: bool) {
        // SAFETY: the caller's contract; the room's address is computed, not read.
        unsafe {
            let room = UnsafeCell::raw_get(&raw const (*p).msg).cast::<T>();
            (&raw mut (*p).packet).write(Packet {
                on_heap,
                ready: AtomicBool::new(false),
                msg: room,
            });
        }
    }
}

struct Inner {
    /// Blocked senders and `select` send arms.
    senders: WaitList,
    /// Blocked receivers and `select` receive arms.
    receivers: WaitList,
    is_disconnected: bool,
    /// Counts registrations on either list and the close: whatever may make an operation
    /// ready (`SelectHandle::version`).
    version: u64,
}

/// A rendezvous channel.
pub(crate) struct Channel<T> {
    inner: Mutex<Inner>,
    _marker: PhantomData<T>,
}

// SAFETY: messages move between threads through packets, hence `T: Send`; packets are
// reached only through the locked wait lists and the hand-off protocol.
unsafe impl<T: Send> Send for Channel<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Channel<T> {}

impl<T> Channel<T> {
    pub(crate) fn new() -> Self {
        Channel {
            inner: Mutex::new(Inner {
                senders: WaitList::new(),
                receivers: WaitList::new(),
                is_disconnected: false,
                version: 0,
            }),
            _marker: PhantomData,
        }
    }

    /// Selects a waiting receiver. `true` with `token.ptr` null means closed.
    fn start_send(&self, token: &mut Token) -> bool {
        let mut inner = self.inner.lock();
        if let Some(wakeup) = inner.receivers.try_select() {
            drop(inner);
            token.set_wakeup(wakeup);
            true
        } else if inner.is_disconnected {
            token.ptr = ptr::null();
            true
        } else {
            false
        }
    }

    /// Completes a send that `start_send`, or a `select` send arm's acceptance, set up:
    /// moves the message at `msg` to the receiver; `Err` if closed.
    ///
    /// # Safety
    ///
    /// `token` comes from `start_send` or `SendHandle::accept` on this channel, used once;
    /// `msg` is a message in (see `channel.rs`).
    pub(crate) unsafe fn write(&self, token: &mut Token, msg: *const T) -> Result<(), ()> {
        if token.ptr.is_null() {
            return Err(());
        }
        // SAFETY: the token points at a selected receiver's packet, or at our own heap
        // packet that a receiver selected and now waits on (then there is nobody to wake:
        // the receiver woke us); the caller's contract for `msg`.
        unsafe { Self::give(token.ptr as *const Packet<T>, token.unparker.take(), msg) };
        Ok(())
    }

    /// Gives the message at `msg` to a receiver: moves it to where the receiver's packet
    /// points, releases the packet with `ready`, and wakes the receiver, if `unparker` is
    /// given.
    ///
    /// # Safety
    ///
    /// `raw` is the packet of a receiver this thread selected (alive until `ready`: on its
    /// stack, or in its entry, or on the heap until its owner frees it), or this thread's
    /// own send arm's heap packet (alive until its receiver frees it after `ready`); `msg`
    /// is a message in (see `channel.rs`).
    #[inline]
    unsafe fn give(raw: *const Packet<T>, unparker: Option<Unparker>, msg: *const T) {
        // SAFETY: the caller's contract.
        let packet = unsafe { &*raw };
        // SAFETY: selection made the destination ours until `ready`; `msg` is valid to
        // read, and the two do not overlap (one message, two owners' memory).
        unsafe { ptr::copy_nonoverlapping(msg, packet.msg, 1) };
        // Release pairs with the Acquire in `wait_ready`.
        packet.ready.store(true, Ordering::Release);
        // The packet may be gone now; wake the receiver through our clone.
        if let Some(unparker) = unparker {
            unparker.unpark();
        }
    }

    /// Selects a waiting sender. `true` with `token.ptr` null means closed.
    fn start_recv(&self, token: &mut Token) -> bool {
        let mut inner = self.inner.lock();
        if let Some(wakeup) = inner.senders.try_select() {
            drop(inner);
            token.set_wakeup(wakeup);
            true
        } else if inner.is_disconnected {
            token.ptr = ptr::null();
            true
        } else {
            false
        }
    }

    /// Completes a receive that `start_recv`, or a `select` receive arm's acceptance, set
    /// up: moves the message into the caller's `Result`; `Err(closed)` if closed.
    ///
    /// # Safety
    ///
    /// `token` comes from `start_recv` or `RecvHandle::accept` on this channel, used once.
    pub(crate) unsafe fn read<R: Received<T>>(&self, token: &mut Token) -> R {
        if token.ptr.is_null() {
            return R::closed();
        }
        if let Some(unparker) = token.unparker.take() {
            let packet = token.ptr as *mut Packet<T>;
            // SAFETY: a sender selected by `start_recv`, its packet untouched since.
            return unsafe { Self::take_from(packet, unparker) };
        }
        // Our own `select` receive arm, chosen by a sender.
        let arm = if token.ptr == Token::IN_SLOT {
            token.slot.as_mut_ptr().cast::<ArmPacket<T>>()
        } else {
            token.ptr as *mut ArmPacket<T>
        };
        // SAFETY: our arm's packet (on the heap, or moved into the token by `accept`,
        // after which only its own room is valid, not `packet.msg`), alive until we free
        // it below; `ready` says the sender wrote the room and is done.
        unsafe { (*arm).packet.wait_ready() };
        // SAFETY: as above; runs once the message is out (see `Defer`).
        let _free = defer(move || unsafe { free_arm(arm) });
        // SAFETY: as above.
        R::msg(unsafe { (*arm).msg.get().cast::<T>().read() })
    }

    /// Takes the message of a sender this thread selected, into the caller's `Result`
    /// (always `Ok`), and lets the sender go.
    ///
    /// # Safety
    ///
    /// `raw` is the packet of a sender this thread selected, untouched since; `unparker`
    /// wakes that sender.
    #[inline(always)]
    unsafe fn take_from<R: Received<T>>(raw: *mut Packet<T>, unparker: Unparker) -> R {
        // SAFETY: alive until we set `ready` (on the sender's stack) or until we free it
        // (on the heap).
        let packet = unsafe { &*raw };
        if packet.on_heap {
            // A `select` send arm: it writes once it learns it won.
            unparker.unpark();
            packet.wait_ready();
            // SAFETY: a heap `ArmPacket` that the arm's `select` left to us, freed once
            // the message is out (see `Defer`).
            let _free = defer(move || unsafe { free_arm(raw.cast::<ArmPacket<T>>()) });
            // SAFETY: `ready` says the arm wrote its room and is done with the packet.
            R::msg(unsafe { packet.msg.read() })
        } else {
            // A plain send: its message is where the packet points; the sender waits for
            // `ready` before its frame (and the message) goes. Released once the message
            // is out (see `Defer`), through a raw pointer: the packet may be gone as soon
            // as `ready` is set, and a reference held by the closure would outlive it.
            let ready: *const AtomicBool = &packet.ready;
            let _release = defer(move || {
                // SAFETY: the packet lives until `ready` is set, by this store. Release
                // pairs with the sender's Acquire in `wait_ready`.
                unsafe { (*ready).store(true, Ordering::Release) };
                unparker.unpark();
            });
            // SAFETY: selection made the message ours to move until `ready`.
            R::msg(unsafe { packet.msg.read() })
        }
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
        let mut inner = self.inner.lock();
        if let Some(wakeup) = inner.receivers.try_select() {
            drop(inner);
            let packet = wakeup.packet as *const Packet<T>;
            // SAFETY: a receiver we just selected; the caller's contract for `msg`.
            unsafe { Self::give(packet, Some(wakeup.unparker), msg) };
            return Ok(());
        }
        if inner.is_disconnected {
            return Err(SendTimeoutError::Disconnected(()));
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(SendTimeoutError::Timeout(()));
        }
        // SAFETY: the caller's contract.
        unsafe { self.send_blocking(inner, msg, deadline) }
    }

    /// Waits, with a packet on this frame pointing at the message, until a receiver takes
    /// it.
    ///
    /// # Safety
    ///
    /// `msg` is a message in (see `channel.rs`).
    #[inline(always)]
    unsafe fn send_blocking(
        &self,
        mut inner: MutexGuard<'_, Inner>,
        msg: *const T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<()>> {
        let packet = Packet::plain(msg as *mut T);
        let waiter = Waiter::plain(WaitReason::Send, deadline);
        let entry = Entry::new(&waiter);
        entry.packet.set(&packet as *const Packet<T> as *mut ());
        // SAFETY: `entry`, `packet` and (the caller's contract) the message stay put until
        // we return, and we return only once the entry is unlinked (by the receiver that
        // selects it, or below) and, if selected, once the receiver is done with the
        // message (`wait_ready`).
        unsafe { inner.senders.register(&entry) };
        inner.version += 1;
        inner.receivers.notify_observers();
        Self::unlock_to_wait(inner, waiter.is_sole(), WaitReason::Send);
        match waiter.spin_then_wait_until(deadline) {
            Selected::Operation(_) => {
                packet.wait_ready();
                Ok(())
            }
            sel => {
                // Nobody selected us: the message was not moved, the caller keeps it.
                self.inner.lock().senders.unregister(&entry);
                Err(match sel {
                    Selected::Aborted => SendTimeoutError::Timeout(()),
                    _ => SendTimeoutError::Disconnected(()),
                })
            }
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
        let mut inner = self.inner.lock();
        if let Some(wakeup) = inner.senders.try_select() {
            drop(inner);
            let packet = wakeup.packet as *mut Packet<T>;
            // SAFETY: a sender we just selected, its packet untouched since.
            return unsafe { Self::take_from(packet, wakeup.unparker) };
        }
        if inner.is_disconnected {
            return R::closed();
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return R::not_ready();
        }
        self.recv_blocking(inner, deadline)
    }

    /// Waits until a sender fills the landing place this frame provides, then moves the
    /// message from there into the caller's `Result`.
    ///
    /// A message larger than [`LAND_ON_HEAP`] lands in a heap box: a landing place on the
    /// stack would be one more copy of it there, besides the caller's. The allocation is
    /// small next to what a blocking hand-off costs anyway (two context switches).
    #[inline(always)]
    fn recv_blocking<R: Received<T>>(
        &self,
        inner: MutexGuard<'_, Inner>,
        deadline: Option<Instant>,
    ) -> R {
        if std::mem::size_of::<T>() > LAND_ON_HEAP {
            let mut landing = Box::<T>::new_uninit();
            match self.wait_for_sender(inner, landing.as_mut_ptr(), deadline) {
                // SAFETY: the sender wrote the message there.
                Ok(()) => R::msg(unsafe { landing.as_ptr().read() }),
                Err(sel) => Self::recv_error(sel),
            }
        } else {
            let mut landing = MaybeUninit::<T>::uninit();
            match self.wait_for_sender(inner, landing.as_mut_ptr(), deadline) {
                // SAFETY: the sender wrote the message there.
                Ok(()) => R::msg(unsafe { landing.assume_init() }),
                Err(sel) => Self::recv_error(sel),
            }
        }
    }

    fn recv_error<R: Received<T>>(sel: Selected) -> R {
        match sel {
            Selected::Aborted => R::not_ready(),
            _ => R::closed(),
        }
    }

    /// Waits, with a packet on this frame pointing at `out`, until a sender fills it;
    /// returns what ended the wait if it was not that.
    #[inline(always)]
    fn wait_for_sender(
        &self,
        mut inner: MutexGuard<'_, Inner>,
        out: *mut T,
        deadline: Option<Instant>,
    ) -> Result<(), Selected> {
        let packet = Packet::plain(out);
        let waiter = Waiter::plain(WaitReason::Recv, deadline);
        let entry = Entry::new(&waiter);
        entry.packet.set(&packet as *const Packet<T> as *mut ());
        // SAFETY: `entry`, `packet` and (in the caller's frame or box) `out` stay put
        // until we return, and we return only once the entry is unlinked (by the sender
        // that selects it, or below) and, if selected, once the sender is done with `out`
        // (`wait_ready`).
        unsafe { inner.receivers.register(&entry) };
        inner.version += 1;
        inner.senders.notify_observers();
        Self::unlock_to_wait(inner, waiter.is_sole(), WaitReason::Recv);
        match waiter.spin_then_wait_until(deadline) {
            Selected::Operation(_) => {
                packet.wait_ready();
                Ok(())
            }
            sel => {
                self.inner.lock().receivers.unregister(&entry);
                Err(sel)
            }
        }
    }

    /// Releases the lock after a plain operation registered its entry, before it waits.
    ///
    /// A sole waiter (`waiter.rs`) is woken only by a holder of this lock (or spuriously,
    /// by a stale unparker), so a green thread keeps the lock across its switch and its
    /// scheduler releases it once the park is committed, with a store where a park
    /// otherwise needs a CAS (`park::park_unlocking`). Anywhere else, and for other
    /// waiters, the lock is released here. Either way the wait that follows re-checks
    /// the waiter's state first.
    #[inline(always)]
    fn unlock_to_wait(inner: MutexGuard<'_, Inner>, sole: bool, why: WaitReason) {
        #[cfg(not(loom))]
        if sole {
            let mutex = MutexGuard::leak(inner);
            // SAFETY: (1) we hold the lock, whose guard we just leaked, and `unlock_raw`
            // releases it from any thread; (2) the mutex lives in the channel, which our
            // caller's handle keeps alive until the wait ends; (3) a sole waiter is
            // woken only by a thread that takes this lock first, or by a stale unparker
            // (`waiter.rs`, "Sole waiters").
            unsafe {
                park::park_unlocking(
                    why,
                    Mutex::<Inner>::unlock_raw,
                    mutex as *const Mutex<Inner> as *const (),
                )
            };
            return;
        }
        #[cfg(loom)]
        let _ = (sole, why);
        drop(inner);
    }

    /// Closes the channel; returns whether this call did it. Wakes everyone blocked.
    pub(crate) fn disconnect(&self) -> bool {
        let mut inner = self.inner.lock();
        if inner.is_disconnected {
            return false;
        }
        inner.is_disconnected = true;
        inner.version += 1;
        // Wake every blocked operation, a batch per hold of the lock (see
        // `WaitList::disconnect_some`). New operations see `is_disconnected` and fail.
        let mut batch: [Option<Unparker>; CLOSE_BATCH] = Default::default();
        loop {
            let n = inner.senders.disconnect_some(&mut batch);
            let n = n + inner.receivers.disconnect_some(&mut batch[n..]);
            let more = inner.senders.has_selectors() || inner.receivers.has_selectors();
            if !more {
                inner.senders.notify_observers();
                inner.receivers.notify_observers();
            }
            drop(inner);
            for u in batch.iter_mut().take(n) {
                u.take().expect("filled by disconnect_some").unpark();
            }
            if !more {
                return true;
            }
            inner = self.inner.lock();
        }
    }

    pub(crate) fn is_disconnected(&self) -> bool {
        self.inner.lock().is_disconnected
    }
}

impl Waiter {
    /// The waiter of a plain `send` or `recv`: one entry, in this channel's one list; a
    /// sole waiter (`waiter.rs`) unless a deadline lets it end the wait itself.
    #[inline]
    fn plain(why: WaitReason, deadline: Option<Instant>) -> Waiter {
        if deadline.is_none() {
            Waiter::sole(why)
        } else {
            Waiter::new(why)
        }
    }
}

impl Token {
    /// Remembers a selected peer: its packet, and how to wake it when done.
    fn set_wakeup(&mut self, wakeup: Wakeup) {
        self.ptr = wakeup.packet as *const u8;
        self.unparker = Some(wakeup.unparker);
    }
}

/// Frees a `select` arm's packet unless a peer selected the arm (and so owns it now).
fn release_packet<T>(entry: &Entry) {
    if !entry.is_selected() {
        let raw = entry.packet.get() as *mut ArmPacket<T>;
        // SAFETY: `register` made it for this round; unselected, nobody else saw it.
        unsafe { free_arm(raw) };
    }
}

/// Frees an arm's packet: a heap one; one in an entry's slot has nothing to free (its
/// room is `MaybeUninit`, and the message, if any, was moved out).
///
/// # Safety
///
/// Nobody else will touch the packet again.
unsafe fn free_arm<T>(raw: *mut ArmPacket<T>) {
    // SAFETY: the caller's contract; `on_heap` says which kind it is.
    unsafe {
        if (*raw).packet.on_heap {
            drop(Box::from_raw(raw));
        }
    }
}

/// The receiving side of a rendezvous channel, as `select` sees it.
pub(crate) struct RecvHandle<'a, T>(pub(crate) &'a Channel<T>);

/// The sending side of a rendezvous channel, as `select` sees it.
pub(crate) struct SendHandle<'a, T>(pub(crate) &'a Channel<T>);

impl<T> SelectHandle for RecvHandle<'_, T> {
    fn try_select(&self, token: &mut Token) -> bool {
        self.0.start_recv(token)
    }

    fn deadline(&self) -> Option<Instant> {
        None
    }

    fn version(&self) -> u64 {
        self.0.inner.lock().version
    }

    unsafe fn register(&self, entry: &Entry) -> bool {
        // The sender writes into this packet and we read it: it lives as long as the
        // entry, so a small one fits in the entry itself.
        let packet = ArmPacket::<T>::in_slot(entry).unwrap_or_else(ArmPacket::on_heap);
        entry.packet.set(packet as *mut ());
        let mut inner = self.0.inner.lock();
        // SAFETY: the caller's contract; the packet lives until `unregister` or `read`.
        unsafe { inner.receivers.register(entry) };
        inner.version += 1;
        inner.senders.notify_observers();
        // Not our own send arm on the same channel: a select never meets itself.
        inner.senders.has_waiting_other(entry.waiter()) || inner.is_disconnected
    }

    fn unregister(&self, entry: &Entry) {
        self.0.inner.lock().receivers.unregister(entry);
        release_packet::<T>(entry);
    }

    fn accept(&self, token: &mut Token, entry: &Entry) -> bool {
        let raw = entry.packet.get() as *mut ArmPacket<T>;
        token.unparker = None;
        // SAFETY: our own arm's packet, which the sender that selected us fills.
        if unsafe { (*raw).packet.on_heap } {
            token.ptr = raw as *const u8;
        } else {
            // The packet lives in the entry, which dies with the select's frame before
            // the message is read: once the sender is done with it, move it into the
            // token.
            // SAFETY: (1) `ready` says the sender is done with the packet, so nobody
            // else touches it again; (2) the slot is as large and aligned as the
            // entry's; (3) the entry's copy is abandoned, and nothing in it needs a drop;
            // (4) `read` then uses the moved room, not `packet.msg`.
            unsafe {
                (*raw).packet.wait_ready();
                token
                    .slot
                    .as_mut_ptr()
                    .cast::<ArmPacket<T>>()
                    .write(raw.read());
            }
            token.ptr = Token::IN_SLOT;
        }
        true
    }

    fn is_ready(&self) -> bool {
        let inner = self.0.inner.lock();
        inner.senders.has_waiting_other(ptr::null()) || inner.is_disconnected
    }

    unsafe fn watch(&self, entry: &Entry) -> bool {
        let mut inner = self.0.inner.lock();
        // SAFETY: the caller's contract.
        unsafe { inner.receivers.watch(entry) };
        inner.senders.has_waiting_other(ptr::null()) || inner.is_disconnected
    }

    fn unwatch(&self, entry: &Entry) {
        self.0.inner.lock().receivers.unwatch(entry);
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
        self.0.inner.lock().version
    }

    unsafe fn register(&self, entry: &Entry) -> bool {
        entry.packet.set(ArmPacket::<T>::on_heap() as *mut ());
        let mut inner = self.0.inner.lock();
        // SAFETY: the caller's contract; the packet lives until `unregister` or a
        // receiver's `read`.
        unsafe { inner.senders.register(entry) };
        inner.version += 1;
        inner.receivers.notify_observers();
        inner.receivers.has_waiting_other(entry.waiter()) || inner.is_disconnected
    }

    fn unregister(&self, entry: &Entry) {
        self.0.inner.lock().senders.unregister(entry);
        release_packet::<T>(entry);
    }

    fn accept(&self, token: &mut Token, entry: &Entry) -> bool {
        token.ptr = entry.packet.get() as *const u8;
        token.unparker = None;
        true
    }

    fn is_ready(&self) -> bool {
        let inner = self.0.inner.lock();
        inner.receivers.has_waiting_other(ptr::null()) || inner.is_disconnected
    }

    unsafe fn watch(&self, entry: &Entry) -> bool {
        let mut inner = self.0.inner.lock();
        // SAFETY: the caller's contract.
        unsafe { inner.senders.watch(entry) };
        inner.receivers.has_waiting_other(ptr::null()) || inner.is_disconnected
    }

    fn unwatch(&self, entry: &Entry) {
        self.0.inner.lock().senders.unwatch(entry);
    }
}
