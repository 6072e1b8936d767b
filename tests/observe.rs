//! Watching the scheduler: `stats()`, `GOGREEN_SCHEDTRACE` and `dump()` say what the
//! runtime is doing — checked on loads whose state is known.

mod common;

use common::{PATIENCE, child_scenario, expect_child_ok, run_child_watched};
use gogreen::WaitReason;
use std::time::{Duration, Instant};

/// Waits (on this plain thread) until `cond` holds; fails the test if it never does.
fn eventually(what: &str, mut cond: impl FnMut() -> Result<(), String>) {
    let start = Instant::now();
    while let Err(why) = cond() {
        assert!(start.elapsed() < PATIENCE, "never happened: {what}: {why}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The entry of green thread `name` in a dump: its header line and what follows, up to
/// the next entry.
fn entry<'a>(dump: &'a str, name: &str) -> Option<&'a str> {
    let head = format!(" \"{name}\" [");
    let start = dump.find(&head)?;
    let start = dump[..start].rfind("green thread ").unwrap_or(start);
    let rest = &dump[start..];
    let end = rest[1..]
        .find("\ngreen thread ")
        .map_or(rest.len(), |i| i + 1);
    Some(&rest[..end])
}

/// The bracketed state of an entry: `chan receive, 12 ms` in `green thread 7 "x" [...]:`.
fn state_of(entry: &str) -> &str {
    let line = entry.lines().next().unwrap_or("");
    let open = line.find(" [").map_or(0, |i| i + 2);
    let close = line.rfind("]:").unwrap_or(line.len());
    &line[open..close]
}

#[test]
fn the_dump_names_every_wait_state() {
    use gogreen::chan::{bounded, never};
    use gogreen::sync::{Barrier, Condvar, Mutex, RwLock, Semaphore, WaitGroup};
    use std::sync::Arc;

    let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
        gogreen::Builder::new().name(name).spawn(f).unwrap()
    };
    let mut hs = Vec::new();

    let (send_tx, send_rx) = bounded::<u32>(0);
    hs.push(spawn(
        "obs-send",
        Box::new(move || send_tx.send(1).unwrap()),
    ));
    let (recv_tx, recv_rx) = bounded::<u32>(0);
    hs.push(spawn(
        "obs-recv",
        Box::new(move || {
            recv_rx.recv().unwrap();
        }),
    ));
    let (sel_tx, sel_rx) = bounded::<u32>(0);
    let nothing = never::<u32>();
    hs.push(spawn(
        "obs-select",
        Box::new(move || {
            gogreen::select! {
                recv(sel_rx) -> v => { v.unwrap(); }
                recv(nothing) -> _ => unreachable!(),
            }
        }),
    ));
    // Never joined: it sleeps past the end of the test process.
    drop(spawn(
        "obs-sleep",
        Box::new(|| gogreen::sleep(Duration::from_secs(3600))),
    ));
    let (pause_tx, pause_rx) = bounded::<()>(0);
    let joinee = spawn(
        "obs-joinee",
        Box::new(move || {
            pause_rx.recv().unwrap();
        }),
    );
    hs.push(spawn(
        "obs-join",
        Box::new(move || {
            joinee.join().unwrap();
        }),
    ));
    let wg = WaitGroup::new();
    wg.add(1);
    let wg2 = wg.clone();
    hs.push(spawn("obs-waitgroup", Box::new(move || wg2.wait())));
    let (mut io_a, io_b) = gogreen::net::UnixStream::pair().unwrap();
    hs.push(spawn(
        "obs-io",
        Box::new(move || {
            let mut b = io_b;
            let mut buf = [0u8; 1];
            std::io::Read::read_exact(&mut b, &mut buf).unwrap();
        }),
    ));
    let mutex = Arc::new(Mutex::new(0u32));
    let held = mutex.lock().unwrap();
    let m2 = mutex.clone();
    hs.push(spawn(
        "obs-mutex",
        Box::new(move || *m2.lock().unwrap() += 1),
    ));
    let rw = Arc::new(RwLock::new(0u32));
    let rw_held = rw.write().unwrap();
    let rw2 = rw.clone();
    hs.push(spawn(
        "obs-rwlock",
        Box::new(move || {
            let _ = *rw2.read().unwrap();
        }),
    ));
    let cv = Arc::new((Mutex::new(false), Condvar::new()));
    let cv2 = cv.clone();
    hs.push(spawn(
        "obs-condvar",
        Box::new(move || {
            let (m, c) = &*cv2;
            let mut ready = m.lock().unwrap();
            while !*ready {
                ready = c.wait(ready).unwrap();
            }
        }),
    ));
    let sem = Arc::new(Semaphore::new(1));
    let permit = sem.try_acquire().unwrap();
    let sem2 = sem.clone();
    hs.push(spawn(
        "obs-semaphore",
        Box::new(move || {
            sem2.acquire().unwrap().forget();
        }),
    ));
    let barrier = Arc::new(Barrier::new(2));
    let b2 = barrier.clone();
    hs.push(spawn(
        "obs-barrier",
        Box::new(move || {
            b2.wait();
        }),
    ));
    let (os_tx, os_rx) = std::sync::mpsc::channel::<()>();
    hs.push(spawn(
        "obs-blocking",
        Box::new(move || {
            gogreen::blocking(move || os_rx.recv().unwrap());
        }),
    ));

    let expected = [
        ("obs-send", "chan send"),
        ("obs-recv", "chan receive"),
        ("obs-select", "select"),
        ("obs-sleep", "sleep"),
        ("obs-joinee", "chan receive"),
        ("obs-join", "join"),
        ("obs-waitgroup", "WaitGroup.wait"),
        ("obs-io", "IO wait"),
        ("obs-mutex", "Mutex.lock"),
        ("obs-rwlock", "RwLock.read"),
        ("obs-condvar", "Condvar.wait"),
        ("obs-semaphore", "Semaphore.acquire"),
        ("obs-barrier", "Barrier.wait"),
        ("obs-blocking", "blocking call"),
    ];
    let mut last = String::new();
    eventually("every green thread of the test waits as expected", || {
        last = gogreen::dump();
        match expected.iter().find(|(name, why)| {
            !entry(&last, name).is_some_and(|e| {
                let state = state_of(e);
                state.starts_with(&format!("{why},")) || state.starts_with(&format!("{why} on M"))
            })
        }) {
            Some((name, why)) => Err(format!("{name} is not [{why}, ...] in\n{last}")),
            None => Ok(()),
        }
    });
    // A parked green thread's frames reach into the test's own code; the header names
    // where it was spawned.
    let recv = entry(&last, "obs-recv").unwrap();
    assert!(recv.contains("spawned at tests/observe.rs:"), "{recv}");
    assert!(
        recv.contains("observe::"),
        "no frame of the test in:\n{recv}"
    );
    assert!(recv.contains("Receiver<T>::recv"), "{recv}");
    // A blocking call shows its M.
    let blocking = entry(&last, "obs-blocking").unwrap();
    assert!(state_of(blocking).contains(" on M"), "{blocking}");

    // The stats count the same waits.
    let stats = gogreen::stats();
    for (why, at_least) in [
        (WaitReason::Send, 1),
        (WaitReason::Recv, 2),
        (WaitReason::Join, 1),
        (WaitReason::WaitGroup, 1),
        (WaitReason::Io, 1),
        (WaitReason::Mutex, 1),
        (WaitReason::RwLockRead, 1),
        (WaitReason::Condvar, 1),
        (WaitReason::Semaphore, 1),
        (WaitReason::Barrier, 1),
        (WaitReason::Blocking, 1),
    ] {
        assert!(
            stats.tasks.waiting_for(why) >= at_least,
            "{why}: {:?}",
            stats.tasks
        );
    }
    assert!(stats.io_waiters >= 1, "{stats}");

    // Let every one of them go; each ends.
    assert_eq!(send_rx.recv().unwrap(), 1);
    recv_tx.send(1).unwrap();
    sel_tx.send(1).unwrap();
    pause_tx.send(()).unwrap();
    wg.done();
    std::io::Write::write_all(&mut io_a, b"x").unwrap();
    drop(held);
    drop(rw_held);
    {
        let (m, c) = &*cv;
        *m.lock().unwrap() = true;
        c.notify_all();
    }
    drop(permit);
    barrier.wait();
    os_tx.send(()).unwrap();
    for h in hs {
        h.join().unwrap();
    }
}

