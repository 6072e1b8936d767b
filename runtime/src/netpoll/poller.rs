//! The netpoller: what the runtime holds — the epoll instance, the poll descriptors, how
//! many green threads wait — and a poll, which turns the kernel's reports into runnable
//! green threads.
//!
//! Who polls (the scheduler's side, `sched/worker.rs` and `sched/sysmon.rs`), much as
//! Go's `findrunnable` does, but without its poll that does not wait by an M whose P
//! ran dry (that M goes to sleep, and becomes the one below if nobody is; see
//! `worker::find_runnable` for why):
//!
//! - the idle M that watches the timers (`sched/sleeper.rs`, step W5) blocks in
//!   `epoll_wait` until the earliest timer, and is interrupted through the eventfd when
//!   it must wake early (an earlier timer, a P handed to it);
//! - sysmon looks if nobody has for 10 ms (every P busy with long queues).
//!
//! Each hands back the Gs it readied as one batch, to queue on a run queue at once.
//! This file is a leaf under the runtime: it knows G headers, not the scheduler.

use super::cache::Descs;
use super::desc::{Desc, Dir, Waiter, split_token};
use super::epoll::{self, Epoll, Event};
use crate::sched::g::G;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Reports taken per `epoll_wait`.
const EVENTS: usize = 128;

/// `waiters` and `last_poll` are hints for who should poll, read and written Relaxed:
/// no data hangs on them, and the M blocked in `epoll_wait` — which reads neither —
/// catches any report that a stale hint lets the others skip.
pub(crate) struct Poller {
    epoll: Epoll,
    descs: Descs,
    /// Gs listed in a slot (Go's `netpollWaiters`). A hint for who should poll: with
    /// none, sysmon does not poll, and the Ms and sysmon sleep as in a program without
    /// I/O (`sched/worker.rs`, `sched/sysmon.rs`). It may lag a G that is just listing
    /// itself; the M blocked in `epoll_wait`, which does not read it, picks such a G's
    /// report up.
    waiters: AtomicUsize,
    /// When a poll last ended, in nanoseconds of `clock`, or 0 while an M is blocked in
    /// `epoll_wait` (Go's `sched.lastpoll`): then sysmon need not look.
    last_poll: AtomicU64,
    /// Gs that reports made runnable, since the start (`gogreen::stats`).
    woken: AtomicU64,
    start: Instant,
}

impl Poller {
    pub(crate) fn new() -> io::Result<Self> {
        Ok(Poller {
            epoll: Epoll::new()?,
            descs: Descs::new(),
            waiters: AtomicUsize::new(0),
            last_poll: AtomicU64::new(1),
            woken: AtomicU64::new(0),
            start: Instant::now(),
        })
    }

    fn clock(&self) -> u64 {
        // Never 0, which means "blocked".
        (self.start.elapsed().as_nanos() as u64).max(1)
    }

