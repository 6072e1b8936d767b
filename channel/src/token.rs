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
