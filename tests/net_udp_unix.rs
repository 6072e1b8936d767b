//! UDP and Unix-domain sockets over the netpoller, and `PollFd` on fds of the user's own
//! (a pipe, an eventfd, a regular file).

mod common;

use common::{Watchdog, rerun_all_with};
use gogreen::net::{PollFd, Shutdown, UdpSocket, UnixListener, UnixStream};
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{FromRawFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[test]
fn udp_ping_pong_between_green_threads() {
    let _w = Watchdog::new("udp_ping_pong_between_green_threads");
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    a.connect(b.local_addr().unwrap()).unwrap();
    b.connect(a.local_addr().unwrap()).unwrap();
    let n = 1000u32;
    let pong = gogreen::spawn(move || {
        let mut buf = [0u8; 4];
        for _ in 0..n {
            let len = b.recv(&mut buf).unwrap();
            let v = u32::from_le_bytes(buf[..len].try_into().unwrap());
            b.send(&(v + 1).to_le_bytes()).unwrap();
        }
    });
    let last = gogreen::run(move || {
        let mut v = 0u32;
        let mut buf = [0u8; 4];
        for _ in 0..n {
            a.send(&v.to_le_bytes()).unwrap();
            let len = a.recv(&mut buf).unwrap();
            v = u32::from_le_bytes(buf[..len].try_into().unwrap());
        }
        v
    });
    pong.join().unwrap();
    assert_eq!(last, n);
}

#[test]
fn udp_datagrams_to_many_receivers_arrive_once_each() {
    let _w = Watchdog::new("udp_datagrams_to_many_receivers_arrive_once_each");
    let rx = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
    let to = rx.local_addr().unwrap();
    let sum = Arc::new(AtomicU64::new(0));
    let count = Arc::new(AtomicU64::new(0));
    let total = 400u64;
    // Eight green threads receive on one socket; each datagram reaches exactly one.
    let receivers: Vec<_> = (0..8)
        .map(|_| {
            let (rx, sum, count) = (rx.clone(), sum.clone(), count.clone());
            gogreen::spawn(move || {
                let mut buf = [0u8; 8];
                loop {
                    let (len, _) = rx.recv_from(&mut buf).unwrap();
                    let v = u64::from_le_bytes(buf[..len].try_into().unwrap());
                    if v == u64::MAX {
                        return;
                    }
                    sum.fetch_add(v, Ordering::Relaxed);
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    gogreen::run(move || {
        for v in 1..=total {
            tx.send_to(&v.to_le_bytes(), to).unwrap();
            // Loopback drops datagrams only when the receive buffer is full: pace the
            // sender by letting the receivers run.
            if v % 8 == 0 {
                gogreen::yield_now();
                while count.load(Ordering::Relaxed) + 64 < v {
                    gogreen::yield_now();
                }
            }
        }
        while count.load(Ordering::Relaxed) < total {
            gogreen::yield_now();
        }
        for _ in 0..8 {
            tx.send_to(&u64::MAX.to_le_bytes(), to).unwrap();
        }
    });
    for r in receivers {
        r.join().unwrap();
    }
    assert_eq!(sum.load(Ordering::Relaxed), total * (total + 1) / 2);
}

#[test]
fn udp_timeouts_and_errors() {
    let _w = Watchdog::new("udp_timeouts_and_errors");
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    let e = s.recv_from(&mut [0u8; 8]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WouldBlock, "{e}");
    let s = gogreen::run(move || {
        let e = s.recv(&mut [0u8; 8]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WouldBlock, "{e}");
        s
    });
    let e = s.set_read_timeout(Some(Duration::ZERO)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let e = s.send_to(b"x", "no port here").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    let e = UdpSocket::bind("1.2.3.4.5:0").unwrap_err();
    assert!(e.to_string().contains("127.0.0.1:8080"), "{e}");
    let std = s.into_std().unwrap();
    assert_eq!(std.read_timeout().unwrap(), Some(Duration::from_millis(20)));
}

fn socket_path(name: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("gogreen-{}-{name}.sock", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

#[test]
fn unix_listener_serves_green_clients() {
    let _w = Watchdog::new("unix_listener_serves_green_clients");
    let path = socket_path("serve");
    let listener = UnixListener::bind(&path).unwrap();
    let clients = 100u64;
    let server = gogreen::spawn(move || {
        let mut hs = Vec::new();
        for _ in 0..clients {
            let (mut conn, _) = listener.accept().unwrap();
            hs.push(gogreen::spawn(move || {
                let mut v = [0u8; 8];
                conn.read_exact(&mut v).unwrap();
                conn.write_all(&(u64::from_le_bytes(v) * 2).to_le_bytes())
                    .unwrap();
            }));
        }
        for h in hs {
            h.join().unwrap();
        }
    });
    let p = path.clone();
    let sum = gogreen::run(move || {
        let hs: Vec<_> = (0..clients)
            .map(|i| {
                let p = p.clone();
                gogreen::spawn(move || {
                    let mut c = UnixStream::connect(&p).unwrap();
                    c.write_all(&i.to_le_bytes()).unwrap();
                    let mut v = [0u8; 8];
                    c.read_exact(&mut v).unwrap();
                    u64::from_le_bytes(v)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    server.join().unwrap();
    assert_eq!(sum, clients * (clients - 1));
    let _ = std::fs::remove_file(&path);
    let e = UnixStream::connect(&path).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    let e = UnixStream::connect("x".repeat(200)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("shorter path"), "{e}");
}

#[test]
fn unix_shutdown_wakes_a_blocked_reader_and_timeouts_fire() {
    let _w = Watchdog::new("unix_shutdown_wakes_a_blocked_reader_and_timeouts_fire");
    let (a, _b) = UnixStream::pair().unwrap();
    let a = Arc::new(a);
    let n = gogreen::run(move || {
        let reader = {
            let a = a.clone();
            gogreen::spawn(move || (&*a).read(&mut [0u8; 4]))
        };
        gogreen::yield_now();
        a.shutdown(Shutdown::Read).unwrap();
        let n = reader.join().unwrap().unwrap();
        let (c, _d) = UnixStream::pair().unwrap();
        c.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
        let e = (&c).read(&mut [0u8; 4]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WouldBlock, "{e}");
        n
    });
    assert_eq!(n, 0);
}

#[test]
fn unix_stream_round_trips_through_std_with_its_settings() {
    let (a, b) = UnixStream::pair().unwrap();
    a.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    a.set_nonblocking(true).unwrap();
    let std = a.into_std().unwrap();
    assert_eq!(std.write_timeout().unwrap(), Some(Duration::from_secs(2)));
    assert_eq!(std.read_timeout().unwrap(), None);
    // Non-blocking as asked: a read with nothing sent says so.
    let e = (&std).read(&mut [0u8; 1]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WouldBlock);
    std.set_nonblocking(false).unwrap();
    std.set_read_timeout(Some(Duration::from_millis(30)))
        .unwrap();
    // As the kernel keeps it: rounded to its clock tick.
    let read_timeout = std.read_timeout().unwrap();
    assert!(read_timeout.is_some());
    let back = UnixStream::from_std(std).unwrap();
    assert_eq!(back.read_timeout().unwrap(), read_timeout);
    assert_eq!(back.write_timeout().unwrap(), Some(Duration::from_secs(2)));
    // Blocking again, and the timeout taken over: a read waits for it in a green thread.
    let back = gogreen::run(move || {
        let e = (&back).read(&mut [0u8; 1]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WouldBlock, "{e}");
        back
    });
    (&b).write_all(b"x").unwrap();
    let mut got = [0u8; 1];
    (&back).read_exact(&mut got).unwrap();
    assert_eq!(&got, b"x");
}

fn pipe() -> (File, File) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: fresh fds this test owns.
    unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) }
}

#[test]
fn poll_fd_waits_on_pipes_and_eventfds() {
    let _w = Watchdog::new("poll_fd_waits_on_pipes_and_eventfds");
    let (r, w) = pipe();
    let r = PollFd::new(r).unwrap();
    let w = PollFd::new(w).unwrap();
    let total = 100_000usize;
    let reader = gogreen::spawn(move || {
        let mut got = 0;
        let mut buf = [0u8; 4096];
        loop {
            match (&r).read(&mut buf).unwrap() {
                0 => return got,
                n => got += n,
            }
        }
    });
    gogreen::run(move || {
        let chunk = [1u8; 1000];
        let mut w = w;
        for _ in 0..total / chunk.len() {
            w.write_all(&chunk).unwrap(); // the pipe fills: the writer parks too
        }
    });
    assert_eq!(reader.join().unwrap(), total);

    // An eventfd: readable once written; `readable` waits, `read_with` reads.
    // SAFETY: a fresh fd this test owns.
    let efd = unsafe { File::from_raw_fd(libc::eventfd(0, libc::EFD_CLOEXEC)) };
    let efd = Arc::new(PollFd::new(efd).unwrap());
    let e2 = efd.clone();
    let waiter = gogreen::spawn(move || {
        e2.readable(None).unwrap();
        e2.read_with(None, |f| {
            let mut v = [0u8; 8];
            (&*f).read_exact(&mut v).map(|_| u64::from_ne_bytes(v))
        })
        .unwrap()
    });
    gogreen::run(move || {
        gogreen::yield_now();
        (&efd.get_ref().try_clone().unwrap())
            .write_all(&5u64.to_ne_bytes())
            .unwrap();
    });
    assert_eq!(waiter.join().unwrap(), 5);

    // A wait that times out.
    let (r, _w) = pipe();
    let r = PollFd::new(r).unwrap();
    let e = gogreen::run(move || r.readable(Some(Duration::from_millis(10))).unwrap_err());
    assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
}

#[test]
fn poll_fd_refuses_bad_fds_and_says_why() {
    // A closed fd: one above the process's limit on open files, so that no test running
    // alongside can have opened it (a pipe's fd, closed, was reused by one now and then
    // and accepted, failing this test).
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only into `lim`.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    let raw = RawFd::try_from(lim.rlim_cur)
        .unwrap_or(RawFd::MAX - 1)
        .saturating_add(1);
    // SAFETY: deliberately wraps a closed fd; the File is forgotten, never closed.
    let closed = std::mem::ManuallyDrop::new(unsafe { File::from_raw_fd(raw) });
    let e = PollFd::new(std::os::fd::AsFd::as_fd(&*closed)).expect_err("a closed fd was accepted");
    assert!(e.to_string().contains("not an open file descriptor"), "{e}");
    // A regular file: always ready, so `readable` returns at once; but the kernel cannot
    // poll it, so a call that says "would block" cannot be waited for.
    let path = std::env::temp_dir().join(format!("gogreen-pollfd-{}", std::process::id()));
    let f = File::create(&path).unwrap();
    let f = PollFd::new(f).unwrap();
    let e = gogreen::run(move || {
        f.readable(None).unwrap();
        f.read_with(None, |_| Err::<(), _>(ErrorKind::WouldBlock.into()))
            .unwrap_err()
    });
    assert!(e.to_string().contains("regular file"), "{e}");
    let _ = std::fs::remove_file(&path);
}

#[test]
fn all_of_it_with_one_processor() {
    if std::env::var("GOGREEN_PROCS").as_deref() == Ok("1") {
        return;
    }
    let out = rerun_all_with(&[("GOGREEN_PROCS", "1")], "all_of_it_with_one_processor");
    assert!(
        out.status.success(),
        "with GOGREEN_PROCS=1:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
