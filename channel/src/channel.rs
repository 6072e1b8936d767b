//! `Sender` and `Receiver`, the handles users hold, and the functions that make channels.
//!
//! Each handle is an enum over the flavors; every operation is one `match` and a call
//! into the flavor.
//!
//! # Messages travel by pointer
//!
//! Below the public methods, which are small and inlined into their callers, a message is
//! never passed by value: a message of many kilobytes would be copied into each frame it
//! passes (and a green thread's stack is small). The flavors take a *message in*,
//! `msg: *const T`: a valid `T` that the caller owns. On `Ok` the flavor has moved it out
//! (copied its bytes into a slot or to a receiver), and the caller must neither use nor
//! drop it again; on `Err` it is untouched and still the caller's.
//!
//! A public `send` keeps its argument in a `ManuallyDrop` and hands the flavor its
//! address. A receive goes the other way: each flavor returns what the caller returns
//! (`Result<T, RecvError>`, ..., `Option<T>` for the iterators; see `Received`), built
//! where the message is moved out of its slot or packet, and every frame above returns
//! that value unchanged, which the compiler passes up without copying it. So a message
//! costs the stack of about one copy, the caller's, whatever the flavor.

use std::fmt;
use std::iter::FusedIterator;
use std::mem::ManuallyDrop;
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::time::{Duration, Instant};

use crate::counter::Counter;
use crate::err::{
    Received, RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError,
};
use crate::flavors::{array, at, list, never, tick, zero};
use crate::loom::Arc;
use crate::token::{SelectHandle, Selectable, Token};
use crate::waiter::Entry;

/// Creates a channel of bounded capacity.
///
/// With `cap > 0` the channel buffers up to `cap` messages; a send blocks while the buffer
/// is full. With `cap == 0` it is a rendezvous channel: a send blocks until a receiver
/// takes the message, handed over directly (Go's unbuffered channel).
///
/// ```
/// use gogreen_channel::bounded;
///
/// let (s, r) = bounded(1);
/// s.send(1).unwrap();
/// assert!(s.try_send(2).is_err()); // full
/// assert_eq!(r.recv(), Ok(1));
/// ```
///
/// # Panics
///
/// If the buffer of `cap` slots cannot be allocated (it is allocated up front): the
/// message says so, instead of the process aborting on a failed allocation.
pub fn bounded<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    if cap == 0 {
        let c = Counter::new(zero::Channel::new());
        (
            Sender {
                flavor: SenderFlavor::Zero(c.clone()),
            },
            Receiver {
                flavor: ReceiverFlavor::Zero(c),
            },
        )
    } else {
        let c = Counter::new(array::Channel::with_capacity(cap));
        (
            Sender {
                flavor: SenderFlavor::Array(c.clone()),
            },
            Receiver {
                flavor: ReceiverFlavor::Array(c),
            },
        )
    }
}

/// Creates a channel of unbounded capacity: a send never blocks.
///
/// ```
/// use gogreen_channel::unbounded;
///
/// let (s, r) = unbounded();
/// for i in 0..1000 {
///     s.send(i).unwrap();
/// }
/// drop(s);
/// assert_eq!(r.iter().sum::<i32>(), 499_500);
/// ```
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    let c = Counter::new(list::Channel::new());
    (
        Sender {
            flavor: SenderFlavor::List(c.clone()),
        },
        Receiver {
            flavor: ReceiverFlavor::List(c),
        },
    )
}

/// Creates a receiver that delivers one message, the `Instant` of delivery, after `duration`.
///
/// No timer thread runs: the receiver computes its readiness from the clock, so it is a
/// cheap way to put a timeout into a `select!`. The channel never closes.
///
/// ```
/// use gogreen_channel::after;
/// use std::time::Duration;
///
/// let timeout = after(Duration::from_millis(10));
/// assert!(timeout.recv().is_ok());
/// ```
pub fn after(duration: Duration) -> Receiver<Instant> {
    at_instant(Instant::now().checked_add(duration))
}

/// Creates a receiver that delivers one message, `when`, once `when` has passed.
pub fn at(when: Instant) -> Receiver<Instant> {
    at_instant(Some(when))
}

fn at_instant(when: Option<Instant>) -> Receiver<Instant> {
    Receiver {
        flavor: ReceiverFlavor::At(Arc::new(at::Channel::new(when)), identity),
    }
}

