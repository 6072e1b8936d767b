//! Networking for green threads, shaped like `std::net`: porting a program is an import
//! change.
//!
//! A call that would block — `accept`, `read` on an idle connection, `write` into a full
//! buffer, `connect` — parks only the green thread that made it; its OS thread runs the
//! other green threads meanwhile, and the netpoller (`docs/netpoll.md`) makes the green
//! thread runnable again when the socket is ready. So a server holds one green thread
//! per connection, as a Go server holds one goroutine per connection, by the ten
//! thousand. On a plain OS thread the same types simply block that thread, as std's do.
//!
//! Timeouts (`set_read_timeout`, `set_write_timeout`, `connect_timeout`) fail with the
//! error kinds std gives on Linux: `WouldBlock` for a read or write, `TimedOut` for a
//! connect. [`PollFd`] lets green threads wait on any other non-blocking fd — a pipe, an
//! eventfd, another crate's socket.
//!
//! Name resolution (`"example.com:80"`) calls the system resolver, which blocks its OS
//! thread; an IP address (`"127.0.0.1:80"`, a `SocketAddr`) never does.

mod fd;
mod options;
mod raw;
mod resolve;
mod sys;
mod tcp_listener;
mod tcp_stream;
mod udp;
mod unix_listener;
mod unix_stream;

pub use fd::PollFd;
pub use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, ToSocketAddrs};
pub use tcp_listener::{Incoming, TcpListener};
pub use tcp_stream::TcpStream;
pub use udp::UdpSocket;
pub use unix_listener::{Incoming as UnixIncoming, UnixListener};
pub use unix_stream::UnixStream;
