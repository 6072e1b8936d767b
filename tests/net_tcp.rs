//! TCP over the netpoller: streams that park green threads, not OS threads — and the
//! same types on plain OS threads, where they block the thread as std's do. Every test
//! counts what it sends and receives; none measures time.

mod common;

use common::{Watchdog, raise_fd_limit, rerun_all_with};
use gogreen::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::io::{ErrorKind, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// An echo server in green threads, one per connection. Each connection's G sends the
/// bytes it echoed on `done` when its client closes.
fn echo_server() -> (SocketAddr, gogreen::chan::Receiver<u64>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (done_tx, done) = gogreen::chan::unbounded();
    gogreen::spawn(move || {
        for conn in listener.incoming() {
            let mut conn = conn.expect("accept");
            let done_tx = done_tx.clone();
            gogreen::spawn(move || {
                let mut buf = [0u8; 512];
                let mut echoed = 0u64;
                loop {
                    match conn.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            conn.write_all(&buf[..n]).expect("echo write");
                            echoed += n as u64;
                        }
                        Err(e) => panic!("echo read: {e}"),
                    }
                }
                let _ = done_tx.send(echoed);
            });
        }
    });
    (addr, done)
}

const ROUNDS: usize = 10;
const MSG: usize = 100;

/// One client: `ROUNDS` messages of `MSG` bytes, each read back and checked. Returns the
/// bytes sent (= received).
fn client(addr: SocketAddr, id: usize) -> u64 {
    let mut conn = TcpStream::connect(addr).expect("connect");
    let mut back = [0u8; MSG];
    for round in 0..ROUNDS {
        let msg: Vec<u8> = (0..MSG).map(|i| (id * 31 + round * 7 + i) as u8).collect();
        conn.write_all(&msg).expect("client write");
        conn.read_exact(&mut back).expect("client read");
        assert_eq!(
            &back[..],
            &msg[..],
            "client {id} round {round} got other bytes"
        );
    }
    (ROUNDS * MSG) as u64
}

fn check_echoed(done: &gogreen::chan::Receiver<u64>, clients: usize, sent: u64) {
    let echoed: u64 = (0..clients)
        .map(|_| done.recv().expect("server side"))
        .sum();
    assert_eq!(
        echoed, sent,
        "the server echoed other than what the clients sent"
    );
}

#[test]
fn a_thousand_green_clients_echo_every_byte() {
    let _w = Watchdog::new("a_thousand_green_clients_echo_every_byte");
    let clients = 1000;
    if raise_fd_limit() < (2 * clients + 100) as u64 {
        eprintln!(
            "skipped: the open-file limit is below {}",
            2 * clients + 100
        );
        return;
    }
    let (addr, done) = echo_server();
    let sent: u64 = gogreen::run(move || {
        let hs: Vec<_> = (0..clients)
            .map(|id| gogreen::spawn(move || client(addr, id)))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(sent, (clients * ROUNDS * MSG) as u64);
    check_echoed(&done, clients, sent);
}

#[test]
fn a_thousand_os_thread_clients_echo_every_byte() {
    let _w = Watchdog::new("a_thousand_os_thread_clients_echo_every_byte");
    let clients = 1000;
    if raise_fd_limit() < (2 * clients + 100) as u64 {
        eprintln!(
            "skipped: the open-file limit is below {}",
            2 * clients + 100
        );
        return;
    }
    let (addr, done) = echo_server();
    let hs: Vec<_> = (0..clients)
        .map(|id| {
            std::thread::Builder::new()
                .stack_size(128 * 1024)
                .spawn(move || client(addr, id))
                .unwrap()
        })
        .collect();
    let sent: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(sent, (clients * ROUNDS * MSG) as u64);
    check_echoed(&done, clients, sent);
}

#[test]
fn os_threads_alone_block_like_std() {
    let _w = Watchdog::new("os_threads_alone_block_like_std");
    // Server and clients on plain OS threads: nothing here runs in a green thread.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let clients = 20;
    let server = std::thread::spawn(move || {
        let mut total = 0;
        let mut conns = Vec::new();
        for _ in 0..clients {
            let (mut conn, peer) = listener.accept().unwrap();
            assert!(peer.ip().is_loopback());
            conns.push(std::thread::spawn(move || {
                let mut buf = [0u8; 64];
                let mut n_all = 0u64;
                loop {
                    let n = conn.read(&mut buf).unwrap();
                    if n == 0 {
                        return n_all;
                    }
                    conn.write_all(&buf[..n]).unwrap();
                    n_all += n as u64;
                }
            }));
        }
        for c in conns {
            total += c.join().unwrap();
        }
        total
    });
    let hs: Vec<_> = (0..clients)
        .map(|id| std::thread::spawn(move || client(addr, id)))
        .collect();
    let sent: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(server.join().unwrap(), sent);
    assert!(gogreen::current().is_none());
}

/// A connected pair: (client side, server side).
fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (s, _) = listener.accept().unwrap();
    (c, s)
}

#[test]
fn read_timeouts_fail_with_std_error_kind() {
    let _w = Watchdog::new("read_timeouts_fail_with_std_error_kind");
    let (c, _s) = pair();
    c.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    assert_eq!(c.read_timeout().unwrap(), Some(Duration::from_millis(20)));
    // On an OS thread...
    let e = (&c).read(&mut [0u8; 8]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WouldBlock, "{e}");
    // ...and in a green thread.
    let c = gogreen::run(move || {
        let e = (&c).read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WouldBlock, "{e}");
        let e = c.peek(&mut [0u8; 8]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WouldBlock, "{e}");
        c
    });
    // Data that is there comes without waiting, timeout or not.
    let (c2, mut s2) = pair();
    s2.write_all(b"x").unwrap();
    c2.set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let got = gogreen::run(move || {
        let mut b = [0u8; 1];
        (&c2).read_exact(&mut b).unwrap();
        b
    });
    assert_eq!(&got, b"x");
    c.set_read_timeout(None).unwrap();
    assert_eq!(c.read_timeout().unwrap(), None);
}

