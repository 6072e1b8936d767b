//! The scheduler's settings: how many processors, the default stack size, and the most
//! OS threads it may start — from the caller, the environment (`GOGREEN_PROCS`,
//! `GOGREEN_STACK_SIZE`, `GOGREEN_MAX_THREADS`) or the defaults.
//!
//! Fixed when the runtime starts. `config.rs` is the public builder over these; the
//! scheduler reads the environment itself, so it never reaches up into the API layer.

use crate::stack::{self, DEFAULT_STACK_SIZE};
use std::io;

/// The most processors accepted.
pub const MAX_PROCS: usize = 1024;

/// The default limit on the scheduler's OS threads (Go's is the same).
pub const DEFAULT_MAX_THREADS: usize = 10_000;

/// Settings fixed when the runtime starts.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    pub(crate) procs: usize,
    pub(crate) stack_size: usize,
    /// The most Ms alive at once: one per processor in play, one per blocking call or
    /// parked thread-locked green thread that holds an M without a P.
    pub(crate) max_threads: usize,
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

/// Checks a thread limit against the processor count: every processor needs an M.
pub(crate) fn check_max_threads(n: usize, procs: usize) -> io::Result<usize> {
    if n < procs {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "gogreen: max_threads must be at least the number of processors ({procs}), \
                 got {n}; raise it, or lower procs"
            ),
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
    let max_threads = env_number("GOGREEN_MAX_THREADS", |n| {
        check_max_threads(usize::try_from(n).unwrap_or(usize::MAX), procs)
    })
    .unwrap_or(DEFAULT_MAX_THREADS.max(procs));
    Settings {
        procs,
        stack_size,
        max_threads,
    }
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
