//! Runtime settings: how many processors, and the default stack size.
//!
//! Fixed when the runtime starts — on first use, or explicitly with [`Config::apply`].
//! Without a `Config`, the environment decides (`GOGREEN_PROCS`, `GOGREEN_STACK_SIZE`),
//! then the defaults: one processor per available core, 64 KiB stacks.

use crate::sched::{self, Settings};
use crate::stack::{self, DEFAULT_STACK_SIZE};
use std::io;

/// The most processors accepted.
pub const MAX_PROCS: usize = 1024;

/// Settings for the runtime, applied before it starts.
///
/// ```
/// gogreen::Config::new().procs(2).stack_size(128 * 1024).apply().unwrap();
/// assert_eq!(gogreen::run(|| 6 * 7), 42);
/// // Too late now: the runtime is running.
/// assert!(gogreen::Config::new().procs(4).apply().is_err());
/// ```
#[derive(Clone, Debug, Default)]
pub struct Config {
    procs: Option<usize>,
    stack_size: Option<usize>,
}

impl Config {
    pub fn new() -> Self {
        Config::default()
    }

    /// Logical processors: how many green threads run in parallel at most.
    /// Default: the available parallelism, or `GOGREEN_PROCS`.
    pub fn procs(mut self, n: usize) -> Self {
        self.procs = Some(n);
        self
    }

    /// Address space reserved per green-thread stack, in bytes (rounded up to pages;
    /// memory is used only as pages are touched). Default: 64 KiB, or
    /// `GOGREEN_STACK_SIZE`.
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Starts the runtime with these settings.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for `procs(0)`, more than [`MAX_PROCS`], or a stack size outside
    /// [`stack::MIN_STACK_SIZE`]..=[`stack::MAX_STACK_SIZE`]; an error if the runtime is
    /// already running (it starts on first use).
    pub fn apply(self) -> io::Result<()> {
        let env = from_env();
        let procs = match self.procs {
            Some(n) => check_procs(n)?,
            None => env.procs,
        };
        let stack_size = match self.stack_size {
            Some(n) => stack::validate_size(n)?,
            None => env.stack_size,
        };
        if sched::started() {
            return Err(already_running());
        }
        sched::start(Some(Settings { procs, stack_size })).map(drop)
    }
}

fn already_running() -> io::Error {
    io::Error::other(
        "gogreen: the runtime is already running (it starts on first use: spawn, run, sleep, \
         a channel wait inside a green thread); call Config::apply before anything else",
    )
}

fn check_procs(n: usize) -> io::Result<usize> {
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
