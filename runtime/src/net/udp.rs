//! `UdpSocket`: std's, for green threads — a receive (or a send into a full buffer)
//! parks only the green thread; on a plain OS thread it blocks the thread.

use super::fd::{PollFd, would_block};
use super::options::Options;
use super::raw::raw_fd_traits;
use super::resolve::{each_addr, first_addr};
use super::sys;
use crate::netpoll::desc::Dir;
use std::fmt;
use std::io;
use std::net::{self, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

/// A UDP socket, shaped like [`std::net::UdpSocket`].
///
/// Several green threads may receive on one socket at once (share it in an `Arc`):
/// each datagram goes to one of them.
///
/// ```
/// use gogreen::net::UdpSocket;
///
/// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
/// let b = UdpSocket::bind("127.0.0.1:0").unwrap();
/// let to = b.local_addr().unwrap();
/// let got = gogreen::spawn(move || {
///     let mut buf = [0u8; 16];
///     let (n, _) = b.recv_from(&mut buf).unwrap();
///     buf[..n].to_vec()
/// });
/// a.send_to(b"datagram", to).unwrap();
/// assert_eq!(got.join().unwrap(), b"datagram");
/// ```
pub struct UdpSocket {
    fd: PollFd<net::UdpSocket>,
    opts: Options,
}

impl UdpSocket {
    /// Binds to `addr` (the first address it resolves to that can be bound).
    ///
    /// # Errors
    ///
    /// `AddrInUse`, `AddrNotAvailable`, or `InvalidInput` if `addr` does not resolve.
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        each_addr(addr, |a| {
            let fd = sys::udp_bind(a)
                .map_err(|e| io::Error::new(e.kind(), format!("cannot bind {a}: {e}")))?;
            Ok(UdpSocket::from_fd(fd))
        })
    }

    fn from_fd(fd: OwnedFd) -> UdpSocket {
        UdpSocket {
            fd: PollFd::owned(net::UdpSocket::from(fd)),
            opts: Options::new(),
        }
    }

    /// Sets the default peer: `send` goes there, `recv` takes only its datagrams.
    pub fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        each_addr(addr, |a| self.std().connect(a))
    }

    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.write_op(|s| s.send(buf))
    }

    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_op(|s| s.recv(buf))
    }

    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_op(|s| s.peek(buf))
    }

    /// Sends to the first address `addr` resolves to.
    pub fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], addr: A) -> io::Result<usize> {
        let to = first_addr(addr)?;
        self.write_op(|s| s.send_to(buf, to))
    }

    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.read_op(|s| s.recv_from(buf))
    }

    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.read_op(|s| s.peek_from(buf))
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.std().peer_addr()
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.std().local_addr()
    }

    /// A new handle on the same socket; settings made on one apply to both, as std's.
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            fd: PollFd::owned(self.std().try_clone()?),
            opts: self.opts.share(),
        })
    }

    /// As std: `Some(Duration::ZERO)` is refused with `InvalidInput`. A receive that
    /// times out fails with `WouldBlock`, as std's does on Linux.
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

    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.std().set_broadcast(on)
    }

    pub fn broadcast(&self) -> io::Result<bool> {
        self.std().broadcast()
    }

    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.std().set_ttl(ttl)
    }

    pub fn ttl(&self) -> io::Result<u32> {
        self.std().ttl()
    }

    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.std().set_multicast_loop_v4(on)
    }

    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        self.std().set_multicast_ttl_v4(ttl)
    }

    pub fn join_multicast_v4(&self, group: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.std().join_multicast_v4(group, interface)
    }

    pub fn leave_multicast_v4(&self, group: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.std().leave_multicast_v4(group, interface)
    }

    pub fn join_multicast_v6(&self, group: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.std().join_multicast_v6(group, interface)
    }

    pub fn leave_multicast_v6(&self, group: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.std().leave_multicast_v6(group, interface)
    }

    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.std().take_error()
    }

    /// Takes over a std socket: its timeouts and non-blocking mode carry over.
    ///
    /// # Errors
    ///
    /// If the socket's settings cannot be read, or non-blocking mode set.
    pub fn from_std(socket: net::UdpSocket) -> io::Result<UdpSocket> {
        let opts = Options::take_from(&socket)?;
        Ok(UdpSocket {
            fd: PollFd::owned(socket),
            opts,
        })
    }

    /// Gives the socket back as a std socket, with this socket's timeouts and mode.
    ///
    /// # Errors
    ///
    /// If the settings cannot be applied.
    pub fn into_std(self) -> io::Result<net::UdpSocket> {
        let UdpSocket { fd, opts } = self;
        let socket = fd.into_inner();
        opts.give_back(&socket)?;
        Ok(socket)
    }

    fn std(&self) -> &net::UdpSocket {
        self.fd.get_ref()
    }

    fn read_op<R>(&self, mut op: impl FnMut(&net::UdpSocket) -> io::Result<R>) -> io::Result<R> {
        if self.opts.nonblocking() {
            return op(self.std());
        }
        self.fd
            .io(Dir::Read, self.opts.read_deadline(), would_block, op)
    }

    fn write_op<R>(&self, mut op: impl FnMut(&net::UdpSocket) -> io::Result<R>) -> io::Result<R> {
        if self.opts.nonblocking() {
            return op(self.std());
        }
        self.fd
            .io(Dir::Write, self.opts.write_deadline(), would_block, op)
    }
}

raw_fd_traits!(UdpSocket, "a UDP socket");

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("UdpSocket");
        if let Ok(a) = self.local_addr() {
            d.field("addr", &a);
        }
        d.field("fd", &self.as_raw_fd()).finish()
    }
}
