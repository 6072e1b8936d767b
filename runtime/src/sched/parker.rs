//! How an idle M (or sysmon) sleeps and is woken: a futex with a wake-up token — or, for
//! the idle M that watches the timers and the poller, `epoll_wait`, which an unpark
//! interrupts.
//!
//! Not `std::thread::park`: user code running in a green thread on this OS thread could
//! call that and eat the M's token. This parker belongs to the runtime alone.
//!
//! # Sleeping in `epoll_wait`
//!
//! The state word is `EMPTY`, `NOTIFIED` (a token), `PARKED` (asleep on the futex) or
//! `POLLING` (asleep in `epoll_wait`, or about to be). [`Parker::park_polling`] moves
//! `EMPTY` → `POLLING` before it polls; [`Parker::unpark`] swaps in `NOTIFIED` and, if it
//! took `POLLING` out, tells its caller to interrupt the poll (an eventfd write, which
//! makes a blocked `epoll_wait` return and a later one not block). Both are
//! read-modify-writes of one word, so either the unpark comes first — the poller finds
//! the token and does not poll — or the poller does, and the unpark interrupts it: no
//! wake-up is lost, and each `POLLING` episode is interrupted at most once, however
//! many unparks come. `loom-tests/tests/netpoll_sleep.rs` models it with the
//! timer-sleeper hand-shake (`sleeper.rs`).

use crate::loom::{AtomicI32, Ordering};
use std::time::Instant;

const EMPTY: i32 = 0;
const NOTIFIED: i32 = 1;
const PARKED: i32 = -1;
const POLLING: i32 = -2;

pub struct Parker {
    state: AtomicI32,
    /// What the futex is under loom: a wait that a notify ends (or a permit left
    /// before it), so the models run this file's code.
    #[cfg(loom)]
    futex: loom::sync::Notify,
}

impl Parker {
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Parker {
            state: AtomicI32::new(EMPTY),
        }
    }

    #[cfg(loom)]
    pub fn new() -> Self {
        Parker {
            state: AtomicI32::new(EMPTY),
            futex: loom::sync::Notify::new(),
        }
    }

    /// Sleeps until `unpark` (or a token left by an earlier one) or the deadline.
    /// May return spuriously; callers re-check their condition.
    pub fn park(&self, deadline: Option<Instant>) {
        // Acquire pairs with unpark's Release: the waker's writes are visible.
        if self.state.fetch_sub(1, Ordering::Acquire) == NOTIFIED {
            return; // NOTIFIED -> EMPTY: consumed the token.
        }
        // EMPTY -> PARKED.
        loop {
            let timeout = match deadline {
                None => None,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => break,
                },
            };
            self.futex_wait(PARKED, timeout);
            if self
                .state
                .compare_exchange(NOTIFIED, EMPTY, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
        // Timed out: PARKED -> EMPTY. A token that arrived at the last moment is
        // consumed by this return all the same (the caller re-checks its condition).
        self.state.swap(EMPTY, Ordering::Acquire);
    }

    /// Sleeps by calling `poll`, which blocks in `epoll_wait`; an unpark meanwhile
    /// tells its caller to interrupt it (see the module docs). Returns without calling
    /// `poll` if a token is there already. Either way the token, if any, is consumed:
    /// callers re-check their condition.
    pub fn park_polling(&self, poll: impl FnOnce()) {
        // Acquire (both ways) pairs with unpark's Release.
        if self
            .state
            .compare_exchange(EMPTY, POLLING, Ordering::Acquire, Ordering::Acquire)
            .is_err()
        {
            // NOTIFIED: the owner never finds PARKED or POLLING here.
            self.state.swap(EMPTY, Ordering::Acquire);
            return;
        }
        poll();
        // POLLING, or NOTIFIED if an unpark interrupted us (or came too late to).
        self.state.swap(EMPTY, Ordering::Acquire);
    }

    /// Wakes the parked thread, or leaves a token for its next `park`. Returns `true`
    /// if the thread sleeps in `epoll_wait` (`park_polling`): the caller **must** then
    /// interrupt the poll.
    #[must_use]
    pub fn unpark(&self) -> bool {
        // Release: what the waker wrote is visible after the parked thread wakes.
        match self.state.swap(NOTIFIED, Ordering::Release) {
            PARKED => {
                self.futex_wake();
                false
            }
            POLLING => true,
            _ => false,
        }
    }

    #[cfg(not(loom))]
    fn futex_wait(&self, expected: i32, timeout: Option<std::time::Duration>) {
        let ts = timeout.map(|d| libc::timespec {
            tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
            tv_nsec: d.subsec_nanos() as libc::c_long,
        });
        let ts_ptr = ts
            .as_ref()
            .map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: FUTEX_WAIT reads the aligned word and sleeps while it equals
        // `expected`; the timespec outlives the call.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.state.as_ptr(),
                libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                expected,
                ts_ptr,
            );
        }
    }

    #[cfg(not(loom))]
    fn futex_wake(&self) {
        // SAFETY: FUTEX_WAKE only wakes waiters on this word.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.state.as_ptr(),
                libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                1,
            );
        }
    }

    /// Under loom: sleep while the word holds `expected`. A notify that came first left
    /// a permit (the wake is not lost); a stale permit makes a spurious return, which
    /// `park` tolerates. Deadlines are not modelled: a timed park waits for a notify.
    #[cfg(loom)]
    fn futex_wait(&self, expected: i32, _timeout: Option<std::time::Duration>) {
        if self.state.load(Ordering::SeqCst) == expected {
            self.futex.wait();
        }
    }

    #[cfg(loom)]
    fn futex_wake(&self) {
        self.futex.notify();
    }
}

impl Default for Parker {
    fn default() -> Self {
        Parker::new()
    }
}
