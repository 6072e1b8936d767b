//! A green thread waiting on I/O leaves its processor to the others.
//!
//! With one processor, a hundred green threads block reading a hundred sockets, then one
//! more green thread — queued behind them on the same processor — writes to each. Had a
//! read held its OS thread, the writer would run only once sysmon lent it a spare
//! processor, and it keeps 32 spares: a hundred stuck reads would leave the writer no
//! processor at all, and the watchdog would end the test.

mod common;

use common::{Watchdog, child_scenario, run_child};
use gogreen::net::UnixStream;
use std::io::{Read, Write};

#[test]
fn a_green_thread_waiting_on_io_leaves_its_processor() {
    if child_scenario().as_deref() != Some("one_processor") {
        let out = run_child(
            "a_green_thread_waiting_on_io_leaves_its_processor",
            "one_processor",
            &[("GOGREEN_PROCS", "1")],
        );
        assert!(
            out.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    let _w = Watchdog::new("a_green_thread_waiting_on_io_leaves_its_processor");
    let n = 100;
    let total = gogreen::run(move || {
        let mut ours = Vec::new();
        let mut readers = Vec::new();
        for i in 0..n {
            let (a, mut b) = UnixStream::pair().unwrap();
            ours.push(a);
            readers.push(gogreen::spawn(move || {
                let mut v = [0u8; 1];
                b.read_exact(&mut v).unwrap();
                b.write_all(&[v[0] ^ 0xff]).unwrap();
                u64::from(v[0]) + i
            }));
        }
        // Every reader runs (and blocks) before the writer: it is queued behind them.
        let writer = gogreen::spawn(move || {
            for (i, a) in ours.iter().enumerate() {
                (&*a).write_all(&[i as u8]).unwrap();
            }
            for (i, a) in ours.iter().enumerate() {
                let mut v = [0u8; 1];
                (&*a).read_exact(&mut v).unwrap();
                assert_eq!(v[0], (i as u8) ^ 0xff);
            }
        });
        writer.join().unwrap();
        readers.into_iter().map(|r| r.join().unwrap()).sum::<u64>()
    });
    assert_eq!(total, 2 * (0..n).sum::<u64>());
}