#[test]
fn write_timeouts_fail_when_the_peer_does_not_read() {
    let _w = Watchdog::new("write_timeouts_fail_when_the_peer_does_not_read");
    let (c, _s) = pair();
    c.set_write_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let written = gogreen::run(move || {
        let chunk = vec![7u8; 64 * 1024];
        let mut written = 0usize;
        loop {
            match (&c).write(&chunk) {
                Ok(n) => written += n,
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::WouldBlock, "{e}");
                    return written;
                }
            }
        }
    });
    assert!(
        written > 0,
        "nothing could be written before the buffers filled"
    );
}

#[test]
fn connect_timeout_gives_timed_out() {
    let _w = Watchdog::new("connect_timeout_gives_timed_out");
    // A listener whose accept queue holds one connection and that never accepts: the
    // kernel drops further SYNs, so later connects hang until they time out.
    // SAFETY: plain socket calls on fds this test owns.
    let (fd, addr) = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0);
        let mut sin: libc::sockaddr_in = std::mem::zeroed();
        sin.sin_family = libc::AF_INET as libc::sa_family_t;
        sin.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(
            libc::bind(fd, (&sin as *const libc::sockaddr_in).cast(), len),
            0
        );
        assert_eq!(libc::listen(fd, 0), 0);
        let mut len = len;
        libc::getsockname(fd, (&mut sin as *mut libc::sockaddr_in).cast(), &mut len);
        (
            fd,
            SocketAddr::from(([127, 0, 0, 1], u16::from_be(sin.sin_port))),
        )
    };
    let outcome = gogreen::run(move || {
        let mut held = Vec::new();
        for _ in 0..16 {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(50)) {
                Ok(s) => held.push(s),
                Err(e) => return Some(e),
            }
        }
        None
    });
    // SAFETY: closes the fd made above.
    unsafe { libc::close(fd) };
    let e = outcome.expect("16 connects to a full accept queue all succeeded");
    assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
    let e = TcpStream::connect_timeout(&addr, Duration::ZERO).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
}

#[test]
fn connection_refused() {
    let _w = Watchdog::new("connection_refused");
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let e = TcpStream::connect(addr).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}");
    let e = gogreen::run(move || TcpStream::connect(addr).unwrap_err());
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}");
}

