//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::process::{Command, Output};

const CHILD_VAR: &str = "GOGREEN_TEST_CHILD";

/// The scenario this process was started for, if it is a child of a test.
pub fn child_scenario() -> Option<String> {
    std::env::var(CHILD_VAR).ok()
}

/// Runs the test `test` of this same test binary in a child process, with
/// `GOGREEN_TEST_CHILD=scenario` and extra environment variables.
pub fn run_child(test: &str, scenario: &str, envs: &[(&str, &str)]) -> Output {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD_VAR, scenario);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("spawn the child test process")
}

/// Like [`run_child`], but kills the child if it has not exited after `limit`: a
/// watchdog for scenarios that hang when broken. Returns `None` if it had to be killed.
pub fn run_child_watched(
    test: &str,
    scenario: &str,
    envs: &[(&str, &str)],
    limit: std::time::Duration,
) -> Option<Output> {
    watched(
        &["--exact", test, "--nocapture", "--test-threads=1"],
        scenario,
        envs,
        limit,
    )
}

/// Like [`run_child_watched`], but the child's test harness captures the test's output,
/// as a plain `cargo test` does.
pub fn run_child_watched_captured(
    test: &str,
    scenario: &str,
    envs: &[(&str, &str)],
    limit: std::time::Duration,
) -> Option<Output> {
    watched(
        &["--exact", test, "--test-threads=1"],
        scenario,
        envs,
        limit,
    )
}

fn watched(
    args: &[&str],
    scenario: &str,
    envs: &[(&str, &str)],
    limit: std::time::Duration,
) -> Option<Output> {
    use std::process::Stdio;
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .env(CHILD_VAR, scenario)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn the child test process");
    // Drain the pipes on threads, so a chatty child cannot block on a full pipe.
    let mut out_pipe = child.stdout.take().expect("piped");
    let mut err_pipe = child.stderr.take().expect("piped");
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut out_pipe, &mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut err_pipe, &mut v);
        v
    });
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break Some(status);
        }
        if start.elapsed() >= limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let stdout = out_reader.join().expect("stdout reader");
    let stderr = err_reader.join().expect("stderr reader");
    status.map(|status| Output {
        status,
        stdout,
        stderr,
    })
}

/// How long a watched child may take: far more than any scenario needs on a loaded
/// machine, so only a real hang trips it.
pub const WATCHDOG: std::time::Duration = std::time::Duration::from_secs(60);

/// Panics with the child's output unless it exited successfully in time.
pub fn expect_child_ok(what: &str, out: Option<Output>) -> Output {
    let Some(out) = out else {
        panic!("{what}: the child hung (killed by the watchdog)");
    };
    assert!(
        out.status.success(),
        "{what}: the child failed ({:?})\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The signal that killed the child, if one did.
pub fn signal_of(out: &Output) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    out.status.signal()
}

/// Resident memory of this process right now, in KiB (from /proc/self/statm).
pub fn rss_kb() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .expect("rss field")
        .parse()
        .expect("number");
    pages * 4
}

/// A bound for liveness checks: generous, so that a loaded machine never trips it;
/// only a real hang does.
pub const PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

/// Like [`run_child`], with a watchdog: a child that has not exited after [`PATIENCE`]
/// is killed, and the test fails saying so, with what the child wrote. For cases that
/// could hang (a task that never runs, a wait that is never woken).
pub fn run_child_watchdog(test: &str, scenario: &str, envs: &[(&str, &str)]) -> Output {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD_VAR, scenario);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    watch(cmd)
}

/// Runs `cmd` to its end under the watchdog of [`run_child_watchdog`].
pub fn watch(mut cmd: Command) -> Output {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the child process");
    // Drain both pipes meanwhile, so that a chatty child cannot block on a full one.
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("stdout")));
    let err = drain(Box::new(child.stderr.take().expect("stderr")));
    let deadline = std::time::Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let err = err.join().unwrap_or_default();
            panic!(
                "the child process hung (killed after {PATIENCE:?}); its stderr:\n{}",
                String::from_utf8_lossy(&err)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// Starts the runtime and its threads (spread over the processors), then limits the
/// address space to what the process has plus room for one more stack reservation
/// (1 GiB) and for malloc: the next reservation after that fails. Run it with
/// `MALLOC_ARENA_MAX=1` (see [`ADDRESS_SPACE_ENV`]): each malloc arena reserves 64 MiB,
/// and threads that sysmon starts on a loaded machine would otherwise eat the room.
pub fn limit_address_space() {
    let hs: Vec<_> = (0..64)
        .map(|_| gogreen::spawn(|| std::thread::sleep(std::time::Duration::from_millis(5))))
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: u64 = statm
        .split_whitespace()
        .next()
        .expect("size field")
        .parse()
        .expect("number");
    // SAFETY: setrlimit on our own process.
    unsafe {
        let lim = libc::rlimit {
            rlim_cur: pages * 4096 + (1792 << 20),
            rlim_max: libc::RLIM_INFINITY,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_AS, &lim), 0);
    }
}

/// The environment for a child that calls [`limit_address_space`].
pub const ADDRESS_SPACE_ENV: (&str, &str) = ("MALLOC_ARENA_MAX", "1");

/// Raises this process's soft limit of open files to the hard one; returns the limit
/// now in force. Tests that need many sockets skip, saying so, when it is too low.
pub fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit on a valid struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim = raised;
            }
        }
    }
    lim.rlim_cur
}

/// Aborts the process, naming the test, if it is not dropped within `PATIENCE`: for
/// tests that would hang, rather than fail, if the runtime lost a wake-up.
pub struct Watchdog {
    done: Option<std::sync::mpsc::Sender<()>>,
}

impl Watchdog {
    pub fn new(name: &'static str) -> Watchdog {
        let (done, wait) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(PATIENCE) {
                eprintln!("{name}: no progress in {PATIENCE:?}: a wake-up was lost");
                std::process::abort();
            }
        });
        Watchdog { done: Some(done) }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            let _ = done.send(());
        }
    }
}

/// Runs every test of this binary again in a child process with `envs`, skipping the
/// tests whose names contain `skip` (the caller itself); returns its output.
pub fn rerun_all_with(envs: &[(&str, &str)], skip: &str) -> Output {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = Command::new(exe);
    cmd.args(["--skip", skip]);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("spawn the child test process")
}
