//! `TcpListener`: std's, for green threads — `accept` parks only the green thread until
//! a connection comes; on a plain OS thread it blocks the thread.

use super::fd::{PollFd, would_block};
use super::options::Options;
use super::raw::raw_fd_traits;
use super::resolve::each_addr;
use super::sys;
use super::tcp_stream::TcpStream;
use crate::netpoll::desc::Dir;
use std::fmt;
use std::io;
use std::net::{self, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, OwnedFd};

/// A TCP socket listening for connections, shaped like [`std::net::TcpListener`].
///
/// The accepted streams are [`TcpStream`]s of this module: one green thread per
/// connection is the intended shape of a server.
///
/// ```no_run
/// use gogreen::net::TcpListener;
/// use std::io::{Read, Write};
///
/// gogreen::run(|| {
///     let listener = TcpListener::bind("127.0.0.1:7878").unwrap();
///     for conn in listener.incoming() {
///         let mut conn = conn.unwrap();
///         gogreen::spawn(move || {
///             let mut buf = [0u8; 512];
///             while let Ok(n @ 1..) = conn.read(&mut buf) {
///                 if conn.write_all(&buf[..n]).is_err() {
///                     break;
///                 }
///             }
///         });
///     }
/// });
/// ```
pub struct TcpListener {
    fd: PollFd<net::TcpListener>,
    opts: Options,
}

impl TcpListener {
    /// Binds to `addr` (the first address it resolves to that can be bound) and
    /// listens. Port 0 asks the system for a free port: see [`local_addr`](Self::local_addr).
    ///
    /// # Errors
    ///
    /// `AddrInUse`, `AddrNotAvailable`, `PermissionDenied` (a port below 1024), or
    /// `InvalidInput` if `addr` does not resolve.
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        each_addr(addr, |a| {
            let fd = sys::tcp_listen(a).map_err(|e| explain_bind(a, e))?;
            Ok(TcpListener::from_fd(fd))
        })
    }

    fn from_fd(fd: OwnedFd) -> TcpListener {
        TcpListener {
            fd: PollFd::owned(net::TcpListener::from(fd)),
            opts: Options::new(),
        }
    }

    /// Waits for a connection and accepts it.
    ///
    /// # Errors
    ///
    /// The system's: `EMFILE` when the process has too many open files (a server
    /// usually logs it and accepts again), `ECONNABORTED`, ...
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let raw = self.fd.as_raw_fd();
        let accept = |_: &net::TcpListener| sys::accept(raw);
        let (fd, addr) = if self.opts.nonblocking() {
            accept(self.fd.get_ref())?
        } else {
            self.fd.io(Dir::Read, None, would_block, accept)?
        };
        Ok((TcpStream::from_fd(fd), sys::rust_addr(&addr)?))
    }

    /// An endless iterator of accepted connections (`accept` in a loop).
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.get_ref().local_addr()
    }

    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.fd.get_ref().set_ttl(ttl)
    }

    pub fn ttl(&self) -> io::Result<u32> {
        self.fd.get_ref().ttl()
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
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        Ok(TcpListener {
            fd: PollFd::owned(self.fd.get_ref().try_clone()?),
            opts: self.opts.share(),
        })
    }

    /// Takes over a std listener; its non-blocking mode carries over.
    ///
    /// # Errors
    ///
    /// If non-blocking mode cannot be read or set.
    pub fn from_std(listener: net::TcpListener) -> io::Result<TcpListener> {
        let opts = Options::new();
        opts.set_nonblocking(sys::is_nonblocking(listener.as_raw_fd())?);
        sys::set_nonblocking(listener.as_raw_fd(), true)?;
        Ok(TcpListener {
            fd: PollFd::owned(listener),
            opts,
        })
    }

    /// Gives the socket back as a std listener, in this listener's blocking mode.
    ///
    /// # Errors
    ///
    /// If the mode cannot be set.
    pub fn into_std(self) -> io::Result<net::TcpListener> {
        let TcpListener { fd, opts } = self;
        let listener = fd.into_inner();
        listener.set_nonblocking(opts.nonblocking())?;
        Ok(listener)
    }
}

fn explain_bind(addr: &SocketAddr, e: io::Error) -> io::Error {
    let hint = match e.kind() {
        io::ErrorKind::AddrInUse => {
            "another socket listens there: stop it, or pick another port (0 asks the system for a free one)"
        }
        io::ErrorKind::AddrNotAvailable => {
            "no interface of this machine has that address: use 0.0.0.0 or one of its addresses"
        }
        io::ErrorKind::PermissionDenied => {
            "ports below 1024 need privileges: pick a port of 1024 or more"
        }
        _ => return e,
    };
    io::Error::new(e.kind(), format!("cannot bind {addr}: {e}; {hint}"))
}

/// The connections a [`TcpListener`] accepts, one per `next`; never ends.
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}

raw_fd_traits!(TcpListener, "a listening TCP socket");

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TcpListener");
        if let Ok(a) = self.local_addr() {
            d.field("addr", &a);
        }
        d.field("fd", &self.as_raw_fd()).finish()
    }
}