/// Creates a receiver that delivers the `Instant` of each tick, every `duration`.
///
/// A tick not received before the next one is due is dropped; the first tick comes one
/// `duration` after creation. The channel never closes.
pub fn tick(duration: Duration) -> Receiver<Instant> {
    Receiver {
        flavor: ReceiverFlavor::Tick(Arc::new(tick::Channel::new(duration)), identity),
    }
}

/// Creates a receiver that never delivers: Go's nil channel, for disabling a `select!` arm.
///
/// ```
/// use gogreen_channel::{never, select, unbounded};
///
/// let (s, r) = unbounded();
/// s.send(1).unwrap();
/// let enabled = false;
/// let r2 = if enabled { r.clone() } else { never() };
/// select! {
///     recv(r2) -> _ => unreachable!(),
///     recv(r) -> v => assert_eq!(v, Ok(1)),
/// }
/// ```
pub fn never<T>() -> Receiver<T> {
    Receiver {
        flavor: ReceiverFlavor::Never(never::Channel::new()),
    }
}

/// How a timer receiver delivers its `Instant` as `T`, which *is* `Instant`.
fn identity(t: Instant) -> Instant {
    t
}

/// A timer receiver's result: the delivered `Instant` as `T`, or "not ready" (timers
/// never close).
///
/// Not inlined: the `T` that `f` returns would give every frame it is inlined into a
/// `T`-sized slot, for every `T` (even where this never runs, as it runs only for
/// `T = Instant`).
#[inline(never)]
fn timer_result<T, R: Received<T>>(t: Option<Instant>, f: fn(Instant) -> T) -> R {
    match t {
        Some(t) => R::msg(f(t)),
        None => R::not_ready(),
    }
}

/// The sending half of a channel. Clone it for more senders; the channel closes when the
/// last one is dropped, or when any of them calls [`close`](Sender::close).
pub struct Sender<T> {
    flavor: SenderFlavor<T>,
}

enum SenderFlavor<T> {
    Array(Arc<Counter<array::Channel<T>>>),
    List(Arc<Counter<list::Channel<T>>>),
    Zero(Arc<Counter<zero::Channel<T>>>),
}

impl<T> UnwindSafe for Sender<T> {}
impl<T> RefUnwindSafe for Sender<T> {}

