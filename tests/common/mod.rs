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
