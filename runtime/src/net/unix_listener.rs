//! `UnixListener`: std's, for green threads — `accept` parks only the green thread until
//! a connection comes; on a plain OS thread it blocks the thread.

use super::fd::{PollFd, would_block};
use super::options::Options;
use super::raw::raw_fd_traits;
use super::sys;
use super::unix_stream::UnixStream;
use crate::netpoll::desc::Dir;
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::{self, SocketAddr};
use std::path::Path;

/// A Unix-domain socket listening for connections, shaped like
/// [`std::os::unix::net::UnixListener`].
pub struct UnixListener {
    fd: PollFd<net::UnixListener>,
    opts: Options,
}

impl UnixListener {
    /// A listener over a listening, non-blocking socket.
    fn from_fd(fd: OwnedFd) -> UnixListener {
        UnixListener {
            fd: PollFd::owned(net::UnixListener::from(fd)),
            opts: Options::new(),
        }
    }

    /// Binds to `path` and listens.
    ///
    /// # Errors
    ///
    /// `AddrInUse` if something exists at `path` already (remove a stale socket file
    /// first), `NotFound` if its directory does not exist.
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        let path = path.as_ref();
        let listener = net::UnixListener::bind(path).map_err(|e| {
            let hint = match e.kind() {
                io::ErrorKind::AddrInUse => {
                    "; a file is there already: remove it (a socket file left by an earlier run) or pick another path"
                }
                io::ErrorKind::NotFound => "; its directory does not exist",
                _ => "",
            };
            io::Error::new(e.kind(), format!("cannot bind {path:?}: {e}{hint}"))
        })?;
        listener.set_nonblocking(true)?;
        Ok(UnixListener {
            fd: PollFd::owned(listener),
            opts: Options::new(),
        })
    }

    /// Waits for a connection and accepts it.
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let raw = self.fd.as_raw_fd();
        let accept = |_: &net::UnixListener| sys::accept_unix(raw);
        let fd = if self.opts.nonblocking() {
            accept(self.fd.get_ref())?
        } else {
            self.fd.io(Dir::Read, None, would_block, accept)?
        };
        let stream = UnixStream::from_fd(fd);
        let addr = stream.peer_addr()?;
        Ok((stream, addr))
    }

    /// An endless iterator of accepted connections (`accept` in a loop).
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.get_ref().local_addr()
    }

    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.fd.get_ref().take_error()
    }

    /// In non-blocking mode `accept` fails with `WouldBlock` instead of waiting.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.opts.set_nonblocking(nonblocking);
        Ok(())
    }

    /// A new handle on the same socket.
    pub fn try_clone(&self) -> io::Result<UnixListener> {
        Ok(UnixListener {
            fd: PollFd::owned(self.fd.get_ref().try_clone()?),
            opts: self.opts.share(),
        })
    }

    /// Takes over a std listener; its non-blocking mode carries over.
    ///
    /// # Errors
    ///
    /// If non-blocking mode cannot be read or set.
    pub fn from_std(listener: net::UnixListener) -> io::Result<UnixListener> {
        let opts = Options::new();
        opts.set_nonblocking(sys::is_nonblocking(listener.as_raw_fd())?);
        sys::set_nonblocking(listener.as_raw_fd(), true)?;
        Ok(UnixListener {
            fd: PollFd::owned(listener),
            opts,
        })
    }

    /// Gives the socket back as a std listener, in this listener's blocking mode.
    ///
    /// # Errors
    ///
    /// If the mode cannot be set.
    pub fn into_std(self) -> io::Result<net::UnixListener> {
        let UnixListener { fd, opts } = self;
        let listener = fd.into_inner();
        listener.set_nonblocking(opts.nonblocking())?;
        Ok(listener)
    }
}

/// The connections a [`UnixListener`] accepts, one per `next`; never ends.
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a UnixListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<UnixStream>;

    fn next(&mut self) -> Option<io::Result<UnixStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}

raw_fd_traits!(UnixListener, "a listening Unix socket");

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener")
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}