impl<T> Sender<T> {
    /// Sends without blocking: fails with `Full` if the buffer is full (a rendezvous
    /// channel: if no receiver is waiting), with `Disconnected` if the channel is closed.
    #[inline]
    pub fn try_send(&self, msg: T) -> Result<(), TrySendError<T>> {
        let msg = ManuallyDrop::new(msg);
        // SAFETY: `msg` is a message in, not used again unless it comes back.
        match unsafe { self.try_send_from(&*msg) } {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(())) => Err(TrySendError::Full(ManuallyDrop::into_inner(msg))),
            Err(TrySendError::Disconnected(())) => {
                Err(TrySendError::Disconnected(ManuallyDrop::into_inner(msg)))
            }
        }
    }

    /// # Safety
    ///
    /// `msg` is a message in (module docs).
    #[inline]
    unsafe fn try_send_from(&self, msg: *const T) -> Result<(), TrySendError<()>> {
        match &self.flavor {
            // SAFETY: the caller's contract, passed on.
            SenderFlavor::Array(c) => unsafe { c.chan.try_send(msg) },
            SenderFlavor::List(c) => {
                // SAFETY: the caller's contract, passed on.
                unsafe { c.chan.send(msg) }.map_err(|()| TrySendError::Disconnected(()))
            }
            // SAFETY: the caller's contract, passed on.
            SenderFlavor::Zero(c) => unsafe { c.chan.try_send(msg) },
        }
    }

    /// Sends, blocking while the buffer is full (a rendezvous channel: until a receiver
    /// takes the message). Fails, handing the message back, if the channel is closed.
    ///
    /// In a green thread only the green thread blocks.
    #[inline]
    pub fn send(&self, msg: T) -> Result<(), SendError<T>> {
        let msg = ManuallyDrop::new(msg);
        // SAFETY: `msg` is a message in, not used again unless it comes back.
        match unsafe { self.send_from(&*msg, None) } {
            Ok(()) => Ok(()),
            Err(_) => Err(SendError(ManuallyDrop::into_inner(msg))),
        }
    }

    /// Sends, blocking at most `timeout`.
    #[inline]
    pub fn send_timeout(&self, msg: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        self.send_until(msg, Instant::now().checked_add(timeout))
    }

    /// Sends, blocking at most until `deadline`.
    #[inline]
    pub fn send_deadline(&self, msg: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        self.send_until(msg, Some(deadline))
    }

    #[inline]
    fn send_until(&self, msg: T, deadline: Option<Instant>) -> Result<(), SendTimeoutError<T>> {
        let msg = ManuallyDrop::new(msg);
        // SAFETY: `msg` is a message in, not used again unless it comes back.
        match unsafe { self.send_from(&*msg, deadline) } {
            Ok(()) => Ok(()),
            Err(SendTimeoutError::Timeout(())) => {
                Err(SendTimeoutError::Timeout(ManuallyDrop::into_inner(msg)))
            }
            Err(SendTimeoutError::Disconnected(())) => Err(SendTimeoutError::Disconnected(
                ManuallyDrop::into_inner(msg),
            )),
        }
    }

    /// # Safety
    ///
    /// `msg` is a message in (module docs).
    #[inline]
    unsafe fn send_from(
        &self,
        msg: *const T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<()>> {
        match &self.flavor {
            // SAFETY: the caller's contract, passed on.
            SenderFlavor::Array(c) => unsafe { c.chan.send(msg, deadline) },
            SenderFlavor::List(c) => {
                // SAFETY: the caller's contract, passed on.
                unsafe { c.chan.send(msg) }.map_err(|()| SendTimeoutError::Disconnected(()))
            }
            // SAFETY: the caller's contract, passed on.
            SenderFlavor::Zero(c) => unsafe { c.chan.send(msg, deadline) },
        }
    }

    /// Closes the channel, as if every sender had been dropped: sends fail from now on,
    /// receivers drain what is buffered and then get `Err`, and everyone blocked on the
    /// channel wakes up. Returns `true` if this call closed it, `false` if it already was.
    ///
    /// Unlike Go's `close`, closing twice is not an error.
    pub fn close(&self) -> bool {
        match &self.flavor {
            SenderFlavor::Array(c) => c.chan.disconnect(),
            SenderFlavor::List(c) => c.chan.disconnect_senders(),
            SenderFlavor::Zero(c) => c.chan.disconnect(),
        }
    }

    /// Whether the channel is closed: by [`close`](Sender::close), or because every sender
    /// or every receiver is gone.
    pub fn is_closed(&self) -> bool {
        match &self.flavor {
            SenderFlavor::Array(c) => c.chan.is_disconnected(),
            SenderFlavor::List(c) => c.chan.is_disconnected(),
            SenderFlavor::Zero(c) => c.chan.is_disconnected(),
        }
    }

    /// Whether the buffer is empty (always, for a rendezvous channel).
    pub fn is_empty(&self) -> bool {
        match &self.flavor {
            SenderFlavor::Array(c) => c.chan.is_empty(),
            SenderFlavor::List(c) => c.chan.is_empty(),
            SenderFlavor::Zero(_) => true,
        }
    }

    /// Whether the buffer is full (always, for a rendezvous channel; never, unbounded).
    pub fn is_full(&self) -> bool {
        match &self.flavor {
            SenderFlavor::Array(c) => c.chan.is_full(),
            SenderFlavor::List(_) => false,
            SenderFlavor::Zero(_) => true,
        }
    }

    /// How many messages are buffered.
    pub fn len(&self) -> usize {
        match &self.flavor {
            SenderFlavor::Array(c) => c.chan.len(),
            SenderFlavor::List(c) => c.chan.len(),
            SenderFlavor::Zero(_) => 0,
        }
    }

    /// The capacity, or `None` for an unbounded channel.
    pub fn capacity(&self) -> Option<usize> {
        match &self.flavor {
            SenderFlavor::Array(c) => c.chan.capacity(),
            SenderFlavor::List(_) => None,
            SenderFlavor::Zero(_) => Some(0),
        }
    }

    /// Whether both senders belong to the same channel.
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        match (&self.flavor, &other.flavor) {
            (SenderFlavor::Array(a), SenderFlavor::Array(b)) => Arc::ptr_eq(a, b),
            (SenderFlavor::List(a), SenderFlavor::List(b)) => Arc::ptr_eq(a, b),
            (SenderFlavor::Zero(a), SenderFlavor::Zero(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        match &self.flavor {
            SenderFlavor::Array(c) => {
                if c.release_sender() {
                    c.chan.disconnect();
                }
            }
            SenderFlavor::List(c) => {
                if c.release_sender() {
                    c.chan.disconnect_senders();
                }
            }
            SenderFlavor::Zero(c) => {
                if c.release_sender() {
                    c.chan.disconnect();
                }
            }
        }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        let flavor = match &self.flavor {
            SenderFlavor::Array(c) => {
                c.acquire_sender();
                SenderFlavor::Array(c.clone())
            }
            SenderFlavor::List(c) => {
                c.acquire_sender();
                SenderFlavor::List(c.clone())
            }
            SenderFlavor::Zero(c) => {
                c.acquire_sender();
                SenderFlavor::Zero(c.clone())
            }
        };
        Sender { flavor }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Sender { .. }")
    }
}

/// The receiving half of a channel. Clone it for more receivers (each message goes to one
/// of them); when the last one is dropped, sends fail and the messages still buffered are
/// dropped (by the thread that drops that receiver).
pub struct Receiver<T> {
    flavor: ReceiverFlavor<T>,
}

enum ReceiverFlavor<T> {
    Array(Arc<Counter<array::Channel<T>>>),
    List(Arc<Counter<list::Channel<T>>>),
    Zero(Arc<Counter<zero::Channel<T>>>),
    /// `after`/`at`; the function turns the `Instant` into `T`, which *is* `Instant`
    /// (the only way to build this variant), without `unsafe` (see `timer_result`).
    At(Arc<at::Channel>, fn(Instant) -> T),
    /// `tick`; as for `At`.
    Tick(Arc<tick::Channel>, fn(Instant) -> T),
    Never(never::Channel<T>),
}

impl<T> UnwindSafe for Receiver<T> {}
impl<T> RefUnwindSafe for Receiver<T> {}

impl<T> Receiver<T> {
    /// Receives without blocking: fails with `Empty` if nothing is ready, with
    /// `Disconnected` if the channel is closed and empty.
    #[inline]
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.try_recv_as()
    }

    #[inline]
    fn try_recv_as<R: Received<T>>(&self) -> R {
        match &self.flavor {
            ReceiverFlavor::Array(c) => c.chan.try_recv(),
            ReceiverFlavor::List(c) => c.chan.try_recv(),
            ReceiverFlavor::Zero(c) => c.chan.try_recv(),
            ReceiverFlavor::At(c, f) => timer_result(c.try_recv().ok(), *f),
            ReceiverFlavor::Tick(c, f) => timer_result(c.try_recv().ok(), *f),
            ReceiverFlavor::Never(_) => R::not_ready(),
        }
    }

    /// Receives, blocking until a message arrives. Once the channel is closed, receives
    /// what is still buffered, then fails.
    ///
    /// In a green thread only the green thread blocks.
    #[inline]
    pub fn recv(&self) -> Result<T, RecvError> {
        self.recv_as(None)
    }

    /// Receives, blocking at most `timeout`.
    #[inline]
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.recv_as(Instant::now().checked_add(timeout))
    }

    /// Receives, blocking at most until `deadline`.
    #[inline]
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.recv_as(Some(deadline))
    }

    /// Every receive comes here, asking for what its caller returns: each flavor builds
    /// that value itself (see `Received`).
    #[inline]
    fn recv_as<R: Received<T>>(&self, deadline: Option<Instant>) -> R {
        match &self.flavor {
            ReceiverFlavor::Array(c) => c.chan.recv(deadline),
            ReceiverFlavor::List(c) => c.chan.recv(deadline),
            ReceiverFlavor::Zero(c) => c.chan.recv(deadline),
            ReceiverFlavor::At(c, f) => timer_result(c.recv(deadline).ok(), *f),
            ReceiverFlavor::Tick(c, f) => timer_result(c.recv(deadline).ok(), *f),
            ReceiverFlavor::Never(c) => {
                let _ = c.recv(deadline);
                R::not_ready()
            }
        }
    }

    /// A blocking iterator: yields messages until the channel is closed and drained.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { receiver: self }
    }

    /// A non-blocking iterator: yields the messages ready now.
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { receiver: self }
    }

    /// Whether the channel is closed: by `Sender::close`, or because every sender or
    /// every receiver is gone. Buffered messages may still be received. Timer and
    /// `never` channels never close.
    pub fn is_closed(&self) -> bool {
        match &self.flavor {
            ReceiverFlavor::Array(c) => c.chan.is_disconnected(),
            ReceiverFlavor::List(c) => c.chan.is_disconnected(),
            ReceiverFlavor::Zero(c) => c.chan.is_disconnected(),
            ReceiverFlavor::At(..) | ReceiverFlavor::Tick(..) | ReceiverFlavor::Never(_) => false,
        }
    }

    /// Whether no message is ready.
    pub fn is_empty(&self) -> bool {
        match &self.flavor {
            ReceiverFlavor::Array(c) => c.chan.is_empty(),
            ReceiverFlavor::List(c) => c.chan.is_empty(),
            ReceiverFlavor::Zero(_) | ReceiverFlavor::Never(_) => true,
            ReceiverFlavor::At(c, _) => c.is_empty(),
            ReceiverFlavor::Tick(c, _) => c.is_empty(),
        }
    }

    /// Whether the buffer is full (always, for a rendezvous or `never` channel).
    pub fn is_full(&self) -> bool {
        match &self.flavor {
            ReceiverFlavor::Array(c) => c.chan.is_full(),
            ReceiverFlavor::List(_) => false,
            ReceiverFlavor::Zero(_) | ReceiverFlavor::Never(_) => true,
            ReceiverFlavor::At(c, _) => !c.is_empty(),
            ReceiverFlavor::Tick(c, _) => !c.is_empty(),
        }
    }

    /// How many messages are ready.
    pub fn len(&self) -> usize {
        match &self.flavor {
            ReceiverFlavor::Array(c) => c.chan.len(),
            ReceiverFlavor::List(c) => c.chan.len(),
            ReceiverFlavor::Zero(_) | ReceiverFlavor::Never(_) => 0,
            ReceiverFlavor::At(c, _) => c.len(),
            ReceiverFlavor::Tick(c, _) => c.len(),
        }
    }

    /// The capacity, or `None` for an unbounded channel (timers hold one message).
    pub fn capacity(&self) -> Option<usize> {
        match &self.flavor {
            ReceiverFlavor::Array(c) => c.chan.capacity(),
            ReceiverFlavor::List(_) => None,
            ReceiverFlavor::Zero(_) | ReceiverFlavor::Never(_) => Some(0),
            ReceiverFlavor::At(..) | ReceiverFlavor::Tick(..) => Some(1),
        }
    }

    /// Whether both receivers belong to the same channel.
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        match (&self.flavor, &other.flavor) {
            (ReceiverFlavor::Array(a), ReceiverFlavor::Array(b)) => Arc::ptr_eq(a, b),
            (ReceiverFlavor::List(a), ReceiverFlavor::List(b)) => Arc::ptr_eq(a, b),
            (ReceiverFlavor::Zero(a), ReceiverFlavor::Zero(b)) => Arc::ptr_eq(a, b),
            (ReceiverFlavor::At(a, _), ReceiverFlavor::At(b, _)) => Arc::ptr_eq(a, b),
            (ReceiverFlavor::Tick(a, _), ReceiverFlavor::Tick(b, _)) => Arc::ptr_eq(a, b),
            (ReceiverFlavor::Never(_), ReceiverFlavor::Never(_)) => true,
            _ => false,
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        match &self.flavor {
            ReceiverFlavor::Array(c) => {
                if c.release_receiver() {
                    c.chan.disconnect_receivers();
                }
            }
            ReceiverFlavor::List(c) => {
                if c.release_receiver() {
                    c.chan.disconnect_receivers();
                }
            }
            ReceiverFlavor::Zero(c) => {
                if c.release_receiver() {
                    c.chan.disconnect();
                }
            }
            ReceiverFlavor::At(..) | ReceiverFlavor::Tick(..) | ReceiverFlavor::Never(_) => {}
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        let flavor = match &self.flavor {
            ReceiverFlavor::Array(c) => {
                c.acquire_receiver();
                ReceiverFlavor::Array(c.clone())
            }
            ReceiverFlavor::List(c) => {
                c.acquire_receiver();
                ReceiverFlavor::List(c.clone())
            }
            ReceiverFlavor::Zero(c) => {
                c.acquire_receiver();
                ReceiverFlavor::Zero(c.clone())
            }
            ReceiverFlavor::At(c, f) => ReceiverFlavor::At(c.clone(), *f),
            ReceiverFlavor::Tick(c, f) => ReceiverFlavor::Tick(c.clone(), *f),
            ReceiverFlavor::Never(_) => ReceiverFlavor::Never(never::Channel::new()),
        };
        Receiver { flavor }
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Receiver { .. }")
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;

    fn into_iter(self) -> Self::IntoIter {
        IntoIter { receiver: self }
    }
}

/// Blocking iterator over received messages; see [`Receiver::iter`].
pub struct Iter<'a, T> {
    receiver: &'a Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.receiver.recv_as(None)
    }
}

