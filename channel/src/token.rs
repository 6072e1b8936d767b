//! What the select engine asks of a channel side ([`SelectHandle`]), and the [`Token`] in
//! which a chosen operation carries what it needs from its start to its completion.
//!
//! A leaf of the crate: the flavors implement the trait, `channel.rs` dispatches it over
//! the flavors, and `select.rs` drives it; this file imports none of them, so the imports
//! of the crate point one way (flavors → token ← select → channel → flavors).

use std::mem::MaybeUninit;
use std::time::Instant;

use crate::park::Unparker;
use crate::waiter::{ENTRY_SLOT_WORDS, Entry};

/// What a chosen operation needs to complete: filled by `try_select` or `accept`, consumed
/// by the flavor's `read` or `write`.
pub(crate) struct Token {
    /// Array: the claimed slot. List: the block. Rendezvous: the packet. Null: closed.
    pub(crate) ptr: *const u8,
    /// Array: the slot's next stamp. List: the offset in the block.
    pub(crate) stamp: usize,
    /// Timers: the delivered instant.
    pub(crate) instant: Option<Instant>,
    /// Rendezvous: the selected peer, to wake once the packet is done.
    pub(crate) unparker: Option<Unparker>,
    /// Rendezvous: a `select` receive arm's packet, moved out of its entry (which dies
    /// with the select's frame) when the arm is accepted; `ptr` is then
    /// [`Token::IN_SLOT`].
    pub(crate) slot: MaybeUninit<[usize; ENTRY_SLOT_WORDS]>,
}

impl Token {
    /// `ptr` when the packet is in the token's own `slot`.
    pub(crate) const IN_SLOT: *const u8 = std::ptr::dangling::<u8>();
}

impl Default for Token {
    #[inline]
    fn default() -> Self {
        Token {
            ptr: std::ptr::null(),
            stamp: 0,
            instant: None,
            unparker: None,
            slot: MaybeUninit::uninit(),
        }
    }
}

/// One side of a channel, as `select` sees it. Each flavor implements it for its sending
/// and receiving side.
pub(crate) trait SelectHandle {
    /// Tries to start the operation without blocking; on success `token` holds what the
    /// flavor's `read`/`write` needs to complete it. A closed channel counts as ready.
    fn try_select(&self, token: &mut Token) -> bool;

    /// When the operation becomes ready by itself (timers).
    fn deadline(&self) -> Option<Instant>;

    /// A number that changes whenever something other than the clock may have made the
    /// operation ready: a `SeqCst` read of the position the other side moves (and that
    /// carries the closed mark), a count of registrations, a timer's receive. Operations
    /// with a `deadline` become ready with the clock too, which the version does not see.
    ///
    /// A non-blocking select reads it before it tries each operation and again after
    /// (`select::Versions`): if no operation was ready at its try and no number changed
    /// (and no timer is ready now), there was a moment at which none was ready.
    fn version(&self) -> u64;

    /// Registers `entry` as a blocked operation; returns whether the operation is ready
    /// already (the caller then aborts its wait).
    ///
    /// # Safety
    ///
    /// `entry` stays alive and in place until `unregister(entry)` has returned.
    unsafe fn register(&self, entry: &Entry) -> bool;

    /// Undoes `register` (the entry may already have been unlinked by a waker).
    fn unregister(&self, entry: &Entry);

    /// The waiter was selected through `entry`: completes the selection into `token`, or
    /// returns `false` if the operation slipped away and the select must go round again.
    fn accept(&self, token: &mut Token, entry: &Entry) -> bool;

    /// Whether the operation could proceed now.
    fn is_ready(&self) -> bool;

    /// Registers `entry` to be told of readiness only; returns whether ready already.
    ///
    /// # Safety
    ///
    /// `entry` stays alive and in place until `unwatch(entry)` has returned.
    unsafe fn watch(&self, entry: &Entry) -> bool;

    /// Undoes `watch`.
    fn unwatch(&self, entry: &Entry);
}

/// A `Sender` or `Receiver` as a select holds it: a [`SelectHandle`], plus what a
/// `SelectedOperation` needs to check and to end the operation.
pub(crate) trait Selectable: SelectHandle {
    /// The channel and direction: the channel's address, with the low bit set for a send.
    ///
    /// The same for every handle of one channel and side, so a clone of the added handle
    /// completes the operation as well. Unique among live channels: a select or a
    /// `SelectedOperation` borrows its handles, which keep their channels alive, so no
    /// other channel, of any message type, has the same address meanwhile. (Channels are
    /// at least word-aligned: the low bit is free.)
    fn side(&self) -> usize;

    /// Ends an operation that was selected into `token` but whose `SelectedOperation` is
    /// dropped uncompleted. A receive completes and drops its message (a claimed slot must
    /// be released, a rendezvous peer is waiting). A send has no message for the slot it
    /// claimed or the peer that waits for it, which would wait forever (or, at the
    /// channel's drop, a never-written message would be read): unless the channel turned
    /// out closed (nothing claimed), that is fatal.
    ///
    /// # Safety
    ///
    /// `token` was filled by this handle's `try_select` or `accept`, and is used once.
    unsafe fn abandon(&self, token: &mut Token);
}
