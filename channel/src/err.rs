//! Errors of channel operations; the send errors hand back the message they could not deliver.
//!
//! `Debug` of the send errors does not print the message, so it does not require
//! `T: Debug` (the convention of `std::sync::mpsc` and crossbeam-channel); `Display` says
//! what happened in Go's words.

use std::error::Error;
use std::fmt;

/// A send on a closed channel: the channel was closed with `Sender::close`, or every
/// `Sender` or every `Receiver` was dropped. The message comes back.
#[derive(PartialEq, Eq, Clone, Copy)]
pub struct SendError<T>(pub T);

/// Why [`Sender::try_send`](crate::Sender::try_send) failed; the message comes back.
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum TrySendError<T> {
    /// The buffer is full (for a rendezvous channel: no receiver is waiting).
    Full(T),
    /// The channel is closed.
    Disconnected(T),
}

/// Why [`Sender::send_timeout`](crate::Sender::send_timeout) failed; the message comes back.
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum SendTimeoutError<T> {
    /// The deadline passed before the message could be sent.
    Timeout(T),
    /// The channel is closed.
    Disconnected(T),
}

/// A receive on a channel that is closed and empty.
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub struct RecvError;

/// Why [`Receiver::try_recv`](crate::Receiver::try_recv) failed.
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub enum TryRecvError {
    /// No message is ready now, and the channel is open.
    Empty,
    /// The channel is closed and empty.
    Disconnected,
}

/// Why [`Receiver::recv_timeout`](crate::Receiver::recv_timeout) failed.
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub enum RecvTimeoutError {
    /// The deadline passed before a message arrived.
    Timeout,
    /// The channel is closed and empty.
    Disconnected,
}

/// [`Select::try_select`](crate::Select::try_select): no operation was ready.
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub struct TrySelectError;

/// [`Select::select_timeout`](crate::Select::select_timeout): no operation became ready in time.
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub struct SelectTimeoutError;

/// [`Select::try_ready`](crate::Select::try_ready): no operation was ready.
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub struct TryReadyError;

/// [`Select::ready_timeout`](crate::Select::ready_timeout): no operation became ready in time.
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub struct ReadyTimeoutError;

impl<T> SendError<T> {
    /// The message that was not sent.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("SendError { .. }")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("send on closed channel")
    }
}

impl<T> Error for SendError<T> {}

impl<T> TrySendError<T> {
    /// The message that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Disconnected(v) => v,
        }
    }

    /// Whether the send failed because the channel was full.
    pub fn is_full(&self) -> bool {
        matches!(self, TrySendError::Full(_))
    }

    /// Whether the send failed because the channel was closed.
    pub fn is_disconnected(&self) -> bool {
        matches!(self, TrySendError::Disconnected(_))
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.pad("Full(..)"),
            TrySendError::Disconnected(_) => f.pad("Disconnected(..)"),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.pad("send on full channel"),
            TrySendError::Disconnected(_) => f.pad("send on closed channel"),
        }
    }
}

impl<T> Error for TrySendError<T> {}

impl<T> From<SendError<T>> for TrySendError<T> {
    fn from(err: SendError<T>) -> Self {
        TrySendError::Disconnected(err.0)
    }
}

impl<T> SendTimeoutError<T> {
    /// The message that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            SendTimeoutError::Timeout(v) | SendTimeoutError::Disconnected(v) => v,
        }
    }

    /// Whether the send timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, SendTimeoutError::Timeout(_))
    }

    /// Whether the send failed because the channel was closed.
    pub fn is_disconnected(&self) -> bool {
        matches!(self, SendTimeoutError::Disconnected(_))
    }
}

impl<T> fmt::Debug for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => f.pad("Timeout(..)"),
            SendTimeoutError::Disconnected(_) => f.pad("Disconnected(..)"),
        }
    }
}

impl<T> fmt::Display for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => f.pad("timed out waiting on send"),
            SendTimeoutError::Disconnected(_) => f.pad("send on closed channel"),
        }
    }
}

impl<T> Error for SendTimeoutError<T> {}