impl<T> FusedIterator for Iter<'_, T> {}

impl<T> fmt::Debug for Iter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Iter { .. }")
    }
}

/// Non-blocking iterator over ready messages; see [`Receiver::try_iter`].
pub struct TryIter<'a, T> {
    receiver: &'a Receiver<T>,
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.receiver.try_recv_as()
    }
}

impl<T> fmt::Debug for TryIter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("TryIter { .. }")
    }
}

/// Owning blocking iterator; see `IntoIterator for Receiver`.
pub struct IntoIter<T> {
    receiver: Receiver<T>,
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.receiver.recv_as(None)
    }
}

impl<T> FusedIterator for IntoIter<T> {}

impl<T> fmt::Debug for IntoIter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("IntoIter { .. }")
    }
}

// What `select` needs from the handles: the flavor's view, chosen by one `match`.

macro_rules! recv_handle {
    ($r:expr, $h:ident => $e:expr) => {
        match &$r.flavor {
            ReceiverFlavor::Array(c) => {
                let $h = array::RecvHandle(&c.chan);
                $e
            }
            ReceiverFlavor::List(c) => {
                let $h = list::RecvHandle(&c.chan);
                $e
            }
            ReceiverFlavor::Zero(c) => {
                let $h = zero::RecvHandle(&c.chan);
                $e
            }
            ReceiverFlavor::At(c, _) => {
                let $h = at::RecvHandle(c);
                $e
            }
            ReceiverFlavor::Tick(c, _) => {
                let $h = tick::RecvHandle(c);
                $e
            }
            ReceiverFlavor::Never(c) => {
                let $h = c;
                $e
            }
        }
    };
}

