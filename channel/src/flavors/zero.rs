//! Rendezvous channel, `bounded(0)`: a send completes only when a receiver takes the value.
//!
//! There is no buffer: a message goes straight from the sender's *packet* to the
//! receiver's. Whoever comes second finds the first one blocked in the channel's wait list
//! (one lock protects both lists and the closed flag) and completes the hand-off with it.
//!
//! # How a send meets a receive
//!
//! A blocked operation owns a packet — a message slot and a `ready` flag — on its stack
//! (a `select` arm's packet is on the heap, because it is registered for a type the
//! `select` does not know in advance). The packet address travels in the wait-list entry.
//!
//! A sender that finds a waiting receiver R:
//! 1. under the lock, selects R (clones R's unparker, unlinks R's entry, CAS on R's state);
//! 2. after unlocking, moves the message into R's packet, sets `ready` (Release), and
//!    wakes R through the clone;
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

use std::marker::PhantomData;
use std::ptr;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::backoff::Spin;
use crate::err::{RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};
use crate::loom::{AtomicBool, Mutex, MutexGuard, UnsafeCell};
use crate::park::Unparker;
use crate::token::{SelectHandle, Token};
use crate::waiter::{ENTRY_SLOT_WORDS, Entry, Selected, Waiter};
use crate::waitlist::{CLOSE_BATCH, WaitList, Wakeup};

/// Where one message changes hands.
struct Packet<T> {
    /// Made by `select` registration: freed by whoever takes the message (or by the
    /// registering `select` if nobody selected it).
    on_heap: bool,
    /// Set (Release) by the side that finishes with the packet second-to-last; the owner
    /// (or the receiver of a `select` send arm) waits for it (Acquire).
    ready: AtomicBool,
    /// Filled by a plain `send` from the start, otherwise by the sender that completes.
    msg: UnsafeCell<Option<T>>,
}

impl<T> Packet<T> {
    fn on_stack(msg: Option<T>) -> Packet<T> {
        Packet {
            on_heap: false,
            ready: AtomicBool::new(false),
            msg: UnsafeCell::new(msg),
        }
    }

    /// An empty packet in `entry`'s slot, if it fits there (not under loom, which
    /// tracks heap packets better).
    fn in_slot(entry: &Entry) -> Option<*mut Packet<T>> {
        let fits = std::mem::size_of::<Packet<T>>()
            <= std::mem::size_of::<[usize; ENTRY_SLOT_WORDS]>()
            && std::mem::align_of::<Packet<T>>() <= std::mem::align_of::<usize>();
        if !fits || cfg!(loom) {
            return None;
        }
        let p = entry.slot.get().cast::<Packet<T>>();
        // SAFETY: the slot is large and aligned enough (checked above), owned by the
        // caller (the entry's owner, registering it), and holds nothing.
        unsafe {
            p.write(Packet {
                on_heap: false,
                ready: AtomicBool::new(false),
                msg: UnsafeCell::new(None),
            })
        };
        Some(p)
    }

    fn on_heap() -> *mut Packet<T> {
        Box::into_raw(Box::new(Packet {
            on_heap: true,
            ready: AtomicBool::new(false),
            msg: UnsafeCell::new(None),
        }))
    }

    /// Waits until the other side is done with the packet.
    fn wait_ready(&self) {
        let mut spin = Spin::new();
        // Acquire pairs with the Release stores of `ready` in `write` and `read`.
        while !self.ready.load(Ordering::Acquire) {
            spin.snooze();
        }
    }

    /// Moves the message in.
    ///
    /// # Safety
    ///
    /// The caller has the packet to itself (the hand-off protocol in the module docs).
    unsafe fn put(&self, msg: T) {
        // SAFETY: the caller's contract; the packet is empty, so nothing is overwritten.
        self.msg.with_mut(|p| unsafe { ptr::write(p, Some(msg)) });
    }

    /// Moves the message out.
    ///
    /// # Safety
    ///
    /// As for [`put`](Packet::put), and the packet holds a message.
    unsafe fn take(&self) -> T {
        // SAFETY: the caller's contract.
        self.msg
            .with_mut(|p| unsafe { (*p).take() })
            .expect("gogreen: fatal: rendezvous packet without a message")
    }
}

struct Inner {
    /// Blocked senders and `select` send arms.
    senders: WaitList,
    /// Blocked receivers and `select` receive arms.
    receivers: WaitList,
    is_disconnected: bool,
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

    /// Completes a send that `start_send`, or a `select` send arm's acceptance, set up.
    ///
    /// # Safety
    ///
    /// `token` comes from `start_send` or `SendHandle::accept` on this channel, used once.
    pub(crate) unsafe fn write(&self, token: &mut Token, msg: T) -> Result<(), T> {
        if token.ptr.is_null() {
            return Err(msg);
        }
        // SAFETY: the token points at a selected receiver's packet, or at our own heap
        // packet that a receiver selected and now waits on (then there is nobody to wake:
        // the receiver woke us).
        unsafe { Self::give(token.ptr as *const Packet<T>, token.unparker.take(), msg) };
        Ok(())
    }