/// One `SCHED` line, parsed: `(ms, gomaxprocs, idleprocs, threads, spinningthreads,
/// idlethreads, runqueue, local queues)`.
type Sched = (u64, usize, usize, usize, usize, usize, usize, Vec<usize>);

fn parse_sched(line: &str) -> Option<Sched> {
    let rest = line.strip_prefix("SCHED ")?;
    let (ms, rest) = rest.split_once("ms: ")?;
    let (fields, queues) = rest.split_once(" [")?;
    let queues = queues.strip_suffix(']')?;
    let mut values = Vec::new();
    for (field, want) in fields.split(' ').zip([
        "gomaxprocs",
        "idleprocs",
        "threads",
        "spinningthreads",
        "idlethreads",
        "runqueue",
    ]) {
        let (k, v) = field.split_once('=')?;
        if k != want {
            return None;
        }
        values.push(v.parse().ok()?);
    }
    if values.len() != 6 || fields.split(' ').count() != 6 {
        return None;
    }
    let queues = if queues.is_empty() {
        Vec::new()
    } else {
        queues
            .split(' ')
            .map(|q| q.parse().ok())
            .collect::<Option<Vec<usize>>>()?
    };
    Some((
        ms.parse().ok()?,
        values[0],
        values[1],
        values[2],
        values[3],
        values[4],
        values[5],
        queues,
    ))
}

