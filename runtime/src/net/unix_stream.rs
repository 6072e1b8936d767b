//! `UnixStream`: std's, for green threads — a read or write that would block parks only
//! the green thread; on a plain OS thread it blocks the thread.

use super::fd::PollFd;
use super::options::Options;
use super::raw::raw_fd_traits;
use super::sys;
use crate::blocking::blocking;
use crate::netpoll::desc::Dir;
use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::{self, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

/// A Unix-domain stream socket, shaped like [`std::os::unix::net::UnixStream`].
///
/// ```
/// use gogreen::net::UnixStream;
/// use std::io::{Read, Write};
///
/// let (mut a, mut b) = UnixStream::pair().unwrap();
/// let echo = gogreen::spawn(move || {
///     let mut buf = [0u8; 3];
///     b.read_exact(&mut buf).unwrap();
///     b.write_all(&buf).unwrap();
/// });
/// a.write_all(b"abc").unwrap();
/// let mut back = [0u8; 3];
/// a.read_exact(&mut back).unwrap();
/// echo.join().unwrap();
/// assert_eq!(&back, b"abc");
/// ```
pub struct UnixStream {
    fd: PollFd<net::UnixStream>,
    opts: Options,
}

impl UnixStream {
    /// Connects to the socket bound at `path` (a name that starts with a NUL byte is
    /// in the abstract namespace).
    ///
    /// # Errors
    ///
    /// `NotFound` when nothing is bound there, `ConnectionRefused` when nothing listens,
    /// `InvalidInput` for a path too long for a socket address.
    pub fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        let path = path.as_ref();
        match sys::unix_connect(path) {
            Ok((fd, true)) => Ok(UnixStream::from_fd(fd)),
            // Linux completes a Unix connect at once or refuses it; should it ever be in
            // progress, wait for it as for TCP.
            Ok((fd, false)) => {
                let stream = UnixStream::from_fd(fd);
                stream.fd.finish_connect(None)?;
                Ok(stream)
            }
            // The listener's accept queue is full: a Unix socket cannot wait for room
            // without blocking in connect, so do that, as a blocking call.
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
                let stream = blocking(|| net::UnixStream::connect(path))?;
                stream.set_nonblocking(true)?;
                Ok(UnixStream::from_fd(stream.into()))
            }
            Err(e) => Err(e),
        }
    }

    /// Two connected sockets.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = sys::unix_pair()?;
        Ok((UnixStream::from_fd(a), UnixStream::from_fd(b)))
    }

    /// A stream over a connected, non-blocking socket this module made.
    pub(crate) fn from_fd(fd: OwnedFd) -> UnixStream {
        UnixStream {
            fd: PollFd::owned(net::UnixStream::from(fd)),
            opts: Options::new(),
        }
    }

    /// Takes over a std stream: its timeouts and non-blocking mode carry over.
    ///
    /// # Errors
    ///
    /// If the socket's settings cannot be read, or non-blocking mode set.
    pub fn from_std(stream: net::UnixStream) -> io::Result<UnixStream> {
        let opts = Options::take_from(&stream)?;
        Ok(UnixStream {
            fd: PollFd::owned(stream),
            opts,
        })
    }

    /// Gives the socket back as a std stream, with this stream's timeouts and mode.
    ///
    /// # Errors
    ///
    /// If the settings cannot be applied.
    pub fn into_std(self) -> io::Result<net::UnixStream> {
        let UnixStream { fd, opts } = self;
        let stream = fd.into_inner();
        opts.give_back(&stream)?;
        Ok(stream)
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.std().local_addr()
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.std().peer_addr()
    }

    /// Shuts down the read side, the write side or both; a green thread blocked in a
    /// read wakes up and reads the end of the stream.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.std().shutdown(how)
    }

    /// A new handle on the same socket; settings made on one apply to both, as std's.
    pub fn try_clone(&self) -> io::Result<UnixStream> {
        Ok(UnixStream {
            fd: PollFd::owned(self.std().try_clone()?),
            opts: self.opts.share(),
        })
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

    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.std().take_error()
    }

    fn std(&self) -> &net::UnixStream {
        self.fd.get_ref()
    }

    fn transfer(
        &self,
        dir: Dir,
        len: usize,
        op: impl FnMut(&net::UnixStream) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let mut op = op;
        if self.opts.nonblocking() {
            return op(self.std());
        }
        let deadline: Option<Instant> = match dir {
            Dir::Read => self.opts.read_deadline(),
            Dir::Write => self.opts.write_deadline(),
        };
        self.fd.transfer(dir, deadline, len, op)
    }
}

impl Read for UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        (&*self).read_vectored(bufs)
    }
}

impl Read for &UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len();
        self.transfer(Dir::Read, len, |mut s| s.read(buf))
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        let len = bufs.iter().map(|b| b.len()).sum();
        self.transfer(Dir::Read, len, |mut s| s.read_vectored(bufs))
    }
}

impl Write for UnixStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &UnixStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.transfer(Dir::Write, buf.len(), |mut s| s.write(buf))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let len = bufs.iter().map(|b| b.len()).sum();
        self.transfer(Dir::Write, len, |mut s| s.write_vectored(bufs))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

raw_fd_traits!(UnixStream, "a connected Unix stream socket");

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}
