//! `after(d)`: a channel that delivers one `Instant` once the deadline has passed.
//!
//! There is no timer thread: readiness is computed from the clock, and a blocked receiver
//! parks with the deadline. Under `select`, the deadline joins the select's own.

use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::err::{RecvTimeoutError, TryRecvError};
use crate::flavors::sleep_until;
use crate::loom::AtomicBool;
use crate::park::WaitReason;
use crate::token::{SelectHandle, Token};
use crate::waiter::Entry;

/// A one-shot timer channel.
pub(crate) struct Channel {
    /// When the message becomes available; `None` if that is too far to represent.
    delivery_time: Option<Instant>,
    /// Whether a receiver took the message. Swapped once by the receiver that wins it.
    received: AtomicBool,
}

impl Channel {
    pub(crate) fn new(delivery_time: Option<Instant>) -> Self {
        Channel {
            delivery_time,
            received: AtomicBool::new(false),
        }
    }

    pub(crate) fn try_recv(&self) -> Result<Instant, TryRecvError> {
        // Relaxed: the message is a copy of `delivery_time`; only the swap decides who wins.
        if !self.received.load(Ordering::Relaxed)
            && let Some(t) = self.delivery_time
            && Instant::now() >= t
            && !self.received.swap(true, Ordering::Relaxed)
        {
            return Ok(t);
        }
        Err(TryRecvError::Empty)
    }

    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<Instant, RecvTimeoutError> {
        if !self.received.load(Ordering::Relaxed)
            && let Some(t) = self.delivery_time
        {
            if deadline.is_some_and(|d| d < t) {
                sleep_until(deadline, WaitReason::Timer);
                return Err(RecvTimeoutError::Timeout);
            }
            sleep_until(Some(t), WaitReason::Timer);
            if !self.received.swap(true, Ordering::Relaxed) {
                return Ok(t);
            }
        }
        // Delivered to someone else: nothing more will come.
        sleep_until(deadline, WaitReason::Timer);
        Err(RecvTimeoutError::Timeout)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.received.load(Ordering::Relaxed)
            || self.delivery_time.is_none_or(|t| Instant::now() < t)
    }

    pub(crate) fn len(&self) -> usize {
        if self.is_empty() { 0 } else { 1 }
    }
}

/// `select`'s view of an `after` channel.
pub(crate) struct RecvHandle<'a>(pub(crate) &'a Channel);

impl SelectHandle for RecvHandle<'_> {
    fn try_select(&self, token: &mut Token) -> bool {
        match self.0.try_recv() {
            Ok(t) => {
                token.instant = Some(t);
                true
            }
            Err(_) => false,
        }
    }

    fn deadline(&self) -> Option<Instant> {
        if self.0.received.load(Ordering::Relaxed) {
            None
        } else {
            self.0.delivery_time
        }
    }

    fn version(&self) -> u64 {
        // Changes when the message is taken; the clock is checked apart (`deadline`).
        u64::from(self.0.received.load(Ordering::SeqCst))
    }

    unsafe fn register(&self, _entry: &Entry) -> bool {
        self.is_ready()
    }

    fn unregister(&self, _entry: &Entry) {}

    fn accept(&self, token: &mut Token, _entry: &Entry) -> bool {
        self.try_select(token)
    }

    fn is_ready(&self) -> bool {
        !self.0.is_empty()
    }

    unsafe fn watch(&self, _entry: &Entry) -> bool {
        self.is_ready()
    }

    fn unwatch(&self, _entry: &Entry) {}
}
