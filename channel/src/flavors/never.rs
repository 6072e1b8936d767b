//! `never()`: a channel that never delivers — Go's nil channel, for disabling a `select` arm.

use std::marker::PhantomData;
use std::time::Instant;

use crate::err::RecvTimeoutError;
use crate::flavors::sleep_until;
use crate::park::WaitReason;
use crate::token::{SelectHandle, Token};
use crate::waiter::Entry;

/// A channel without messages.
pub(crate) struct Channel<T> {
    _marker: PhantomData<fn() -> T>,
}

impl<T> Channel<T> {
    pub(crate) fn new() -> Self {
        Channel {
            _marker: PhantomData,
        }
    }

    /// Sleeps until `deadline`, or forever, and never delivers.
    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<(), RecvTimeoutError> {
        sleep_until(deadline, WaitReason::Never);
        Err(RecvTimeoutError::Timeout)
    }
}

impl<T> SelectHandle for Channel<T> {
    fn try_select(&self, _token: &mut Token) -> bool {
        false
    }

    fn deadline(&self) -> Option<Instant> {
        None
    }

    fn version(&self) -> u64 {
        // Never ready.
        0
    }

    unsafe fn register(&self, _entry: &Entry) -> bool {
        false
    }

    fn unregister(&self, _entry: &Entry) {}

    fn accept(&self, _token: &mut Token, _entry: &Entry) -> bool {
        false
    }

    fn is_ready(&self) -> bool {
        false
    }

    unsafe fn watch(&self, _entry: &Entry) -> bool {
        false
    }

    fn unwatch(&self, _entry: &Entry) {}
}