macro_rules! send_handle {
    ($s:expr, $h:ident => $e:expr) => {
        match &$s.flavor {
            SenderFlavor::Array(c) => {
                let $h = array::SendHandle(&c.chan);
                $e
            }
            SenderFlavor::List(c) => {
                let $h = list::SendHandle(&c.chan);
                $e
            }
            SenderFlavor::Zero(c) => {
                let $h = zero::SendHandle(&c.chan);
                $e
            }
        }
    };
}

impl<T> SelectHandle for Receiver<T> {
    fn try_select(&self, token: &mut Token) -> bool {
        recv_handle!(self, h => h.try_select(token))
    }

    fn deadline(&self) -> Option<Instant> {
        recv_handle!(self, h => h.deadline())
    }

    fn version(&self) -> u64 {
        recv_handle!(self, h => h.version())
    }

    unsafe fn register(&self, entry: &Entry) -> bool {
        // SAFETY: the caller's contract, passed on.
        recv_handle!(self, h => unsafe { h.register(entry) })
    }

    fn unregister(&self, entry: &Entry) {
        recv_handle!(self, h => h.unregister(entry))
    }

    fn accept(&self, token: &mut Token, entry: &Entry) -> bool {
        recv_handle!(self, h => h.accept(token, entry))
    }

    fn is_ready(&self) -> bool {
        recv_handle!(self, h => h.is_ready())
    }

