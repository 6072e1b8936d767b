//! The system calls `gogreen::net` makes itself, where `std::net` has no non-blocking
//! form: sockets created non-blocking, connect that does not wait, `accept4`, socket
//! addresses to and from C, and `poll(2)` for the waits of plain OS threads.

use crate::netpoll::desc::Dir;
use std::io;
use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// A socket of `family` and `ty`, non-blocking and close-on-exec from the start.
pub(crate) fn socket(family: libc::c_int, ty: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: plain system call; the fd is owned by the result.
    let fd =
        cvt(unsafe { libc::socket(family, ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: a fresh fd that nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `addr` as a C socket address, and its length.
pub(crate) fn c_addr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all-zero bytes are a valid sockaddr_storage.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than, and aligned for, sockaddr_in.
            unsafe {
                (&mut storage as *mut libc::sockaddr_storage)
                    .cast::<libc::sockaddr_in>()
                    .write(sin)
            };
            mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than, and aligned for, sockaddr_in6.
            unsafe {
                (&mut storage as *mut libc::sockaddr_storage)
                    .cast::<libc::sockaddr_in6>()
                    .write(sin6)
            };
            mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

/// A C socket address of the IP families back as a `SocketAddr`.
pub(crate) fn rust_addr(storage: &libc::sockaddr_storage) -> io::Result<SocketAddr> {
    match storage.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the family says it holds a sockaddr_in.
            let a =
                unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Ok(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(a.sin_addr.s_addr.to_ne_bytes()),
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says it holds a sockaddr_in6.
            let a = unsafe {
                &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            Ok(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(a.sin6_addr.s6_addr),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        family => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("gogreen::net: not an IP socket address (family {family})"),
        )),
    }
}

fn family_of(addr: &SocketAddr) -> libc::c_int {
    match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    }
}

/// Starts connecting `fd` to `addr` without waiting. `Ok(true)`: connected already;
/// `Ok(false)`: in progress — wait until writable, then read the outcome with
/// [`take_error`].
pub(crate) fn connect(fd: RawFd, addr: &SocketAddr) -> io::Result<bool> {
    let (storage, len) = c_addr(addr);
    connect_raw(fd, (&storage as *const libc::sockaddr_storage).cast(), len)
}

fn connect_raw(fd: RawFd, addr: *const libc::sockaddr, len: libc::socklen_t) -> io::Result<bool> {
    loop {
        // SAFETY: `addr` points to `len` valid bytes (callers build it on their stack).
        if unsafe { libc::connect(fd, addr, len) } == 0 {
            return Ok(true);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINPROGRESS) => return Ok(false),
            Some(libc::EINTR) => continue,
            _ => return Err(e),
        }
    }
}

/// A new TCP socket for `addr`'s family, connecting to `addr` (see [`connect`]).
pub(crate) fn tcp_connect(addr: &SocketAddr) -> io::Result<(OwnedFd, bool)> {
    let fd = socket(family_of(addr), libc::SOCK_STREAM)?;
    let done = connect(fd.as_raw_fd(), addr)?;
    Ok((fd, done))
}

/// A TCP socket bound to `addr` and listening: `SO_REUSEADDR`, as std sets it, and the
/// longest accept queue the kernel allows (`net.core.somaxconn`), as Go asks for.
pub(crate) fn tcp_listen(addr: &SocketAddr) -> io::Result<OwnedFd> {
    let fd = socket(family_of(addr), libc::SOCK_STREAM)?;
    set_int_option(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    bind(fd.as_raw_fd(), addr)?;
    // The kernel caps the backlog at net.core.somaxconn.
    // SAFETY: plain system call on an fd we own.
    cvt(unsafe { libc::listen(fd.as_raw_fd(), libc::c_int::MAX) })?;
    Ok(fd)
}

/// A UDP socket bound to `addr`.
pub(crate) fn udp_bind(addr: &SocketAddr) -> io::Result<OwnedFd> {
    let fd = socket(family_of(addr), libc::SOCK_DGRAM)?;
    bind(fd.as_raw_fd(), addr)?;
    Ok(fd)
}

fn bind(fd: RawFd, addr: &SocketAddr) -> io::Result<()> {
    let (storage, len) = c_addr(addr);
    // SAFETY: the address is valid for `len` bytes.
    cvt(unsafe { libc::bind(fd, (&storage as *const libc::sockaddr_storage).cast(), len) })?;
    Ok(())
}

fn set_int_option(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: passes a valid int and its size.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const libc::c_int).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// Accepts a connection on the listening socket `fd`: the new socket (non-blocking,
/// close-on-exec) and the peer's C address.
pub(crate) fn accept(fd: RawFd) -> io::Result<(OwnedFd, libc::sockaddr_storage)> {
    // SAFETY: all-zero bytes are a valid sockaddr_storage.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let mut len = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    loop {
        // SAFETY: the address buffer is valid for `len` bytes.
        let r = unsafe {
            libc::accept4(
                fd,
                (&mut storage as *mut libc::sockaddr_storage).cast(),
                &mut len,
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            )
        };
        match cvt(r) {
            // SAFETY: a fresh fd that nobody else owns.
            Ok(new) => return Ok((unsafe { OwnedFd::from_raw_fd(new) }, storage)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Accepts a connection on a Unix listening socket: the new socket only (the caller
/// asks it for its peer's address, which std has no constructor for).
pub(crate) fn accept_unix(fd: RawFd) -> io::Result<OwnedFd> {
    loop {
        // SAFETY: null address buffers are allowed.
        let r = unsafe {
            libc::accept4(
                fd,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            )
        };
        match cvt(r) {
            // SAFETY: a fresh fd that nobody else owns.
            Ok(new) => return Ok(unsafe { OwnedFd::from_raw_fd(new) }),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// A new Unix stream socket, connecting to `path`: `Ok((fd, true))` connected;
/// `(fd, false)` in progress. A name starting with a NUL byte is in the abstract
/// namespace, as std takes it.
pub(crate) fn unix_connect(path: &Path) -> io::Result<(OwnedFd, bool)> {
    // SAFETY: all-zero bytes are a valid sockaddr_un.
    let mut addr: libc::sockaddr_un = unsafe { mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_bytes();
    if bytes.contains(&0) && bytes[0] != 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "gogreen::net: a Unix socket path must not contain a NUL byte (only an abstract name starts with one)",
        ));
    }
    if bytes.len() >= addr.sun_path.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "gogreen::net: Unix socket path {path:?} is {} bytes; the most is {}: use a shorter path",
                bytes.len(),
                addr.sun_path.len() - 1
            ),
        ));
    }
    for (dst, src) in addr.sun_path.iter_mut().zip(bytes) {
        *dst = *src as libc::c_char;
    }
    let base = mem::offset_of!(libc::sockaddr_un, sun_path);
    // A path is NUL-terminated; an abstract name is exactly its bytes.
    let len = base + bytes.len() + usize::from(bytes.first() != Some(&0));
    let fd = socket(libc::AF_UNIX, libc::SOCK_STREAM)?;
    let done = connect_raw(
        fd.as_raw_fd(),
        (&addr as *const libc::sockaddr_un).cast(),
        len as libc::socklen_t,
    )?;
    Ok((fd, done))
}

/// A connected pair of Unix stream sockets, non-blocking.
pub(crate) fn unix_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: writes two fds into the array.
    cvt(unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    })?;
    // SAFETY: two fresh fds that nobody else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The pending error of socket `fd` (`SO_ERROR`), cleared by reading it.
pub(crate) fn take_error(fd: RawFd) -> io::Result<Option<io::Error>> {
    let mut value: libc::c_int = 0;
    let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: the buffer is a valid int and its size.
    cvt(unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    })?;
    Ok((value != 0).then(|| io::Error::from_raw_os_error(value)))
}

/// Puts `fd` in non-blocking mode or out of it.
pub(crate) fn set_nonblocking(fd: RawFd, on: bool) -> io::Result<()> {
    // SAFETY: fcntl on an fd; an invalid one fails with EBADF.
    let flags = cvt(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    let new = if on {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    if new != flags {
        // SAFETY: as above.
        cvt(unsafe { libc::fcntl(fd, libc::F_SETFL, new) })?;
    }
    Ok(())
}

/// Whether `fd` is in non-blocking mode.
pub(crate) fn is_nonblocking(fd: RawFd) -> io::Result<bool> {
    // SAFETY: as in `set_nonblocking`.
    let flags = cvt(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    Ok(flags & libc::O_NONBLOCK != 0)
}

/// Blocks the calling OS thread until `fd` is ready for `dir` or `timeout` passes
/// (`None`: no timeout). Returns whether it is ready — or reports a hang-up or error,
/// which the caller's next call will meet. `Some(ZERO)` only looks.
pub(crate) fn poll(fd: RawFd, dir: Dir, timeout: Option<Duration>) -> io::Result<bool> {
    let events = match dir {
        Dir::Read => libc::POLLIN | libc::POLLPRI,
        Dir::Write => libc::POLLOUT,
    };
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // poll(2) counts milliseconds: rounded up, so that a timeout is never cut short.
    let ms = match timeout {
        None => -1,
        Some(d) => d
            .as_nanos()
            .div_ceil(1_000_000)
            .min(libc::c_int::MAX as u128) as libc::c_int,
    };
    // SAFETY: one valid pollfd.
    match cvt(unsafe { libc::poll(&mut pfd, 1, ms) }) {
        Ok(n) => {
            if n > 0 && pfd.revents & libc::POLLNVAL != 0 {
                return Err(bad_fd(fd));
            }
            Ok(n > 0)
        }
        // A signal: the caller's loop looks again.
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(false),
        Err(e) => Err(e),
    }
}

/// The error for an fd that is not open.
pub(crate) fn bad_fd(fd: RawFd) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "gogreen::net: fd {fd} is not an open file descriptor: pass an fd you own and keep open"
        ),
    )
}
