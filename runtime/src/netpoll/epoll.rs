//! The epoll instance, and the eventfd that breaks a thread out of `epoll_wait`.
//!
//! Every fd is registered once, edge-triggered, for both directions (`EPOLLIN |
//! EPOLLOUT | EPOLLRDHUP | EPOLLET`): a report per change, whoever waits. The eventfd is
//! registered level-triggered: a thread that only peeks at the reports (a poll with a
//! zero timeout) leaves it unread, so the thread blocked in `epoll_wait` that it was
//! written for still sees it; only a blocking poll reads it (as Go does).

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The token of the eventfd's reports; descriptor tokens never take this value.
pub(crate) const INTERRUPT: u64 = u64::MAX;

/// The events every fd is registered for.
const INTEREST: u32 = (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32;

/// Report bits that concern a reader, and a writer. A hang-up or an error wakes both.
pub(crate) const READ_EVENTS: u32 =
    (libc::EPOLLIN | libc::EPOLLPRI | libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) as u32;
pub(crate) const WRITE_EVENTS: u32 = (libc::EPOLLOUT | libc::EPOLLHUP | libc::EPOLLERR) as u32;
/// Report bits after which a read, and a write, never block again (end of stream, an
/// error): `HUNG_UP` of `slot.rs`.
pub(crate) const READ_HUP: u32 = (libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) as u32;
pub(crate) const WRITE_HUP: u32 = (libc::EPOLLHUP | libc::EPOLLERR) as u32;

pub(crate) type Event = libc::epoll_event;

pub(crate) struct Epoll {
    epfd: RawFd,
    eventfd: RawFd,
    /// Whether the kernel has `epoll_pwait2` (Linux ≥ 5.11), whose timeout is in
    /// nanoseconds; `epoll_wait` counts milliseconds, too coarse for the timers.
    pwait2: AtomicBool,
}

impl Epoll {
    pub(crate) fn new() -> io::Result<Self> {
        // SAFETY: plain system calls; the fds are checked and owned by the result.
        unsafe {
            let epfd = libc::epoll_create1(libc::EPOLL_CLOEXEC);
            if epfd < 0 {
                return Err(io::Error::last_os_error());
            }
            let eventfd = libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK);
            if eventfd < 0 {
                let e = io::Error::last_os_error();
                libc::close(epfd);
                return Err(e);
            }
            let epoll = Epoll {
                epfd,
                eventfd,
                pwait2: AtomicBool::new(true),
            };
            let mut ev = libc::epoll_event {
                events: libc::EPOLLIN as u32,
                u64: INTERRUPT,
            };
            if libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, eventfd, &mut ev) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(epoll)
        }
    }

    /// Registers `fd` for both directions, edge-triggered; its reports carry `token`.
    pub(crate) fn add(&self, fd: RawFd, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: INTEREST,
            u64: token,
        };
        // SAFETY: `ev` is a valid event for the duration of the call.
        if unsafe { libc::epoll_ctl(self.epfd, libc::EPOLL_CTL_ADD, fd, &mut ev) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Removes `fd`'s registration (for an fd that stays open after the poller lets it go).
    pub(crate) fn delete(&self, fd: RawFd) -> io::Result<()> {
        let mut ev = libc::epoll_event { events: 0, u64: 0 };
        // SAFETY: as above.
        if unsafe { libc::epoll_ctl(self.epfd, libc::EPOLL_CTL_DEL, fd, &mut ev) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits for reports: `timeout` of `None` blocks until one comes, zero only looks.
    /// Returns the reports, the first entries of `events` (none on a timeout or a
    /// signal).
    ///
    /// `events` need not be initialized: zeroing the poller's 128 entries (1.5 KiB) was a
    /// `memset` on every poll — one per five messages or so under an echo load — for
    /// entries the kernel overwrites or nobody reads.
    pub(crate) fn wait<'a>(
        &self,
        events: &'a mut [MaybeUninit<Event>],
        timeout: Option<Duration>,
    ) -> &'a [Event] {
        let n = self.wait_raw(events, timeout);
        // SAFETY: the kernel wrote the first `n` entries (`n <= events.len()`, the
        // `maxevents` it was given); `MaybeUninit<Event>` has `Event`'s layout.
        unsafe { std::slice::from_raw_parts(events.as_ptr().cast::<Event>(), n) }
    }

    /// [`Epoll::wait`]: how many entries of `events` the kernel filled.
    fn wait_raw(&self, events: &mut [MaybeUninit<Event>], timeout: Option<Duration>) -> usize {
        let max = events.len().min(i32::MAX as usize) as libc::c_int;
        if self.pwait2.load(Ordering::Relaxed) {
            let ts = timeout.map(|d| libc::timespec {
                tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
                tv_nsec: d.subsec_nanos() as libc::c_long,
            });
            let ts_ptr = ts
                .as_ref()
                .map_or(std::ptr::null(), |t| t as *const libc::timespec);
            // SAFETY: `events` is writable for `max` entries; `ts_ptr` is null or valid;
            // no signal mask is passed.
            let n = unsafe {
                libc::syscall(
                    libc::SYS_epoll_pwait2,
                    self.epfd,
                    events.as_mut_ptr().cast::<Event>(),
                    max,
                    ts_ptr,
                    std::ptr::null::<libc::sigset_t>(),
                    0usize,
                )
            };
            if n >= 0 {
                return n as usize;
            }
            match io::Error::last_os_error().raw_os_error() {
                Some(libc::ENOSYS) => self.pwait2.store(false, Ordering::Relaxed),
                Some(libc::EINTR) => return 0,
                _ => fatal_wait(),
            }
        }
        // Milliseconds, rounded up so that a timer is never run early.
        let ms = match timeout {
            None => -1,
            Some(d) => d.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as libc::c_int,
        };
        // SAFETY: `events` is writable for `max` entries.
        let n =
            unsafe { libc::epoll_wait(self.epfd, events.as_mut_ptr().cast::<Event>(), max, ms) };
        if n >= 0 {
            return n as usize;
        }
        if io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            fatal_wait();
        }
        0
    }

    /// Makes a blocked (or the next) `epoll_wait` return, with an `INTERRUPT` report.
    pub(crate) fn interrupt(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid buffer. It cannot block (EFD_NONBLOCK); it
        // fails only when the counter is near overflow, and then the fd is readable
        // anyway.
        unsafe { libc::write(self.eventfd, (&one as *const u64).cast(), 8) };
    }

    /// Clears the eventfd, after a blocking wait reported `INTERRUPT`.
    pub(crate) fn clear_interrupt(&self) {
        let mut buf: u64 = 0;
        // SAFETY: reads 8 bytes into a valid buffer; EAGAIN (already clear) is fine.
        unsafe { libc::read(self.eventfd, (&mut buf as *mut u64).cast(), 8) };
    }
}

#[cold]
fn fatal_wait() -> ! {
    crate::fatal!("epoll_wait failed: {}", io::Error::last_os_error())
}
