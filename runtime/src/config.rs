//! Runtime settings: how many processors, the default stack size, and the most OS
//! threads the scheduler may start.
//!
//! Fixed when the runtime starts — on first use, or explicitly with [`Config::apply`].
//! Without a `Config`, the environment decides (`GOGREEN_PROCS`, `GOGREEN_STACK_SIZE`,
//! `GOGREEN_MAX_THREADS`), then the defaults: one processor per available core, 64 KiB
//! stacks, 10,000 threads.

use crate::sched::{self, Settings, check_max_threads, check_procs, from_env};
use crate::stack;
use std::io;

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
    max_threads: Option<usize>,
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

    /// The most OS threads the scheduler may run at once (Go's `SetMaxThreads`): one
    /// per processor, plus one per blocking call ([`blocking`](crate::blocking)) and
    /// per waiting thread-locked green thread, which hold a thread without a
    /// processor. Past it, [`try_blocking`](crate::try_blocking) returns an error.
    /// Default: 10,000, or `GOGREEN_MAX_THREADS`; at least `procs`.
    pub fn max_threads(mut self, n: usize) -> Self {
        self.max_threads = Some(n);
        self
    }

    /// Starts the runtime with these settings.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for `procs(0)`, more than [`MAX_PROCS`](crate::MAX_PROCS), a stack size outside
    /// [`stack::MIN_STACK_SIZE`]..=[`stack::MAX_STACK_SIZE`], or `max_threads` below
    /// `procs`; an error if the runtime is already running (it starts on first use).
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
        let max_threads = match self.max_threads {
            Some(n) => check_max_threads(n, procs)?,
            None => env.max_threads.max(procs),
        };
        sched::start(Some(Settings {
            procs,
            stack_size,
            max_threads,
        }))
        .map(drop)
    }
}
