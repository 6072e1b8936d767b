//! `PollFd`: an fd in non-blocking mode, registered with the netpoller on first need, and
//! the loop every `gogreen::net` call runs — try the system call; if it would block,
//! wait for readiness and try again. In a green thread the wait parks the G (steps
//! R1–R6 of `netpoll/slot.rs`) and its OS thread runs other Gs; on a plain OS thread it
//! blocks that thread in `poll(2)`.
//!
//! Registration waits for the first wait in a green thread: a socket used only by OS
//! threads never touches the runtime, and one made on an OS thread (a listener bound in
//! `main`) works in green threads all the same. Registering late loses nothing: the
//! kernel reports an fd that is ready when it is added.

use super::sys;
use crate::loom::spin_wait;
use crate::netpoll::desc::{Desc, Dir};
use crate::netpoll::wait::{Waited, wait};
use crate::sched::{in_green_thread, runtime};
use std::fmt;
use std::io::{self, Read, Write};
use std::mem::ManuallyDrop;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// `desc` while one green thread registers the fd.
const REGISTERING: usize = 1;

/// An fd — a pipe, an eventfd, another crate's socket — that green threads can wait on
/// without holding their OS thread.
///
/// `PollFd::new` puts the fd in non-blocking mode. [`read_with`](PollFd::read_with)
/// and [`write_with`](PollFd::write_with) run a non-blocking call until it stops
/// reporting `WouldBlock`, waiting for readiness in between; [`readable`](PollFd::readable)
/// and [`writable`](PollFd::writable) only wait. In a green thread the wait parks the
/// green thread; on a plain OS thread it blocks the thread in `poll(2)`.
///
/// ```
/// use gogreen::net::PollFd;
/// use std::io::{Read, Write};
/// use std::os::unix::net::UnixStream;
///
/// let (a, b) = UnixStream::pair().unwrap();
/// let reader = PollFd::new(a).unwrap();
/// let got = gogreen::spawn(move || {
///     let mut buf = [0u8; 5];
///     // Parks this green thread until the bytes come.
///     (&reader).read_exact(&mut buf).unwrap();
///     buf
/// });
/// gogreen::sleep(std::time::Duration::from_millis(10));
/// (&b).write_all(b"hello").unwrap();
/// assert_eq!(&got.join().unwrap(), b"hello");
/// ```
pub struct PollFd<T: AsRawFd> {
    inner: ManuallyDrop<T>,
    /// The poll descriptor (a `&'static Desc`, as an address), `REGISTERING`, or 0 until
    /// the first wait in a green thread.
    desc: AtomicUsize,
    /// Per direction: 1 + the epoch read before the short transfer that left the stream
    /// drained, or 0 (`netpoll/slot.rs`, "Drained streams"). Only `transfer` sets it.
    drained: [AtomicU32; 2],
}

impl<T: AsRawFd> PollFd<T> {
    /// Watches `inner`'s fd for readiness, putting it in non-blocking mode.
    ///
    /// # Errors
    ///
    /// If the fd is not open. (A file the kernel cannot poll, such as a regular file,
    /// is refused at the first wait, with an error saying so.)
    pub fn new(inner: T) -> io::Result<Self> {
        let fd = inner.as_raw_fd();
        sys::set_nonblocking(fd, true).map_err(|e| match e.raw_os_error() {
            Some(libc::EBADF) => sys::bad_fd(fd),
            _ => e,
        })?;
        Ok(Self::owned(inner))
    }

    /// Wraps an fd that is non-blocking already: the sockets of this module.
    pub(crate) fn owned(inner: T) -> Self {
        PollFd {
            inner: ManuallyDrop::new(inner),
            desc: AtomicUsize::new(0),
            drained: [AtomicU32::new(0), AtomicU32::new(0)],
        }
    }

    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Stops watching the fd and returns it, still in non-blocking mode.
    pub fn into_inner(self) -> T {
        let mut this = ManuallyDrop::new(self);
        this.deregister();
        // SAFETY: `this` is never dropped, so `inner` is taken once.
        unsafe { ManuallyDrop::take(&mut this.inner) }
    }

    /// Runs `op` until it does not fail with `WouldBlock`, waiting until the fd is
    /// readable between tries. Gives up with `TimedOut` after `timeout`.
    pub fn read_with<R>(
        &self,
        timeout: Option<Duration>,
        op: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        self.io(Dir::Read, deadline(timeout), timed_out, op)
    }