impl<T> From<SendError<T>> for SendTimeoutError<T> {
    fn from(err: SendError<T>) -> Self {
        SendTimeoutError::Disconnected(err.0)
    }
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("receive on closed and empty channel")
    }
}

impl Error for RecvError {}

impl TryRecvError {
    /// Whether no message was ready.
    pub fn is_empty(&self) -> bool {
        matches!(self, TryRecvError::Empty)
    }

    /// Whether the channel was closed and empty.
    pub fn is_disconnected(&self) -> bool {
        matches!(self, TryRecvError::Disconnected)
    }
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.pad("receive on empty channel"),
            TryRecvError::Disconnected => f.pad("receive on closed and empty channel"),
        }
    }
}

impl Error for TryRecvError {}

impl From<RecvError> for TryRecvError {
    fn from(_: RecvError) -> Self {
        TryRecvError::Disconnected
    }
}

impl RecvTimeoutError {
    /// Whether the receive timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, RecvTimeoutError::Timeout)
    }

    /// Whether the channel was closed and empty.
    pub fn is_disconnected(&self) -> bool {
        matches!(self, RecvTimeoutError::Disconnected)
    }
}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvTimeoutError::Timeout => f.pad("timed out waiting on receive"),
            RecvTimeoutError::Disconnected => f.pad("receive on closed and empty channel"),
        }
    }
}

impl Error for RecvTimeoutError {}

impl From<RecvError> for RecvTimeoutError {
    fn from(_: RecvError) -> Self {
        RecvTimeoutError::Disconnected
    }
}

impl fmt::Display for TrySelectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("all operations in select would block")
    }
}

impl Error for TrySelectError {}

impl fmt::Display for SelectTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("timed out waiting on select")
    }
}

impl Error for SelectTimeoutError {}

impl fmt::Display for TryReadyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("all operations in select would block")
    }
}

impl Error for TryReadyError {}

impl fmt::Display for ReadyTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("timed out waiting on ready")
    }
}

impl Error for ReadyTimeoutError {}

/// What a receive returns: the message, or one of the two ways it fails, in the type its
/// caller returns (`Result<T, RecvError>`, `Result<T, TryRecvError>`, ...,
/// `Option<T>` for iterators).
///
/// The flavors build that value themselves, with the message moved straight from where
/// it lies into it: converting one `Result` into another (or into an `Option`) on the way
/// up would copy the message once more per frame (see "Stack" in `docs/channels.md`).
pub(crate) trait Received<T> {
    fn msg(msg: T) -> Self;
    /// Nothing ready in time: `Empty`, `Timeout`.
    fn not_ready() -> Self;
    /// Closed and drained.
    fn closed() -> Self;
}

impl<T> Received<T> for Result<T, RecvError> {
    #[inline(always)]
    fn msg(msg: T) -> Self {
        Ok(msg)
    }
    #[inline(always)]
    fn not_ready() -> Self {
        Err(RecvError)
    }
    #[inline(always)]
    fn closed() -> Self {
        Err(RecvError)
    }
}

impl<T> Received<T> for Result<T, TryRecvError> {
    #[inline(always)]
    fn msg(msg: T) -> Self {
        Ok(msg)
    }
    #[inline(always)]
    fn not_ready() -> Self {
        Err(TryRecvError::Empty)
    }
    #[inline(always)]
    fn closed() -> Self {
        Err(TryRecvError::Disconnected)
    }
}

impl<T> Received<T> for Result<T, RecvTimeoutError> {
    #[inline(always)]
    fn msg(msg: T) -> Self {
        Ok(msg)
    }
    #[inline(always)]
    fn not_ready() -> Self {
        Err(RecvTimeoutError::Timeout)
    }
    #[inline(always)]
    fn closed() -> Self {
        Err(RecvTimeoutError::Disconnected)
    }
}

impl<T> Received<T> for Option<T> {
    #[inline(always)]
    fn msg(msg: T) -> Self {
        Some(msg)
    }
    #[inline(always)]
    fn not_ready() -> Self {
        None
    }
    #[inline(always)]
    fn closed() -> Self {
        None
    }
}
