//! How an idle M (or sysmon) sleeps and is woken: a futex with a wake-up token.
//!
//! Not `std::thread::park`: user code running in a green thread on this OS thread could
//! call that and eat the M's token. This parker belongs to the runtime alone.

use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

const EMPTY: i32 = 0;
const NOTIFIED: i32 = 1;
const PARKED: i32 = -1;

pub(crate) struct Parker {
    state: AtomicI32,
}

impl Parker {
    pub(crate) const fn new() -> Self {
        Parker {
            state: AtomicI32::new(EMPTY),
        }
    }

    /// Sleeps until `unpark` (or a token left by an earlier one) or the deadline.
    /// May return spuriously; callers re-check their condition.
    pub(crate) fn park(&self, deadline: Option<Instant>) {
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
            futex_wait(&self.state, PARKED, timeout);
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

    /// Wakes the parked thread, or leaves a token for its next `park`.
    pub(crate) fn unpark(&self) {
        // Release: what the waker wrote is visible after the parked thread wakes.
        if self.state.swap(NOTIFIED, Ordering::Release) == PARKED {
            futex_wake(&self.state);
        }
    }
}

fn futex_wait(word: &AtomicI32, expected: i32, timeout: Option<Duration>) {
    let ts = timeout.map(|d| libc::timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: FUTEX_WAIT reads the aligned word and sleeps while it equals `expected`;
    // the timespec outlives the call.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            ts_ptr,
        );
    }
}

fn futex_wake(word: &AtomicI32) {
    // SAFETY: FUTEX_WAKE only wakes waiters on this word.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            1,
        );
    }
}
