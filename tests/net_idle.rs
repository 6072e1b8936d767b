//! Ten thousand idle connections, one green thread parked on each, each woken once.
//!
//! The clients live in a child process (this test binary again): a process here may hold
//! 20,000 open files, and each connection costs one on either side.

mod common;

use common::{Watchdog, child_scenario, raise_fd_limit, rerun_all_with};
use gogreen::net::{TcpListener, TcpStream};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

const CONNS: usize = 10_000;
const ADDR_VAR: &str = "GOGREEN_TEST_IDLE_ADDR";
const READY: &str = "all clients connected";

/// The child: opens every connection and proves it live, says so, waits for a line
/// on stdin, wakes every connection once (one byte each), reads every answer.
fn clients() {
    let addr = std::env::var(ADDR_VAR).expect("address");
    let mut conns = Vec::with_capacity(CONNS);
    for i in 0..CONNS {
        let mut c =
            TcpStream::connect(addr.as_str()).unwrap_or_else(|e| panic!("connect {i}: {e}"));
        c.write_all(b"a").unwrap();
        let mut b = [0u8; 1];
        c.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"a");
        conns.push(c);
    }
    // On a line of its own: the test harness may have started one.
    println!("\n{READY}");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
    for c in &conns {
        (&*c).write_all(b"b").unwrap();
    }
    let mut woken = 0;
    for c in &conns {
        let mut b = [0u8; 1];
        (&*c).read_exact(&mut b).unwrap();
        assert_eq!(&b, b"b");
        woken += 1;
    }
    println!("woken {woken}");
}

#[test]
fn ten_thousand_idle_connections_each_woken_once() {
    if child_scenario().as_deref() == Some("idle_clients") {
        clients();
        return;
    }
    let _w = Watchdog::new("ten_thousand_idle_connections_each_woken_once");
    let limit = raise_fd_limit();
    if limit < CONNS as u64 + 200 {
        eprintln!(
            "skipped: {CONNS} idle connections need {} open files in each process; the limit \
             here is {limit} (raise `ulimit -Hn`)",
            CONNS + 200
        );
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (parked_tx, parked) = gogreen::chan::unbounded::<()>();
    let (woken_tx, woken) = gogreen::chan::unbounded::<()>();
    gogreen::spawn(move || {
        for conn in listener.incoming() {
            let mut conn = conn.expect("accept");
            let (parked_tx, woken_tx) = (parked_tx.clone(), woken_tx.clone());
            gogreen::spawn(move || {
                let mut b = [0u8; 1];
                conn.read_exact(&mut b).unwrap();
                conn.write_all(&b).unwrap();
                parked_tx.send(()).unwrap();
                // Parked here, idle, until the child wakes every connection.
                conn.read_exact(&mut b).unwrap();
                woken_tx.send(()).unwrap();
                conn.write_all(&b).unwrap();
                assert_eq!(conn.read(&mut b).unwrap(), 0, "more than one wake-up");
            });
        }
    });
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "ten_thousand_idle_connections_each_woken_once",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("GOGREEN_TEST_CHILD", "idle_clients")
        .env(ADDR_VAR, addr.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while line.trim_end() != READY {
        line.clear();
        assert_ne!(
            out.read_line(&mut line).unwrap(),
            0,
            "the client process died"
        );
    }
    for _ in 0..CONNS {
        parked.recv().unwrap();
    }
    writeln!(child.stdin.take().unwrap(), "wake").unwrap();
    for _ in 0..CONNS {
        woken.recv().unwrap();
    }
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert!(child.wait().unwrap().success(), "the client process failed");
    assert!(rest.contains(&format!("woken {CONNS}")), "{rest}");
    assert!(woken.try_recv().is_err(), "a connection was woken twice");
}

#[test]
fn all_of_it_with_one_processor() {
    if child_scenario().is_some() || std::env::var("GOGREEN_PROCS").as_deref() == Ok("1") {
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
