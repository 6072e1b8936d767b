//! Go's channels and `select` for Rust, for OS threads and green threads alike.
//!
//! - [`bounded`]`(n)`: a ring buffer of `n` messages; [`bounded`]`(0)`: a rendezvous,
//!   where a send completes only when a receiver takes the message;
//! - [`unbounded`]: a linked list of blocks, sends never block;
//! - [`after`], [`at`], [`tick`], [`never()`]: timer and never-ready receivers for `select!`;
//! - [`select!`], [`select_biased!`] and the dynamic [`Select`].
//!
//! Semantics are Go's in Rust clothes: a send on a closed channel returns the message in
//! its error instead of panicking; a receive drains what is buffered, then fails; dropping
//! the last `Sender` or calling [`Sender::close`] closes the channel and wakes everyone.
//!
//! The crate knows nothing of the scheduler: every blocking operation waits through the
//! [`park`] seam, which a green-thread runtime plugs into (only the green thread parks),
//! and which falls back to the OS thread (or to loom's threads under `cfg(loom)`).
//! `docs/channels.md` (in the gogreen repository) describes how a send meets a receive,
//! how select wins, and the seam.

mod backoff;
mod channel;
mod counter;
mod err;
mod flavors;
mod loom;
pub mod park;
mod select;
mod select_macro;
mod token;
mod waiter;
mod waitlist;

pub use crate::channel::{
    IntoIter, Iter, Receiver, Sender, TryIter, after, at, bounded, never, tick, unbounded,
};
pub use crate::err::{
    ReadyTimeoutError, RecvError, RecvTimeoutError, SelectTimeoutError, SendError,
    SendTimeoutError, TryReadyError, TryRecvError, TrySelectError, TrySendError,
};
pub use crate::select::{Select, SelectedOperation};

/// What the `select!` macro expands to; not a public API.
#[doc(hidden)]
pub mod internal {
    pub use crate::select::{Handle, discard, is_none, select, select_or_default};
}