    /// As [`read_with`](PollFd::read_with), waiting until the fd is writable.
    pub fn write_with<R>(
        &self,
        timeout: Option<Duration>,
        op: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        self.io(Dir::Write, deadline(timeout), timed_out, op)
    }

    /// Waits until the fd is readable (or has hung up, or has an error), at most
    /// `timeout`; `TimedOut` then.
    pub fn readable(&self, timeout: Option<Duration>) -> io::Result<()> {
        let fd = self.as_raw_fd();
        self.read_with(timeout, |_| ready(fd, Dir::Read))
    }

    /// Waits until the fd is writable (or has an error), at most `timeout`.
    pub fn writable(&self, timeout: Option<Duration>) -> io::Result<()> {
        let fd = self.as_raw_fd();
        self.write_with(timeout, |_| ready(fd, Dir::Write))
    }

    /// Runs `op` until it does not fail with `WouldBlock`, waiting for `dir` readiness
    /// in between; after `deadline`, fails with `timed_out()`.
    pub(crate) fn io<R>(
        &self,
        dir: Dir,
        deadline: Option<Instant>,
        timed_out: fn() -> io::Error,
        op: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        self.run(dir, deadline, timed_out, op, |_| false)
    }

    /// [`io`](PollFd::io) for a read or write of `len` bytes on a stream: a transfer
    /// shorter than asked left the stream drained (or its send buffer full), so the next
    /// one waits for a report before it tries (`netpoll/slot.rs`, "Drained streams").
    pub(crate) fn transfer(
        &self,
        dir: Dir,
        deadline: Option<Instant>,
        len: usize,
        op: impl FnMut(&T) -> io::Result<usize>,
    ) -> io::Result<usize> {
        self.run(dir, deadline, would_block, op, |&n| n > 0 && n < len)
    }

    /// Waits until a connect in progress on this socket ends: `Ok` once connected, the
    /// connection's error (`ConnectionRefused`, ...), or `TimedOut` after `deadline`.
    pub(crate) fn finish_connect(&self, deadline: Option<Instant>) -> io::Result<()> {
        let fd = self.as_raw_fd();
        // Writable means the connection is made, or failed: SO_ERROR says which.
        self.io(Dir::Write, deadline, connect_timed_out, |_| {
            ready(fd, Dir::Write)?;
            match sys::take_error(fd)? {
                Some(e) => Err(e),
                None => Ok(()),
            }
        })
    }

    fn run<R>(
        &self,
        dir: Dir,
        deadline: Option<Instant>,
        timed_out: fn() -> io::Error,
        mut op: impl FnMut(&T) -> io::Result<R>,
        drains: impl Fn(&R) -> bool,
    ) -> io::Result<R> {
        if !in_green_thread() {
            return self.run_on_thread(dir, deadline, timed_out, op);
        }
        let drained = &self.drained[dir as usize];
        loop {
            let desc = self.desc();
            // R1.
            let seen = desc.map(|d| d.slot(dir).seen());
            let epoch = seen.map_or(0, |s| s.epoch);
            // `drained` is Relaxed: it is a fact about the socket this handle saw, not
            // a hand-off of data; a stale value only makes a reader try its call.
            let skip = seen.is_some_and(|s| {
                !s.hung_up && drained.load(Ordering::Relaxed) == epoch.wrapping_add(1)
            });
            if !skip {
                // R2.
                match op(&self.inner) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Ok(v) => {
                        if desc.is_some() && drains(&v) {
                            drained.store(epoch.wrapping_add(1), Ordering::Relaxed);
                        }
                        return Ok(v);
                    }
                    Err(e) => return Err(e),
                }
            }
            // A descriptor registered now starts at epoch 0, and every report for it
            // comes after this call would have blocked: the 0 read above stands.
            let desc = match desc {
                Some(d) => d,
                None => self.register()?,
            };
            match wait(desc.slot(dir), epoch, deadline) {
                Waited::Retry => {}
                Waited::TimedOut => return Err(timed_out()),
            }
        }
    }

    /// The loop on a plain OS thread: `poll(2)` between tries.
    fn run_on_thread<R>(
        &self,
        dir: Dir,
        deadline: Option<Instant>,
        timed_out: fn() -> io::Error,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        loop {
            match op(&self.inner) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
            let timeout = match deadline {
                None => None,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => return Err(timed_out()),
                },
            };
            sys::poll(self.as_raw_fd(), dir, timeout)?;
        }
    }

    fn desc(&self) -> Option<&'static Desc> {
        // Acquire pairs with the Release in `register`.
        let addr = self.desc.load(Ordering::Acquire);
        // SAFETY: above REGISTERING, it is the address of a descriptor, never freed.
        (addr > REGISTERING).then(|| unsafe { &*(addr as *const Desc) })
    }

    /// Registers the fd with the poller, once, whichever green thread comes first.
    #[cold]
    fn register(&self) -> io::Result<&'static Desc> {
        let mut step = 0;
        loop {
            match self
                .desc
                .compare_exchange(0, REGISTERING, Ordering::Acquire, Ordering::Acquire)
            {
                Ok(_) => break,
                // The registering G is running on another M (registration never parks):
                // a system call's wait.
                Err(REGISTERING) => spin_wait(&mut step),
                // SAFETY: as in `desc`.
                Err(addr) => return Ok(unsafe { &*(addr as *const Desc) }),
            }
        }
        let fd = self.as_raw_fd();
        match runtime().netpoll.register(fd) {
            Ok(desc) => {
                // Release: whoever reads the address sees the descriptor's new generation.
                self.desc
                    .store(desc as *const Desc as usize, Ordering::Release);
                Ok(desc)
            }
            Err(e) => {
                self.desc.store(0, Ordering::Release);
                Err(explain_register(fd, e))
            }
        }
    }

    /// Removes the fd from the poller and lets its descriptor go (if it has one).
    fn deregister(&self) {
        let addr = self.desc.swap(0, Ordering::AcqRel);
        if addr > REGISTERING {
            // SAFETY: as in `desc`; a descriptor exists, so the runtime runs.
            let desc = unsafe { &*(addr as *const Desc) };
            runtime().netpoll.deregister(self.as_raw_fd(), desc);
        }
    }
}

