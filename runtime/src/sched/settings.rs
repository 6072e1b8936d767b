//! The scheduler's settings: how many processors and the default stack size, from the
//! caller, the environment (`GOGREEN_PROCS`, `GOGREEN_STACK_SIZE`) or the defaults.
//!
//! Fixed when the runtime starts. `config.rs` is the public builder over these; the
//! scheduler reads the environment itself, so it never reaches up into the API layer.

use crate::stack::{self, DEFAULT_STACK_SIZE};
use std::io;

/// The most processors accepted.
pub const MAX_PROCS: usize = 1024;

/// Settings fixed when the runtime starts.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    pub(crate) procs: usize,
    pub(crate) stack_size: usize,
}

/// Checks a processor count.
pub(crate) fn check_procs(n: usize) -> io::Result<usize> {
    if n == 0 || n > MAX_PROCS {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("gogreen: procs must be between 1 and {MAX_PROCS}, got {n}"),
        ));
    }
    Ok(n)
}

/// Settings from the environment and the defaults. A malformed variable is reported
/// on stderr and ignored, as Go does with `GOMAXPROCS`.
pub(crate) fn from_env() -> Settings {
    let default_procs = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_PROCS);
    let procs = env_number("GOGREEN_PROCS", |n| check_procs(n as usize)).unwrap_or(default_procs);
    let stack_size = env_number("GOGREEN_STACK_SIZE", |n| stack::validate_size(n as usize))
        .unwrap_or(DEFAULT_STACK_SIZE);
    Settings { procs, stack_size }
}

fn env_number(var: &str, check: impl FnOnce(u64) -> io::Result<usize>) -> Option<usize> {
    let raw = std::env::var(var).ok()?;
    match raw
        .trim()
        .parse::<u64>()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
        .and_then(check)
    {
        Ok(n) => Some(n),
        Err(e) => {
            eprintln!("gogreen: ignoring {var}={raw:?}: {e}");
            None
        }
    }
}