    unsafe fn watch(&self, entry: &Entry) -> bool {
        // SAFETY: the caller's contract, passed on.
        recv_handle!(self, h => unsafe { h.watch(entry) })
    }

    fn unwatch(&self, entry: &Entry) {
        recv_handle!(self, h => h.unwatch(entry))
    }
}

impl<T> SelectHandle for Sender<T> {
    fn try_select(&self, token: &mut Token) -> bool {
        send_handle!(self, h => h.try_select(token))
    }

    fn deadline(&self) -> Option<Instant> {
        None
    }

    fn version(&self) -> u64 {
        send_handle!(self, h => h.version())
    }

    unsafe fn register(&self, entry: &Entry) -> bool {
        // SAFETY: the caller's contract, passed on.
        send_handle!(self, h => unsafe { h.register(entry) })
    }

    fn unregister(&self, entry: &Entry) {
        send_handle!(self, h => h.unregister(entry))
    }

    fn accept(&self, token: &mut Token, entry: &Entry) -> bool {
        send_handle!(self, h => h.accept(token, entry))
    }

    fn is_ready(&self) -> bool {
        send_handle!(self, h => h.is_ready())
    }

    unsafe fn watch(&self, entry: &Entry) -> bool {
        // SAFETY: the caller's contract, passed on.
        send_handle!(self, h => unsafe { h.watch(entry) })
    }