    /// Gives `msg` to a receiver: fills its packet, releases it with `ready`, and wakes
    /// the receiver, if `unparker` is given.
    ///
    /// # Safety
    ///
    /// `raw` is the packet of a receiver this thread selected (alive until `ready`: on its
    /// stack, or in its entry, or on the heap until its owner frees it), or this thread's
    /// own send arm's heap packet (alive until its receiver frees it after `ready`).
    #[inline]
    unsafe fn give(raw: *const Packet<T>, unparker: Option<Unparker>, msg: T) {
        // SAFETY: the caller's contract.
        let packet = unsafe { &*raw };
        // SAFETY: selection made the packet ours until `ready`.
        unsafe { packet.put(msg) };
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

    /// Completes a receive that `start_recv`, or a `select` receive arm's acceptance, set up.
    ///
    /// # Safety
    ///
    /// `token` comes from `start_recv` or `RecvHandle::accept` on this channel, used once.
    pub(crate) unsafe fn read(&self, token: &mut Token) -> Result<T, ()> {
        if token.ptr.is_null() {
            return Err(());
        }
        let raw = if token.ptr == Token::IN_SLOT {
            token.slot.as_mut_ptr().cast::<Packet<T>>()
        } else {
            token.ptr as *mut Packet<T>
        };
        match token.unparker.take() {
            // SAFETY: a sender selected by `start_recv`, its packet untouched since.
            Some(unparker) => Ok(unsafe { Self::take_from(raw, unparker) }),
            None => {
                // Our own `select` receive arm, chosen by a sender.
                // SAFETY: our arm's packet (on the heap, or moved into the token by
                // `accept`), alive until we free it below.
                let packet = unsafe { &*raw };
                packet.wait_ready();
                // SAFETY: `ready` says the sender wrote and is done with the packet.
                let msg = unsafe { packet.take() };
                // SAFETY: our arm's packet, nobody else's any more.
                unsafe { free_packet(raw) };
                Ok(msg)
            }
        }
    }

    /// Takes the message of a sender this thread selected, and lets the sender go.
    ///
    /// # Safety
    ///
    /// `raw` is the packet of a sender this thread selected, untouched since; `unparker`
    /// wakes that sender.
    #[inline]
    unsafe fn take_from(raw: *mut Packet<T>, unparker: Unparker) -> T {
        // SAFETY: alive until we set `ready` (on the sender's stack) or until we free it
        // (on the heap).
        let packet = unsafe { &*raw };
        if packet.on_heap {
            // A `select` send arm: it writes once it learns it won.
            unparker.unpark();
            packet.wait_ready();
            // SAFETY: `ready` says the arm wrote and is done with the packet.
            let msg = unsafe { packet.take() };
            // SAFETY: a heap packet; the arm's `select` left it to us.
            drop(unsafe { Box::from_raw(raw) });
            msg
        } else {
            // A plain send: the message is there; its sender waits for `ready`.
            // SAFETY: selection made the packet ours until `ready`.
            let msg = unsafe { packet.take() };
            // Release pairs with the sender's Acquire in `wait_ready`.
            packet.ready.store(true, Ordering::Release);
            unparker.unpark();
            msg
        }
    }

    pub(crate) fn try_send(&self, msg: T) -> Result<(), TrySendError<T>> {
        let token = &mut Token::default();
        if self.start_send(token) {
            // SAFETY: a successful `start_send`.
            unsafe { self.write(token, msg) }.map_err(TrySendError::Disconnected)
        } else {
            Err(TrySendError::Full(msg))
        }
    }

    pub(crate) fn send(
        &self,
        msg: T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        let mut inner = self.inner.lock();
        if let Some(wakeup) = inner.receivers.try_select() {
            drop(inner);
            let packet = wakeup.packet as *const Packet<T>;
            // SAFETY: a receiver we just selected.
            unsafe { Self::give(packet, Some(wakeup.unparker), msg) };
            return Ok(());
        }
        if inner.is_disconnected {
            return Err(SendTimeoutError::Disconnected(msg));
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(SendTimeoutError::Timeout(msg));
        }
        self.send_blocking(inner, msg, deadline)
    }

    /// Waits with the message in a packet on this frame until a receiver takes it.
    #[inline(never)]
    fn send_blocking(
        &self,
        mut inner: MutexGuard<'_, Inner>,
        msg: T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        let packet = Packet::on_stack(Some(msg));
        let waiter = Waiter::new();
        let entry = Entry::new(&waiter);
        entry.packet.set(&packet as *const Packet<T> as *mut ());
        // SAFETY: `entry` and `packet` stay in this frame, and we return only once the
        // entry is unlinked (by the receiver that selects it, or below) and, if selected,
        // once the receiver is done with the packet (`wait_ready`).
        unsafe { inner.senders.register(&entry) };
        inner.receivers.notify_observers();
        drop(inner);
        match waiter.spin_then_wait_until(deadline) {
            Selected::Operation(_) => {
                packet.wait_ready();
                Ok(())
            }
            sel => {
                self.inner.lock().senders.unregister(&entry);
                // SAFETY: nobody selected us, so the message is still ours.
                let msg = unsafe { packet.take() };
                Err(match sel {
                    Selected::Aborted => SendTimeoutError::Timeout(msg),
                    _ => SendTimeoutError::Disconnected(msg),
                })
            }
        }
    }

    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        let token = &mut Token::default();
        if self.start_recv(token) {
            // SAFETY: a successful `start_recv`.
            unsafe { self.read(token) }.map_err(|()| TryRecvError::Disconnected)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        let mut inner = self.inner.lock();
        if let Some(wakeup) = inner.senders.try_select() {
            drop(inner);
            let packet = wakeup.packet as *mut Packet<T>;
            // SAFETY: a sender we just selected, its packet untouched since.
            return Ok(unsafe { Self::take_from(packet, wakeup.unparker) });
        }
        if inner.is_disconnected {
            return Err(RecvTimeoutError::Disconnected);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(RecvTimeoutError::Timeout);
        }
        self.recv_blocking(inner, deadline)
    }

    /// Waits with an empty packet on this frame until a sender fills it.
    #[inline(never)]
    fn recv_blocking(
        &self,
        mut inner: MutexGuard<'_, Inner>,
        deadline: Option<Instant>,
    ) -> Result<T, RecvTimeoutError> {
        let packet = Packet::<T>::on_stack(None);
        let waiter = Waiter::new();
        let entry = Entry::new(&waiter);
        entry.packet.set(&packet as *const Packet<T> as *mut ());
        // SAFETY: as in `send_blocking`.
        unsafe { inner.receivers.register(&entry) };
        inner.senders.notify_observers();
        drop(inner);
        match waiter.spin_then_wait_until(deadline) {
            Selected::Operation(_) => {
                packet.wait_ready();
                // SAFETY: `ready` says the sender wrote and is done with the packet.
                Ok(unsafe { packet.take() })
            }
            sel => {
                self.inner.lock().receivers.unregister(&entry);
                Err(match sel {
                    Selected::Aborted => RecvTimeoutError::Timeout,
                    _ => RecvTimeoutError::Disconnected,
                })
            }
        }
    }

    /// Closes the channel; returns whether this call did it. Wakes everyone blocked.
    pub(crate) fn disconnect(&self) -> bool {
        let mut inner = self.inner.lock();
        if inner.is_disconnected {
            return false;
        }
        inner.is_disconnected = true;
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
        let raw = entry.packet.get() as *mut Packet<T>;
        // SAFETY: `register` made it for this round; unselected, nobody else saw it.
        unsafe { free_packet(raw) };
    }
}

/// Frees a packet made for a `select` arm: a heap one, or one in an entry's slot.
///
/// # Safety
///
/// Nobody else will touch the packet again.
unsafe fn free_packet<T>(raw: *mut Packet<T>) {
    // SAFETY: the caller's contract; `on_heap` says which kind it is.
    unsafe {
        if (*raw).on_heap {
            drop(Box::from_raw(raw));
        } else {
            std::ptr::drop_in_place(raw);
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

    unsafe fn register(&self, entry: &Entry) -> bool {
        // The sender writes into this packet and we read it: it lives as long as the
        // entry, so a small one fits in the entry itself.
        let packet = Packet::<T>::in_slot(entry).unwrap_or_else(Packet::on_heap);
        entry.packet.set(packet as *mut ());
        let mut inner = self.0.inner.lock();
        // SAFETY: the caller's contract; the packet lives until `unregister` or `read`.
        unsafe { inner.receivers.register(entry) };
        inner.senders.notify_observers();
        // Not our own send arm on the same channel: a select never meets itself.
        inner.senders.has_waiting_other(entry.waiter()) || inner.is_disconnected
    }

    fn unregister(&self, entry: &Entry) {
        self.0.inner.lock().receivers.unregister(entry);
        release_packet::<T>(entry);
    }

    fn accept(&self, token: &mut Token, entry: &Entry) -> bool {
        let raw = entry.packet.get() as *mut Packet<T>;
        token.unparker = None;
        // SAFETY: our own arm's packet, which the sender that selected us fills.
        if unsafe { (*raw).on_heap } {
            token.ptr = raw as *const u8;
        } else {
            // The packet lives in the entry, which dies with the select's frame before
            // the message is read: once the sender is done with it, move it into the
            // token.
            // SAFETY: (1) `ready` says the sender is done with the packet, so nobody
            // else touches it again; (2) the slot is as large and aligned as the
            // entry's; (3) the entry's copy is abandoned, never dropped.
            unsafe {
                (*raw).wait_ready();
                token
                    .slot
                    .as_mut_ptr()
                    .cast::<Packet<T>>()
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

    unsafe fn register(&self, entry: &Entry) -> bool {
        entry.packet.set(Packet::<T>::on_heap() as *mut ());
        let mut inner = self.0.inner.lock();
        // SAFETY: the caller's contract; the packet lives until `unregister` or a
        // receiver's `read`.
        unsafe { inner.senders.register(entry) };
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
