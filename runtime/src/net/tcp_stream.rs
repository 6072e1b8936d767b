//! `TcpStream`: std's, for green threads — a read or write that would block parks only
//! the green thread; on a plain OS thread it blocks the thread, as std's does.

use super::fd::{PollFd, would_block};
use super::options::Options;
use super::raw::raw_fd_traits;
use super::resolve::each_addr;
use super::sys;
use crate::netpoll::desc::Dir;
use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::{self, Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// A TCP connection, shaped like [`std::net::TcpStream`]: porting is an import change.
///
/// Inside a green thread, a call that would block parks the green thread until the
/// socket is ready (its OS thread runs other green threads meanwhile); on a plain OS
/// thread it blocks the thread. Read and write timeouts fail with the error kind std
/// gives on Linux, `WouldBlock`.
///
/// Like std's, and unlike Go's `net`, a new connection keeps Nagle's algorithm on: a
/// server that writes small replies without reading in between (a chat room's writer,
/// say) waits for the peer's acknowledgements unless it calls
/// [`set_nodelay(true)`](TcpStream::set_nodelay), as a Go server gets by default
/// (`docs/BENCHMARKS.md`, "Chat: Nagle's algorithm, not the hub").
///
/// ```
/// use gogreen::net::{TcpListener, TcpStream};
/// use std::io::{Read, Write};
///
/// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
/// let addr = listener.local_addr().unwrap();
/// let server = gogreen::spawn(move || {
///     let (mut conn, _) = listener.accept().unwrap();
///     let mut buf = [0u8; 4];
///     conn.read_exact(&mut buf).unwrap();
///     conn.write_all(&buf).unwrap();
/// });
/// let echoed = gogreen::run(move || {
///     let mut conn = TcpStream::connect(addr).unwrap();
///     conn.write_all(b"ping").unwrap();
///     let mut buf = [0u8; 4];
///     conn.read_exact(&mut buf).unwrap();
///     buf
/// });
/// server.join().unwrap();
/// assert_eq!(&echoed, b"ping");
/// ```
pub struct TcpStream {
    fd: PollFd<net::TcpStream>,
    opts: Options,
}

impl TcpStream {
    /// Connects to `addr`, trying each address it resolves to in turn.
    ///
    /// # Errors
    ///
    /// The last address's error (`ConnectionRefused`, ...), or `InvalidInput` if `addr`
    /// does not resolve.
    pub fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        each_addr(addr, |a| Self::connect_until(a, None))
    }

    /// Connects to `addr`, giving up after `timeout` (`TimedOut`).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero timeout, as std; `TimedOut`; the connection's error.
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        Self::connect_until(addr, Instant::now().checked_add(timeout))
    }

    fn connect_until(addr: &SocketAddr, deadline: Option<Instant>) -> io::Result<TcpStream> {
        let (fd, done) = sys::tcp_connect(addr)?;
        let stream = TcpStream::from_fd(fd);
        if !done {
            stream.fd.finish_connect(deadline)?;
        }
        Ok(stream)
    }

    /// A stream over a connected, non-blocking socket that this module created.
    pub(crate) fn from_fd(fd: OwnedFd) -> TcpStream {
        TcpStream {
            fd: PollFd::owned(net::TcpStream::from(fd)),
            opts: Options::new(),
        }
    }

    /// Takes over a std stream: its timeouts and non-blocking mode carry over.
    ///
    /// # Errors
    ///
    /// If the socket's settings cannot be read, or non-blocking mode set.
    pub fn from_std(stream: net::TcpStream) -> io::Result<TcpStream> {
        let opts = Options::take_from(&stream)?;
        Ok(TcpStream {
            fd: PollFd::owned(stream),
            opts,
        })
    }

    /// Gives the socket back as a std stream, with this stream's timeouts and
    /// non-blocking mode.
    ///
    /// # Errors
    ///
    /// If the settings cannot be applied.
    pub fn into_std(self) -> io::Result<net::TcpStream> {
        let TcpStream { fd, opts } = self;
        let stream = fd.into_inner();
        opts.give_back(&stream)?;
        Ok(stream)
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.std().peer_addr()
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.std().local_addr()
    }

    /// Shuts down the read side, the write side or both. A green thread blocked in a
    /// read of this stream (through a `&TcpStream` or a clone) wakes up and reads the
    /// end of the stream.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.std().shutdown(how)
    }

    /// A new handle on the same socket; settings made on one apply to both, as std's.
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        Ok(TcpStream {
            fd: PollFd::owned(self.std().try_clone()?),
            opts: self.opts.share(),
        })
    }

    /// Reads without removing the data from the queue.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_op(|s| s.peek(buf))
    }

    /// As std: `Some(Duration::ZERO)` is refused with `InvalidInput`.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.opts.set_read_timeout(timeout)
    }

    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.opts.set_write_timeout(timeout)
    }

    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.opts.read_timeout())
    }

    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.opts.write_timeout())
    }

    /// In non-blocking mode a call that would wait fails with `WouldBlock` instead.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.opts.set_nonblocking(nonblocking);
        Ok(())
    }

    /// Turns Nagle's algorithm off (`true`) or on; see the type's docs.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.std().set_nodelay(nodelay)
    }

    pub fn nodelay(&self) -> io::Result<bool> {
        self.std().nodelay()
    }

    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.std().set_ttl(ttl)
    }

    pub fn ttl(&self) -> io::Result<u32> {
        self.std().ttl()
    }

    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.std().take_error()
    }

    fn std(&self) -> &net::TcpStream {
        self.fd.get_ref()
    }

    fn read_op<R>(&self, op: impl FnMut(&net::TcpStream) -> io::Result<R>) -> io::Result<R> {
        let mut op = op;
        if self.opts.nonblocking() {
            return op(self.std());
        }
        self.fd
            .io(Dir::Read, self.opts.read_deadline(), would_block, op)
    }

    fn read_into(&self, buf: &mut [u8]) -> io::Result<usize> {
        if self.opts.nonblocking() {
            return (&mut self.std()).read(buf);
        }
        let len = buf.len();
        self.fd
            .transfer(Dir::Read, self.opts.read_deadline(), len, |mut s| {
                s.read(buf)
            })
    }

    fn write_from(&self, buf: &[u8]) -> io::Result<usize> {
        if self.opts.nonblocking() {
            return (&mut self.std()).write(buf);
        }
        self.fd.transfer(
            Dir::Write,
            self.opts.write_deadline(),
            buf.len(),
            |mut s| s.write(buf),
        )
    }

    fn read_vectored_into(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        let len = bufs.iter().map(|b| b.len()).sum();
        if self.opts.nonblocking() {
            return (&mut self.std()).read_vectored(bufs);
        }
        self.fd
            .transfer(Dir::Read, self.opts.read_deadline(), len, |mut s| {
                s.read_vectored(bufs)
            })
    }

    fn write_vectored_from(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let len = bufs.iter().map(|b| b.len()).sum();
        if self.opts.nonblocking() {
            return (&mut self.std()).write_vectored(bufs);
        }
        self.fd
            .transfer(Dir::Write, self.opts.write_deadline(), len, |mut s| {
                s.write_vectored(bufs)
            })
    }
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_into(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.read_vectored_into(bufs)
    }
}

impl Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_into(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.read_vectored_into(bufs)
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_from(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.write_vectored_from(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_from(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.write_vectored_from(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

raw_fd_traits!(TcpStream, "a connected TCP socket");

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TcpStream");
        if let Ok(a) = self.local_addr() {
            d.field("addr", &a);
        }
        if let Ok(a) = self.peer_addr() {
            d.field("peer", &a);
        }
        d.field("fd", &self.as_raw_fd()).finish()
    }
}
