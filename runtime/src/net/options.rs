//! The settings a socket's clones share that std keeps in the kernel and gogreen keeps
//! itself: read and write timeouts, and non-blocking mode as the user asked for it.
//!
//! std's timeouts are `SO_RCVTIMEO` and `SO_SNDTIMEO`, which the kernel applies to
//! blocking calls; gogreen's sockets never block in the kernel, so it applies them
//! itself, as deadlines of its waits. Likewise `O_NONBLOCK` is always set underneath,
//! and `set_nonblocking(true)` only means "return `WouldBlock` instead of waiting".
//! std's `try_clone` duplicates the fd, and options set on one handle then apply to the
//! other; here the clones share one [`Shared`] block for the same effect.
//!
//! The block is made on first need — a setting, or a clone — so a socket that never
//! uses either (most of a server's) costs one null pointer.

use super::sys;
use std::io;
use std::os::fd::AsRawFd;
use std::ptr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A handle's view of its socket's settings.
pub(crate) struct Options {
    /// From `Arc::into_raw`, or null: no timeouts, blocking.
    shared: AtomicPtr<Shared>,
}

/// Settings only: no data is handed over through them, so every access is Relaxed.
#[derive(Default)]
struct Shared {
    /// Nanoseconds; 0 = none.
    read: AtomicU64,
    write: AtomicU64,
    nonblocking: AtomicBool,
}

impl Options {
    pub(crate) const fn new() -> Self {
        Options {
            shared: AtomicPtr::new(ptr::null_mut()),
        }
    }

    fn get(&self) -> Option<&Shared> {
        // Acquire pairs with the Release that installed the block.
        // SAFETY: a non-null pointer is an Arc this handle holds a count of.
        unsafe { self.shared.load(Ordering::Acquire).as_ref() }
    }

    fn shared(&self) -> &Shared {
        if let Some(s) = self.get() {
            return s;
        }
        let fresh = Arc::into_raw(Arc::new(Shared::default())) as *mut Shared;
        match self.shared.compare_exchange(
            ptr::null_mut(),
            fresh,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            // SAFETY: just installed; this handle holds its count.
            Ok(_) => unsafe { &*fresh },
            Err(other) => {
                // SAFETY: `fresh` was never shared; `other` is the installed block.
                unsafe {
                    drop(Arc::from_raw(fresh));
                    &*other
                }
            }
        }
    }

    /// A handle on the same settings, for a clone of the socket.
    pub(crate) fn share(&self) -> Options {
        let s: *const Shared = self.shared();
        // SAFETY: `s` came from `Arc::into_raw` and this handle holds a count of it.
        unsafe { Arc::increment_strong_count(s) };
        Options {
            shared: AtomicPtr::new(s as *mut Shared),
        }
    }

    pub(crate) fn read_timeout(&self) -> Option<Duration> {
        self.get()
            .and_then(|s| from_ns(s.read.load(Ordering::Relaxed)))
    }

    pub(crate) fn write_timeout(&self) -> Option<Duration> {
        self.get()
            .and_then(|s| from_ns(s.write.load(Ordering::Relaxed)))
    }

    /// As std: `Some(Duration::ZERO)` is refused.
    pub(crate) fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        let ns = to_ns(t)?;
        if ns != 0 || self.get().is_some() {
            self.shared().read.store(ns, Ordering::Relaxed);
        }
        Ok(())
    }

    pub(crate) fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        let ns = to_ns(t)?;
        if ns != 0 || self.get().is_some() {
            self.shared().write.store(ns, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Whether the user asked for non-blocking mode.
    #[inline]
    pub(crate) fn nonblocking(&self) -> bool {
        self.get()
            .is_some_and(|s| s.nonblocking.load(Ordering::Relaxed))
    }

    pub(crate) fn set_nonblocking(&self, on: bool) {
        if on || self.get().is_some() {
            self.shared().nonblocking.store(on, Ordering::Relaxed);
        }
    }

    /// The deadline of a read that starts now.
    #[inline]
    pub(crate) fn read_deadline(&self) -> Option<Instant> {
        deadline(self.read_timeout())
    }

    #[inline]
    pub(crate) fn write_deadline(&self) -> Option<Instant> {
        deadline(self.write_timeout())
    }
}

/// A std socket whose timeouts live in the kernel: what `from_std` takes over from it
/// and `into_std` gives back ([`Options::take_from`], [`Options::give_back`]).
pub(crate) trait StdSocket: AsRawFd {
    fn read_timeout(&self) -> io::Result<Option<Duration>>;
    fn write_timeout(&self) -> io::Result<Option<Duration>>;
    fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()>;
    fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()>;
    fn set_nonblocking(&self, on: bool) -> io::Result<()>;
}

/// `StdSocket` through each type's own (inherent) methods of the same names.
macro_rules! std_socket {
    ($($t:ty),*) => {$(
        impl StdSocket for $t {
            fn read_timeout(&self) -> io::Result<Option<Duration>> {
                <$t>::read_timeout(self)
            }
            fn write_timeout(&self) -> io::Result<Option<Duration>> {
                <$t>::write_timeout(self)
            }
            fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
                <$t>::set_read_timeout(self, t)
            }
            fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
                <$t>::set_write_timeout(self, t)
            }
            fn set_nonblocking(&self, on: bool) -> io::Result<()> {
                <$t>::set_nonblocking(self, on)
            }
        }
    )*};
}

std_socket!(
    std::net::TcpStream,
    std::net::UdpSocket,
    std::os::unix::net::UnixStream
);

impl Options {
    /// The settings of a std socket about to be wrapped (`from_std`): its kernel
    /// timeouts and its mode become this block's, and the fd is made non-blocking
    /// underneath. (The kernel timeouts stay set; a non-blocking fd never waits for
    /// them.)
    pub(crate) fn take_from(socket: &impl StdSocket) -> io::Result<Options> {
        let opts = Options::new();
        opts.set_read_timeout(socket.read_timeout()?)?;
        opts.set_write_timeout(socket.write_timeout()?)?;
        opts.set_nonblocking(sys::is_nonblocking(socket.as_raw_fd())?);
        sys::set_nonblocking(socket.as_raw_fd(), true)?;
        Ok(opts)
    }

    /// Hands these settings back to the std socket unwrapped from them (`into_std`).
    pub(crate) fn give_back(&self, socket: &impl StdSocket) -> io::Result<()> {
        socket.set_read_timeout(self.read_timeout())?;
        socket.set_write_timeout(self.write_timeout())?;
        socket.set_nonblocking(self.nonblocking())
    }
}

impl Drop for Options {
    fn drop(&mut self) {
        let s = *self.shared.get_mut();
        if !s.is_null() {
            // SAFETY: this handle's count, given back once.
            unsafe { drop(Arc::from_raw(s)) };
        }
    }
}

fn from_ns(ns: u64) -> Option<Duration> {
    (ns != 0).then(|| Duration::from_nanos(ns))
}

fn to_ns(t: Option<Duration>) -> io::Result<u64> {
    match t {
        None => Ok(0),
        Some(d) if d.is_zero() => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "cannot set a 0 duration timeout",
        )),
        // Longer than 584 years is as good as none, but still a timeout.
        Some(d) => Ok(d.as_nanos().min(u128::from(u64::MAX)) as u64),
    }
}

fn deadline(t: Option<Duration>) -> Option<Instant> {
    t.and_then(|d| Instant::now().checked_add(d))
}