#[test]
fn schedtrace_lines_parse_and_agree_with_stats_at_rest() {
    if child_scenario().as_deref() == Some("schedtrace-rest") {
        // A known load at rest: 20 green threads parked on a channel, 5 on a WaitGroup.
        let (tx, rx) = gogreen::chan::bounded::<()>(0);
        let wg = gogreen::sync::WaitGroup::new();
        wg.add(1);
        let mut hs = Vec::new();
        for _ in 0..20 {
            let rx = rx.clone();
            hs.push(gogreen::spawn(move || {
                let _ = rx.recv();
            }));
        }
        for _ in 0..5 {
            let wg = wg.clone();
            hs.push(gogreen::spawn(move || wg.wait()));
        }
        eventually("25 green threads parked, every P idle", || {
            let s = gogreen::stats();
            if s.tasks.waiting_for(WaitReason::Recv) == 20
                && s.tasks.waiting_for(WaitReason::WaitGroup) == 5
                && s.idle_procs == s.procs
                && s.ms.idle == s.threads
            {
                Ok(())
            } else {
                Err(s.to_string())
            }
        });
        let s = gogreen::stats();
        assert_eq!(s.tasks.runnable + s.tasks.running, 0, "{s}");
        assert!(s.counters.spawns >= 25 && s.counters.parks >= 25, "{s}");
        eprintln!(
            "STATS procs={} idle={} threads={} idlems={} global={}",
            s.procs, s.idle_procs, s.threads, s.ms.idle, s.global_queue
        );
        // Several trace periods at rest.
        std::thread::sleep(Duration::from_millis(400));
        eprintln!("END");
        drop(tx);
        wg.done();
        for h in hs {
            h.join().unwrap();
        }
        return;
    }
    let out = expect_child_ok(
        "schedtrace at rest",
        run_child_watched(
            "schedtrace_lines_parse_and_agree_with_stats_at_rest",
            "schedtrace-rest",
            &[("GOGREEN_SCHEDTRACE", "50"), ("GOGREEN_PROCS", "2")],
            PATIENCE,
        ),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let mut stats = None;
    let mut at_rest = 0;
    let mut last_ms = 0;
    for line in err.lines() {
        if let Some(s) = line.strip_prefix("STATS ") {
            let v: Vec<usize> = s
                .split(' ')
                .map(|kv| kv.split_once('=').unwrap().1.parse().unwrap())
                .collect();
            stats = Some(v);
            continue;
        }
        if line == "END" {
            stats = None;
            continue;
        }
        if !line.starts_with("SCHED") {
            continue;
        }
        let Some(sched) = parse_sched(line) else {
            panic!("a line not in Go's format: {line:?}\n{err}");
        };
        let (ms, maxprocs, idleprocs, threads, spinning, idlethreads, runqueue, queues) = sched;
        assert_eq!(maxprocs, 2, "{line}");
        assert!(ms >= last_ms, "time goes backwards: {line}");
        last_ms = ms;
        assert!(queues.len() >= maxprocs, "{line}");
        if let Some(v) = &stats {
            // At rest the trace says what `stats()` said.
            let (procs, idle, sthreads, idlems, global) = (v[0], v[1], v[2], v[3], v[4]);
            assert_eq!(maxprocs, procs, "{line}");
            assert_eq!(idleprocs, idle, "{line}");
            assert_eq!(threads, sthreads + 1, "{line} (threads counts sysmon)");
            assert_eq!(idlethreads, idlems, "{line}");
            assert_eq!(runqueue, global, "{line}");
            assert_eq!(spinning, 0, "{line}");
            assert!(queues.iter().all(|&q| q == 0), "{line}");
            at_rest += 1;
        }
    }
    assert!(at_rest >= 1, "no SCHED line while at rest:\n{err}");
}

#[test]
fn schedtrace_on_ping_pong_prints_go_format_and_detail() {
    if child_scenario().as_deref() == Some("schedtrace-pingpong") {
        // The ping_pong workload of examples/workloads.rs, long enough for a few lines.
        gogreen::run(|| {
            let (ping_tx, ping_rx) = gogreen::chan::bounded::<u64>(0);
            let (pong_tx, pong_rx) = gogreen::chan::bounded::<u64>(0);
            let h = gogreen::Builder::new()
                .name("ponger")
                .spawn(move || {
                    while let Ok(v) = ping_rx.recv() {
                        pong_tx.send(v + 1).unwrap();
                    }
                })
                .unwrap();
            let start = Instant::now();
            let mut n = 0u64;
            while start.elapsed() < Duration::from_millis(300) {
                for _ in 0..1000 {
                    ping_tx.send(n).unwrap();
                    n = pong_rx.recv().unwrap();
                }
            }
            drop(ping_tx);
            h.join().unwrap();
        });
        return;
    }
    let out = expect_child_ok(
        "schedtrace on ping-pong",
        run_child_watched(
            "schedtrace_on_ping_pong_prints_go_format_and_detail",
            "schedtrace-pingpong",
            &[
                ("GOGREEN_SCHEDTRACE", "20"),
                ("GOGREEN_SCHEDDETAIL", "1"),
                ("GOGREEN_PROCS", "2"),
            ],
            PATIENCE,
        ),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let sched: Vec<&str> = err.lines().filter(|l| l.starts_with("SCHED ")).collect();
    assert!(!sched.is_empty(), "no SCHED line:\n{err}");
    for line in &sched {
        // With detail, the queues are on the P lines, as in Go: no bracket.
        let with_bracket = format!("{line} []");
        assert!(parse_sched(&with_bracket).is_some(), "{line}");
    }
    assert!(err.lines().any(|l| l.starts_with("  P0: status=")), "{err}");
    assert!(err.lines().any(|l| l.starts_with("  M0: p=")), "{err}");
    assert!(
        err.lines()
            .any(|l| l.starts_with("  G") && l.contains(": status=")),
        "{err}"
    );
}

#[test]
fn sigquit_prints_the_dump_and_exits_2() {
    if child_scenario().as_deref() == Some("sigquit") {
        let (_tx, rx) = gogreen::chan::bounded::<()>(0);
        let h = gogreen::Builder::new()
            .name("stuck")
            .spawn(move || {
                let _ = rx.recv();
            })
            .unwrap();
        eventually("the green thread parks", || {
            match gogreen::stats().tasks.waiting_for(WaitReason::Recv) {
                1 => Ok(()),
                n => Err(format!("{n} waiting")),
            }
        });
        // SAFETY: raising a signal at ourselves.
        unsafe { libc::raise(libc::SIGQUIT) };
        let _ = h.join();
        unreachable!("SIGQUIT must end the process");
    }
    let out = run_child_watched(
        "sigquit_prints_the_dump_and_exits_2",
        "sigquit",
        &[],
        PATIENCE,
    )
    .expect("the child hung: SIGQUIT did not end it");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{:?}\n{err}", out.status);
    let dump = &err[err.find("SIGQUIT: quit").unwrap_or_else(|| panic!("{err}"))..];
    assert!(dump.contains("\"stuck\" [chan receive"), "{dump}");
    assert!(dump.contains("Receiver<T>::recv"), "{dump}");
}

#[test]
fn a_sigquit_disposition_of_the_program_is_kept() {
    if child_scenario().as_deref() == Some("sigquit-ignored") {
        // SAFETY: setting a disposition before the runtime starts.
        unsafe { libc::signal(libc::SIGQUIT, libc::SIG_IGN) };
        gogreen::run(|| {
            // SAFETY: raising a signal at ourselves; it is ignored.
            unsafe { libc::raise(libc::SIGQUIT) };
            gogreen::sleep(Duration::from_millis(50));
        });
        return;
    }
    expect_child_ok(
        "SIGQUIT ignored by the program",
        run_child_watched(
            "a_sigquit_disposition_of_the_program_is_kept",
            "sigquit-ignored",
            &[],
            PATIENCE,
        ),
    );
}

/// Copies this process's stderr through a pipe, counting the lines that contain
/// `needle` — so a child can wait for the warning it provoked.
fn count_stderr_lines(
    needles: &'static [&'static str],
) -> Vec<std::sync::Arc<std::sync::atomic::AtomicUsize>> {
    use std::io::{BufRead, Write};
    use std::os::fd::FromRawFd;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let counts: Vec<_> = needles
        .iter()
        .map(|_| Arc::new(AtomicUsize::new(0)))
        .collect();
    let mut fds = [0; 2];
    // SAFETY: plain descriptor juggling on this process's own stderr.
    let real = unsafe {
        assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
        let real = libc::dup(2);
        assert_eq!(libc::dup2(fds[1], 2), 2);
        libc::close(fds[1]);
        std::fs::File::from_raw_fd(real)
    };
    // SAFETY: the read end is ours alone.
    let read = unsafe { std::fs::File::from_raw_fd(fds[0]) };
    let counted = counts.clone();
    std::thread::spawn(move || {
        let mut real = real;
        for line in std::io::BufReader::new(read).lines() {
            let Ok(line) = line else { break };
            let _ = writeln!(real, "{line}");
            for (needle, count) in needles.iter().zip(&counted) {
                if line.contains(needle) {
                    count.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
    });
    counts
}

#[test]
fn gogreen_warn_names_a_hog_and_an_unmarked_blocking_call_once_each() {
    use std::sync::atomic::Ordering;
    if child_scenario().as_deref() == Some("warn") {
        let counts = count_stderr_lines(&["\"hog\"", "\"sleeper\""]);
        let (hog_warned, sleeper_warned) = (counts[0].clone(), counts[1].clone());
        gogreen::run(|| {
            // A computation that never calls the runtime: warned once, however long.
            gogreen::Builder::new()
                .name("hog")
                .spawn(move || {
                    while hog_warned.load(Ordering::SeqCst) == 0 {
                        std::hint::spin_loop();
                    }
                    // Held again, as long again: no second warning.
                    let start = Instant::now();
                    while start.elapsed() < Duration::from_millis(30) {
                        std::hint::spin_loop();
                    }
                })
                .unwrap()
                .join()
                .unwrap();
            // A blocking call the runtime was not told about, in a loop.
            gogreen::Builder::new()
                .name("sleeper")
                .spawn(move || {
                    while sleeper_warned.load(Ordering::SeqCst) == 0 {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    for _ in 0..6 {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                })
                .unwrap()
                .join()
                .unwrap();
            // The same calls, marked: no warning.
            gogreen::Builder::new()
                .name("marked")
                .spawn(|| {
                    for _ in 0..6 {
                        gogreen::blocking(|| std::thread::sleep(Duration::from_millis(5)));
                    }
                })
                .unwrap()
                .join()
                .unwrap();
        });
        return;
    }
    let out = expect_child_ok(
        "GOGREEN_WARN",
        run_child_watched(
            "gogreen_warn_names_a_hog_and_an_unmarked_blocking_call_once_each",
            "warn",
            &[("GOGREEN_WARN", "1")],
            PATIENCE,
        ),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let warnings: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("gogreen: warning: "))
        .collect();
    let hog: Vec<_> = warnings.iter().filter(|l| l.contains("\"hog\"")).collect();
    assert_eq!(hog.len(), 1, "{err}");
    assert!(
        hog[0].contains("computing, without a runtime call"),
        "{}",
        hog[0]
    );
    assert!(
        hog[0].contains("(spawned at tests/observe.rs:"),
        "{}",
        hog[0]
    );
    let sleeper: Vec<_> = warnings
        .iter()
        .filter(|l| l.contains("\"sleeper\""))
        .collect();
    assert_eq!(sleeper.len(), 1, "{err}");
    assert!(
        sleeper[0].contains("blocked in the kernel"),
        "{}",
        sleeper[0]
    );
    assert!(!err.contains("\"marked\""), "{err}");
}
