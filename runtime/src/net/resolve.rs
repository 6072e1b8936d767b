//! Name resolution — the one part of `gogreen::net` that blocks its OS thread (a host
//! name goes through the C library's `getaddrinfo`, which has no non-blocking form) —
//! and trying each address a name resolves to, as std does.
//!
//! A lookup runs through `gogreen::blocking` (Go's `entersyscall`): the green thread's
//! processor goes on running the others while the C library waits. An IP address given
//! as text or as a `SocketAddr` is parsed, not looked up, and never blocks.

use crate::blocking::blocking;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// The addresses `addr` stands for.
pub(crate) fn resolve<A: ToSocketAddrs>(addr: A) -> io::Result<Vec<SocketAddr>> {
    blocking(|| addr.to_socket_addrs().map(Iterator::collect)).map_err(explain)
}

/// Runs `f` on each address `addr` resolves to, until one succeeds: its result, or the
/// last error.
pub(crate) fn each_addr<A: ToSocketAddrs, T>(
    addr: A,
    mut f: impl FnMut(&SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for a in resolve(addr)? {
        match f(&a) {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(no_addresses))
}

/// The first address `addr` resolves to.
pub(crate) fn first_addr<A: ToSocketAddrs>(addr: A) -> io::Result<SocketAddr> {
    resolve(addr)?.into_iter().next().ok_or_else(no_addresses)
}

fn no_addresses() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "could not resolve to any addresses",
    )
}

/// std's resolution errors say what failed, not what to do; add that.
fn explain(e: io::Error) -> io::Error {
    let hint = match e.kind() {
        io::ErrorKind::InvalidInput => {
            "give a host and a port, such as \"127.0.0.1:8080\", \"[::1]:8080\" or \"localhost:8080\""
        }
        _ => "check the host name, or give an IP address such as \"127.0.0.1:8080\"",
    };
    io::Error::new(e.kind(), format!("{e}; {hint}"))
}