#[test]
fn shutdown_wakes_a_green_thread_blocked_in_read() {
    let _w = Watchdog::new("shutdown_wakes_a_green_thread_blocked_in_read");
    for how in [Shutdown::Read, Shutdown::Both] {
        let (c, _s) = pair();
        let c = Arc::new(c);
        let got = gogreen::run(move || {
            let (started_tx, started) = gogreen::chan::bounded(0);
            let reader = {
                let c = c.clone();
                gogreen::spawn(move || {
                    started_tx.send(()).unwrap();
                    (&*c).read(&mut [0u8; 16])
                })
            };
            started.recv().unwrap();
            // Let the reader reach its read and park (it may, or may not yet: either
            // way the shutdown must end its read).
            gogreen::yield_now();
            c.shutdown(how).unwrap();
            reader.join().unwrap()
        });
        assert_eq!(got.unwrap(), 0, "{how:?}: the read did not see the end");
    }
}

#[test]
fn half_close_lets_the_other_side_answer() {
    let _w = Watchdog::new("half_close_lets_the_other_side_answer");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let answer = gogreen::run(move || {
        let server = gogreen::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut req = Vec::new();
            s.read_to_end(&mut req).unwrap(); // until the client's half close
            s.write_all(&req.iter().rev().copied().collect::<Vec<u8>>())
                .unwrap();
        });
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(b"hello").unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let mut answer = Vec::new();
        c.read_to_end(&mut answer).unwrap();
        server.join().unwrap();
        answer
    });
    assert_eq!(answer, b"olleh");
}

#[test]
fn several_green_threads_read_one_stream() {
    let _w = Watchdog::new("several_green_threads_read_one_stream");
    let (c, mut s) = pair();
    let c = Arc::new(c);
    let total = 2000u64;
    let got = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (c, got) = (c.clone(), got.clone());
            gogreen::spawn(move || {
                let mut buf = [0u8; 3];
                loop {
                    match (&*c).read(&mut buf) {
                        Ok(0) => return,
                        Ok(n) => {
                            got.fetch_add(n as u64, Ordering::Relaxed);
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
            })
        })
        .collect();
    gogreen::run(move || {
        for i in 0..total {
            s.write_all(&[i as u8]).unwrap();
            if i % 16 == 0 {
                gogreen::yield_now();
            }
        }
        s.shutdown(Shutdown::Write).unwrap();
    });
    for r in readers {
        r.join().unwrap();
    }
    assert_eq!(got.load(Ordering::Relaxed), total);
}

#[test]
fn clones_share_settings_and_std_round_trips() {
    let (c, mut s) = pair();
    c.set_nodelay(true).unwrap();
    assert!(c.nodelay().unwrap());
    let c2 = c.try_clone().unwrap();
    c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    assert_eq!(c2.read_timeout().unwrap(), Some(Duration::from_secs(3)));
    assert_eq!(c.peer_addr().unwrap(), s.local_addr().unwrap());
    s.write_all(b"peek").unwrap();
    let mut b = [0u8; 4];
    assert_eq!(c2.peek(&mut b).unwrap(), 4);
    let std = c.into_std().unwrap();
    assert_eq!(std.read_timeout().unwrap(), Some(Duration::from_secs(3)));
    let mut back = TcpStream::from_std(std).unwrap();
    assert_eq!(back.read_timeout().unwrap(), Some(Duration::from_secs(3)));
    back.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"peek");
    back.set_nonblocking(true).unwrap();
    let e = back.read(&mut b).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WouldBlock);
    let e = back.set_write_timeout(Some(Duration::ZERO)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

#[test]
fn bad_addresses_say_what_to_change() {
    let e = TcpListener::bind("not an address").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("127.0.0.1:8080"), "{e}");
    let e = TcpStream::connect("127.0.0.1").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let e = TcpListener::bind(taken.local_addr().unwrap()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AddrInUse, "{e}");
    assert!(e.to_string().contains("pick another port"), "{e}");
    let e = TcpStream::connect(&[][..] as &[SocketAddr]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
}

#[test]
fn all_of_it_with_one_processor() {
    if std::env::var("GOGREEN_PROCS").as_deref() == Ok("1") {
        return; // this run is the child's already
    }
    let out = rerun_all_with(&[("GOGREEN_PROCS", "1")], "all_of_it_with_one_processor");
    assert!(
        out.status.success(),
        "with GOGREEN_PROCS=1:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