    fn unwatch(&self, entry: &Entry) {
        send_handle!(self, h => h.unwatch(entry))
    }
}

impl<T> Selectable for Receiver<T> {
    fn side(&self) -> usize {
        // All `never()` receivers share one address: they are one channel to
        // `same_channel`.
        static NEVER: u64 = 0;
        match &self.flavor {
            ReceiverFlavor::Array(c) => Arc::as_ptr(c) as usize,
            ReceiverFlavor::List(c) => Arc::as_ptr(c) as usize,
            ReceiverFlavor::Zero(c) => Arc::as_ptr(c) as usize,
            ReceiverFlavor::At(c, _) => Arc::as_ptr(c) as usize,
            ReceiverFlavor::Tick(c, _) => Arc::as_ptr(c) as usize,
            ReceiverFlavor::Never(_) => &NEVER as *const u64 as usize,
        }
    }

    unsafe fn abandon(&self, token: &mut Token) {
        // SAFETY: the caller's contract; the message, if any, is dropped here.
        drop(unsafe { read::<T, Option<T>>(self, token) });
    }
}

impl<T> Selectable for Sender<T> {
    fn side(&self) -> usize {
        let addr = match &self.flavor {
            SenderFlavor::Array(c) => Arc::as_ptr(c) as usize,
            SenderFlavor::List(c) => Arc::as_ptr(c) as usize,
            SenderFlavor::Zero(c) => Arc::as_ptr(c) as usize,
        };
        addr | 1
    }

    unsafe fn abandon(&self, token: &mut Token) {
        if !token.ptr.is_null() {
            eprintln!(
                "gogreen: fatal: a selected send was dropped without its message (complete \
                 every `SelectedOperation` with `send` on the channel that was selected)"
            );
            std::process::abort();
        }
    }
}

/// Completes a receive that `select` chose, into what its caller returns; "closed" if the
/// channel was.
///
/// # Safety
///
/// `token` was filled by `try_select` or `accept` of this receiver, and is used once.
pub(crate) unsafe fn read<T, R: Received<T>>(r: &Receiver<T>, token: &mut Token) -> R {
    match &r.flavor {
        // SAFETY: the caller's contract, passed on.
        ReceiverFlavor::Array(c) => unsafe { c.chan.read(token) },
        // SAFETY: as above.
        ReceiverFlavor::List(c) => unsafe { c.chan.read(token) },
        // SAFETY: as above.
        ReceiverFlavor::Zero(c) => unsafe { c.chan.read(token) },
        ReceiverFlavor::At(_, f) | ReceiverFlavor::Tick(_, f) => {
            timer_result(token.instant.take(), *f)
        }
        ReceiverFlavor::Never(_) => R::closed(),
    }
}

/// Completes a send that `select` chose, with the message at `msg`.
///
/// # Safety
///
/// `token` was filled by `try_select` or `accept` of this sender, and is used once; `msg`
/// is a message in (module docs).
pub(crate) unsafe fn write<T>(s: &Sender<T>, token: &mut Token, msg: *const T) -> Result<(), ()> {
    match &s.flavor {
        // SAFETY: the caller's contract, passed on.
        // SAFETY: the caller's contract, passed on.
        SenderFlavor::Array(c) => unsafe { c.chan.write(token, msg) },
        // SAFETY: as above.
        // SAFETY: the caller's contract, passed on.
        SenderFlavor::List(c) => unsafe { c.chan.write(token, msg) },
        // SAFETY: as above.
        // SAFETY: the caller's contract, passed on.
        SenderFlavor::Zero(c) => unsafe { c.chan.write(token, msg) },
    }
}