    /// Registers `fd`, which must be non-blocking, for reports in both directions.
    pub(crate) fn register(&self, fd: RawFd) -> io::Result<&'static Desc> {
        let desc = self.descs.alloc()?;
        if let Err(e) = self.epoll.add(fd, desc.token()) {
            self.descs.free(desc);
            return Err(e);
        }
        Ok(desc)
    }

    /// Lets `fd` go: its registration is removed, before the fd is closed (or handed
    /// back to its owner), and a report still on its way is ignored by generation.
    ///
    /// Not left to the close: the kernel drops a registration only with the last
    /// reference to the file, and a `try_clone`d socket (a `dup`) keeps the file open —
    /// its reports would keep coming, under a stale generation, for nothing.
    pub(crate) fn deregister(&self, fd: RawFd, desc: &'static Desc) {
        // An error means the fd was not registered or not open: nothing to remove.
        let _ = self.epoll.delete(fd);
        self.descs.free(desc);
    }

    /// Whether any G waits on I/O (a snapshot).
    #[inline]
    pub(crate) fn has_waiters(&self) -> bool {
        self.waiters.load(Ordering::Relaxed) != 0
    }

    /// Whether an M is blocked in `epoll_wait` now (a snapshot): the next report
    /// reaches the Ms through that one without delay.
    #[inline]
    pub(crate) fn is_waited_on(&self) -> bool {
        self.last_poll.load(Ordering::Relaxed) == 0
    }

    /// For sysmon: whether Gs wait on I/O and nobody has polled for `after`; if so,
    /// the caller is now the one who polls.
    pub(crate) fn claim_overdue(&self, after: Duration) -> bool {
        if self.waiters.load(Ordering::Relaxed) == 0 {
            return false;
        }
        let last = self.last_poll.load(Ordering::Relaxed);
        let now = self.clock();
        last != 0
            && now.saturating_sub(last) >= after.as_nanos() as u64
            && self
                .last_poll
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// Looks for reports without waiting; the Gs they make runnable are appended to
    /// `out`, each held by the caller, who **must** queue it.
    pub(crate) fn poll_now(&self, out: &mut Vec<&'static G>) {
        self.poll(Some(Duration::ZERO), false, out);
    }

    /// Blocks in `epoll_wait` until a report comes, `timeout` passes (`None`: no
    /// timeout), or [`Poller::interrupt`]; the Gs readied are appended to `out`, as
    /// for [`Poller::poll_now`]. One M at a time: the timer sleeper.
    pub(crate) fn poll_blocking(&self, timeout: Option<Duration>, out: &mut Vec<&'static G>) {
        self.last_poll.store(0, Ordering::Relaxed);
        self.poll(timeout, true, out);
    }

    fn poll(&self, timeout: Option<Duration>, blocking: bool, out: &mut Vec<&'static G>) {
        let mut events = [MaybeUninit::<Event>::uninit(); EVENTS];
        let events = self.epoll.wait(&mut events, timeout);
        let n = events.len();
        let now = self.clock();
        if blocking {
            self.last_poll.store(now, Ordering::Relaxed);
        } else {
            // Not over a blocked M's 0: that one is still waiting.
            let _ = self
                .last_poll
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
                    (last != 0).then_some(now)
                });
        }
        if n == 0 {
            return;
        }
        out.reserve(n);
        let before = out.len();
        let mut wake = |w: Waiter| {
            if w.g.state.unpark(w.generation) {
                out.push(w.g);
            }
        };
        for ev in events {
            // Copies: the struct is packed.
            let (token, bits) = (ev.u64, ev.events);
            if token == epoll::INTERRUPT {
                // Only a blocking poll clears it: the interrupt was meant for the M
                // blocked in `epoll_wait`, which may not be us (see `epoll.rs`).
                if blocking {
                    self.epoll.clear_interrupt();
                }
                continue;
            }
            let (index, generation) = split_token(token);
            let Some(desc) = self.descs.get(index) else {
                continue;
            };
            if bits & epoll::READ_EVENTS != 0 {
                let hup = bits & epoll::READ_HUP != 0;
                desc.slot(Dir::Read).report(generation, hup, &mut wake);
            }
            if bits & epoll::WRITE_EVENTS != 0 {
                let hup = bits & epoll::WRITE_HUP != 0;
                desc.slot(Dir::Write).report(generation, hup, &mut wake);
            }
        }
        self.woken
            .fetch_add((out.len() - before) as u64, Ordering::Relaxed);
    }

    /// Gs that I/O reports made runnable, since the start (a snapshot).
    pub(crate) fn woken(&self) -> u64 {
        self.woken.load(Ordering::Relaxed)
    }

    /// Gs waiting on I/O (a snapshot; see `waiters`).
    pub(crate) fn waiters(&self) -> usize {
        self.waiters.load(Ordering::Relaxed)
    }

    /// Makes the M blocked in [`Poller::poll_blocking`] return (or the next one, if it
    /// has not blocked yet).
    pub(crate) fn interrupt(&self) {
        self.epoll.interrupt();
    }

    /// A G listed itself in a slot.
    #[inline]
    pub(crate) fn waiter_added(&self) {
        self.waiters.fetch_add(1, Ordering::Relaxed);
    }

    /// A G left a slot's list (woken or timed out).
    #[inline]
    pub(crate) fn waiter_removed(&self) {
        self.waiters.fetch_sub(1, Ordering::Relaxed);
    }
}
