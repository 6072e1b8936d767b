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
