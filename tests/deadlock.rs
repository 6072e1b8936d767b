//! The deadlock report: fires, with status 2 and the dump, when no green thread can ever
//! run again; stays silent whenever something outside the green threads might still act.
//!
//! `harness = false`: each scenario runs in a child process of this binary whose only
//! threads are `main` and the runtime's — libtest's own threads would be OS threads the
//! runtime cannot see into, and it would (rightly) stay silent.

use gogreen::chan::bounded;
use gogreen::sync::WaitGroup;
use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const CHILD: &str = "GOGREEN_TEST_CHILD";
const REPORT: &str = "gogreen: fatal: all green threads are asleep - deadlock!";

/// How long a child that must hang is watched before it is killed: long enough for
/// a false report to show on a loaded machine.
const SILENCE: Duration = Duration::from_secs(2);
/// How long any child may take at most: only a real hang trips it.
const PATIENCE: Duration = Duration::from_secs(60);

fn scenario(name: &str) {
    match name {
        // Two green threads, each receiving from the other first.
        "cycle" => gogreen::run(|| {
            let (to_a, from_b) = bounded::<u32>(0);
            let (to_b, from_a) = bounded::<u32>(0);
            let a = gogreen::Builder::new()
                .name("a")
                .spawn(move || {
                    let v = from_b.recv().unwrap();
                    to_b.send(v).unwrap();
                })
                .unwrap();
            let b = gogreen::Builder::new()
                .name("b")
                .spawn(move || {
                    let v = from_a.recv().unwrap();
                    to_a.send(v).unwrap();
                })
                .unwrap();
            a.join().unwrap();
            b.join().unwrap();
        }),
        // A WaitGroup nobody will ever mark done.
        "waitgroup" => gogreen::run(|| {
            let wg = WaitGroup::new();
            wg.add(1);
            wg.wait();
        }),
        // The joiner holds what its joinee waits for.
        "join" => gogreen::run(|| {
            let (tx, rx) = bounded::<()>(0);
            let h = gogreen::Builder::new()
                .name("joinee")
                .spawn(move || rx.recv().unwrap())
                .unwrap();
            h.join().unwrap();
            tx.send(()).unwrap();
        }),
        // The main thread itself blocked in a join, no `run`.
        "main-join" => {
            let wg = WaitGroup::new();
            wg.add(1);
            let wg2 = wg.clone();
            let h = gogreen::spawn(move || wg2.wait());
            h.join().unwrap();
            wg.done();
        }
        // Sleeps end: the program completes.
        "sleep" => gogreen::run(|| {
            let hs: Vec<_> = (0..4)
                .map(|i| gogreen::spawn(move || gogreen::sleep(Duration::from_millis(100 * i))))
                .collect();
            for h in hs {
                h.join().unwrap();
            }
        }),
        // A sleep longer than the watchdog: a timer is pending, so no report.
        "long-sleep" => gogreen::run(|| gogreen::sleep(Duration::from_secs(3600))),
        // A read nothing will answer — but I/O comes from outside: no report.
        "io" => gogreen::run(|| {
            let (a, b) = gogreen::net::UnixStream::pair().unwrap();
            let h = gogreen::spawn(move || {
                let mut b = b;
                let mut buf = [0u8; 1];
                let _ = b.read(&mut buf);
            });
            h.join().unwrap();
            drop(a);
        }),
        // A plain OS thread sends after a while: it runs meanwhile, so no report, and
        // the program completes.
        "os-thread" => gogreen::run(|| {
            let (tx, rx) = bounded::<u32>(0);
            let t = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(500));
                tx.send(7).unwrap();
            });
            assert_eq!(rx.recv().unwrap(), 7);
            t.join().unwrap();
        }),
        // A plain OS thread holds the Sender and blocks outside the runtime (a std
        // channel): the runtime cannot know it will never send.
        "os-thread-blocked" => gogreen::run(|| {
            let (tx, rx) = bounded::<u32>(0);
            let (_keep, never) = std::sync::mpsc::channel::<()>();
            std::thread::spawn(move || {
                let _tx = tx;
                let _ = never.recv();
            });
            let _ = rx.recv();
        }),
        other => panic!("unknown scenario {other:?}"),
    }
}

/// Runs scenario `name` in a child; kills it after `limit`. `None` if it was killed.
fn child(name: &str, limit: Duration) -> Option<Output> {
    let exe = std::env::current_exe().expect("current_exe");
    let mut c = Command::new(exe)
        .env(CHILD, name)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the child");
    let mut err_pipe = c.stderr.take().expect("piped");
    let mut out_pipe = c.stdout.take().expect("piped");
    let err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err_pipe.read_to_end(&mut v);
        v
    });
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out_pipe.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = c.try_wait().expect("wait") {
            break Some(s);
        }
        if start.elapsed() > limit {
            let _ = c.kill();
            let _ = c.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stderr = err.join().unwrap();
    let stdout = out.join().unwrap();
    if status.is_none() {
        let text = String::from_utf8_lossy(&stderr);
        assert!(!text.contains(REPORT), "{name}: a false report:\n{text}");
    }
    status.map(|status| Output {
        status,
        stdout,
        stderr,
    })
}

/// The scenario must end with the report, the dump naming `waits` ("name" [reason),
/// and status 2.
fn fires(name: &str, waits: &[&str]) {
    let Some(out) = child(name, PATIENCE) else {
        panic!("{name}: no report: the child hung until the watchdog killed it");
    };
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{name}: {:?}\n{err}",
        out.status
    );
    assert!(err.starts_with(REPORT), "{name}:\n{err}");
    assert!(
        err.contains("\ngreen thread 1 ["),
        "{name}: no dump:\n{err}"
    );
    for w in waits {
        assert!(err.contains(w), "{name}: no {w:?} in:\n{err}");
    }
    println!("{name}: reported, status 2");
}

/// The scenario must complete on its own, without a report.
fn completes(name: &str) {
    let Some(out) = child(name, PATIENCE) else {
        panic!("{name}: hung");
    };
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{name}: {:?}\n{err}", out.status);
    assert!(!err.contains(REPORT), "{name}: a false report:\n{err}");
    println!("{name}: completed, silent");
}

/// The scenario must still be running, silent, when the watchdog kills it.
fn stays_silent(name: &str) {
    if let Some(out) = child(name, SILENCE) {
        panic!(
            "{name}: ended ({:?}) instead of hanging:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    println!("{name}: hung silently until killed");
}

fn main() {
    if let Ok(name) = std::env::var(CHILD) {
        scenario(&name);
        return;
    }
    // libtest-style arguments (a filter, --nocapture, ...) are ignored: the scenarios
    // are few and run in children.
    fires(
        "cycle",
        &["\"a\" [chan receive", "\"b\" [chan receive", "[join"],
    );
    fires("waitgroup", &["[WaitGroup.wait"]);
    fires("join", &["\"joinee\" [chan receive", "[join"]);
    fires("main-join", &["[WaitGroup.wait"]);
    completes("sleep");
    completes("os-thread");
    stays_silent("long-sleep");
    stays_silent("io");
    stays_silent("os-thread-blocked");
}
