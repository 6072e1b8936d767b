//! `tick(d)`: a channel that delivers an `Instant` every period, dropping missed ticks.
//!
//! Like `after`, readiness comes from the clock, not from a timer thread. The next
//! delivery time is one atomic word (nanoseconds since the channel was made), so
//! receivers race for a tick with a CAS.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::err::{RecvTimeoutError, TryRecvError};
use crate::flavors::sleep_until;
use crate::loom::AtomicU64;
use crate::park::WaitReason;
use crate::token::{SelectHandle, Token};
use crate::waiter::Entry;

/// "Never": a tick too far away to represent.
const NEVER: u64 = u64::MAX;

/// A periodic timer channel.
pub(crate) struct Channel {
    start: Instant,
    /// The next delivery, in nanoseconds since `start`, or `NEVER`.
    next: AtomicU64,
    period: u64,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(NEVER)
}

impl Channel {
    pub(crate) fn new(period: Duration) -> Self {
        let p = nanos(period);
        Channel {
            start: Instant::now(),
            next: AtomicU64::new(p),
            period: p,
        }
    }

    fn instant(&self, n: u64) -> Option<Instant> {
        if n == NEVER {
            None
        } else {
            self.start.checked_add(Duration::from_nanos(n))
        }
    }

    pub(crate) fn try_recv(&self) -> Result<Instant, TryRecvError> {
        // Relaxed: the tick carries no data but its time; the CAS picks one winner.
        let mut next = self.next.load(Ordering::Relaxed);
        loop {
            let now = nanos(self.start.elapsed());
            if next == NEVER || now < next {
                return Err(TryRecvError::Empty);
            }
            // Missed ticks are dropped: the next one is a period from now at the earliest.
            let after = now.max(next).saturating_add(self.period);
            match self
                .next
                .compare_exchange(next, after, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return self.instant(next).ok_or(TryRecvError::Empty),
                Err(n) => next = n,
            }
        }
    }

    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<Instant, RecvTimeoutError> {
        loop {
            match self.try_recv() {
                Ok(t) => return Ok(t),
                Err(_) => {
                    let next = self.instant(self.next.load(Ordering::Relaxed));
                    let until = match (next, deadline) {
                        (Some(n), Some(d)) => Some(n.min(d)),
                        (n, d) => n.or(d),
                    };
                    if let Some(d) = deadline
                        && Instant::now() >= d
                    {
                        return Err(RecvTimeoutError::Timeout);
                    }
                    sleep_until(until, WaitReason::Timer);
                }
            }
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        let next = self.next.load(Ordering::Relaxed);
        next == NEVER || nanos(self.start.elapsed()) < next
    }

    pub(crate) fn len(&self) -> usize {
        if self.is_empty() { 0 } else { 1 }
    }
}

/// `select`'s view of a `tick` channel.
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
        self.0.instant(self.0.next.load(Ordering::Relaxed))
    }

    fn version(&self) -> u64 {
        // Moves when a tick is taken; the clock is checked apart (`deadline`).
        self.0.next.load(Ordering::SeqCst)
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