impl<T: AsRawFd> Drop for PollFd<T> {
    fn drop(&mut self) {
        self.deregister();
        // SAFETY: dropped once, here; `into_inner` skips this Drop.
        unsafe { ManuallyDrop::drop(&mut self.inner) };
    }
}

impl<T: AsRawFd> AsRawFd for PollFd<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl<T: AsRawFd + AsFd> AsFd for PollFd<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl<T: AsRawFd + fmt::Debug> fmt::Debug for PollFd<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PollFd")
            .field("inner", &*self.inner)
            .field("registered", &self.desc().is_some())
            .finish()
    }
}

impl<T: AsRawFd> Read for PollFd<T>
where
    for<'a> &'a T: Read,
{
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl<T: AsRawFd> Read for &PollFd<T>
where
    for<'a> &'a T: Read,
{
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_with(None, |mut inner| inner.read(buf))
    }
}

impl<T: AsRawFd> Write for PollFd<T>
where
    for<'a> &'a T: Write,
{
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&*self).flush()
    }
}

impl<T: AsRawFd> Write for &PollFd<T>
where
    for<'a> &'a T: Write,
{
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_with(None, |mut inner| inner.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_with(None, |mut inner| inner.flush())
    }
}

/// `WouldBlock` unless `fd` is ready for `dir` now (level, through `poll(2)`).
fn ready(fd: RawFd, dir: Dir) -> io::Result<()> {
    if sys::poll(fd, dir, Some(Duration::ZERO))? {
        Ok(())
    } else {
        Err(io::ErrorKind::WouldBlock.into())
    }
}

fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(|d| Instant::now().checked_add(d))
}

fn timed_out() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        "gogreen::net: the wait for readiness timed out",
    )
}

/// What `connect_timeout` returns when its timeout passes, as std's.
fn connect_timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "connection timed out")
}

/// What a socket read or write returns when its timeout passes: what std's does on
/// Linux (`EAGAIN`, kind `WouldBlock`).
pub(crate) fn would_block() -> io::Error {
    io::Error::from_raw_os_error(libc::EAGAIN)
}

fn explain_register(fd: RawFd, e: io::Error) -> io::Error {
    match e.raw_os_error() {
        Some(libc::EBADF) => sys::bad_fd(fd),
        Some(libc::EPERM) => io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "gogreen::net: fd {fd} cannot be waited on: the kernel does not poll this kind of \
                 file (a regular file or a directory is always ready: read it with std::fs)"
            ),
        ),
        Some(libc::EEXIST) => io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "gogreen::net: fd {fd} is watched already (by another PollFd or socket): wrap \
                 each fd once, and share that"
            ),
        ),
        Some(libc::ENOSPC) => io::Error::new(
            io::ErrorKind::OutOfMemory,
            "gogreen::net: the kernel's limit of watched fds is reached: raise \
             /proc/sys/fs/epoll/max_user_watches",
        ),
        _ => e,
    }
}
