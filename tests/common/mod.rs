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
