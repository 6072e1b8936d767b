//! gogreen: an M:N green-thread runtime in the shape of Go's.
//!
//! Green threads (G) with their own guarded stacks run on OS threads (M) through
//! logical processors (P), scheduled by a work-stealing G-P-M scheduler, and talk over
//! CSP channels with `select!`. Their sockets ([`net`]) park only the green thread that
//! waits, over an epoll netpoller. The repository's `docs/` explains the inside.
//!
//! ```
//! let (tx, rx) = gogreen::chan::bounded(0);
//! let producer = gogreen::spawn(move || {
//!     for i in 1..=10u64 {
//!         tx.send(i * i).unwrap();
//!     }
//! });
//! let sum = gogreen::run(move || rx.iter().sum::<u64>());
//! producer.join().unwrap();
//! assert_eq!(sum, 385);
//!
//! let hello = gogreen::select! {
//!     recv(gogreen::chan::after(std::time::Duration::from_millis(1))) -> _ => "timer",
//!     default(std::time::Duration::from_secs(5)) => "timeout",
//! };
//! assert_eq!(hello, "timer");
//! ```
//!
//! # Where things are
//!
//! - Green threads: [`spawn`], [`Builder`], [`JoinHandle`], [`run`], [`scope`],
//!   [`yield_now`], [`sleep`], [`preempt_point`], [`current`], [`task_local!`],
//!   [`lock_os_thread`]; settings: [`Config`].
//! - Talking: [`chan`] (channels, [`select!`]); waiting together: [`sync`] (`Mutex`,
//!   `RwLock`, `Condvar`, `Once`, `OnceLock`, `Barrier`, `Semaphore`, `WaitGroup`);
//!   cancelling: [`Context`], [`Group`].
//! - The outside world: [`net`] (sockets over the netpoller), [`blocking`] and [`fs`]
//!   (calls that block their OS thread), [`stack::grow`] (deep recursion).
//! - Looking inside: [`stats`].
//!
//! # Things to know
//!
//! - Nothing preempts a green thread: a CPU-bound loop keeps its processor until it
//!   calls into the runtime. Put `gogreen::preempt_point()` in long loops.
//! - Use `gogreen::net` for sockets, not `std::net`: a `std::net` read blocks its OS
//!   thread. Use `gogreen::sync`'s locks instead of `std::sync`'s: only the green thread
//!   waits.
//! - Wrap calls that block the OS thread in `gogreen::blocking` (for files,
//!   `gogreen::fs`): the green threads queued behind the call run at once on another OS
//!   thread, and a call that returns quickly costs ~14 ns. Inside the closure the green
//!   thread waits like a plain thread (a channel receive blocks the OS thread). A call
//!   left unmarked (`std::fs::read`, `std::thread::sleep`, a `std::sync::Mutex` held
//!   elsewhere) holds its processor; after 10 ms sysmon puts a spare processor in play
//!   and moves the green threads queued behind it (up to 32 stuck at once) — so they
//!   wait that long.
//! - The scheduler runs at most 10,000 OS threads (`GOGREEN_MAX_THREADS`,
//!   `Config::max_threads`): one per processor, one per blocking call or waiting
//!   thread-locked green thread. Past the limit `try_blocking` returns an error naming it;
//!   `blocking` runs its call without handing its processor over, and warns once.
//!   A waiting thread-locked green thread keeps its thread: if waiting locked green
//!   threads hold every thread the limit allows, the green threads that would wake them
//!   have no thread to run on, and the program hangs (Go aborts there, "thread
//!   exhaustion"). Keep the locked green threads that wait at once well below the limit.
//! - std ties some things to the OS thread: **`thread_local!` values**,
//!   **`std::thread::current()`** (its id and name), **reentrant locks** —
//!   `std::io::stdout().lock()` and `stderr().lock()` — and
//!   **the panic count**. A green thread can resume on another OS thread after any call
//!   that waits (channel operations, `join`, `sleep`, `yield_now`, `WaitGroup::wait`,
//!   `preempt_point`), and other green threads run on its thread meanwhile — one that
//!   calls `stdout().lock()` there gets the lock *reentrantly*, while the first still
//!   holds it, and a guard dropped on another thread than the one that took it leaves
//!   the lock broken. So do not hold any of these across such a call, or lock the green thread
//!   to its thread first (`gogreen::lock_os_thread()`, or `Builder::locked(true)`):
//!   then no other green thread runs on that thread and this one never moves; when it
//!   waits, its thread waits with it and its processor runs the others. A locked green
//!   thread that ends while locked ends its thread too (as in Go), dropping the thread's
//!   `thread_local!` values. `gogreen::task_local!` is the per-task `thread_local!`.
//!   The panic count needs nothing from you: a panicking green thread never leaves its
//!   thread until the panic is caught.
//! - `gogreen::run(f)` runs `f` on one of the scheduler's threads, not on the caller's.
//!   Code that must stay on the main thread (a GUI event loop, some FFI) stays outside
//!   `run` and talks to green threads over channels, which block a plain thread.
//! - A panic in a green thread is reported as `thread 'name' (green thread 42) panicked
//!   at ...`, in std's format (`RUST_BACKTRACE` works as usual), written to stderr —
//!   under `cargo test` too. gogreen installs that hook when the program loads;
//!   `std::panic::set_hook` replaces it (`gogreen::current()` names the green thread
//!   inside your hook), and a hook that wraps `std::panic::take_hook()` keeps it.
//! - Linux on x86_64 only, so far. Linux ≥ 6.13 (`MADV_GUARD_INSTALL`) lets a million
//!   stacks be guarded within the default `vm.max_map_count`; older kernels hold about
//!   32,000 green threads at once (queued ones count: each holds the guarded stack it was
//!   promised), then `Builder::spawn` returns an error that says how to raise the limit
//!   (`gogreen::spawn` panics with it). A spawn that returned `Ok` always runs.
//! - Green threads have 64 KiB stacks by default (`stack_size`, `GOGREEN_STACK_SIZE`),
//!   sized for optimized code. An unoptimized build's frames are several times larger:
//!   a debug build that puts big values (a 16 KiB message, say) through channels may
//!   overflow where `--release` does not. An overflow is reported (the green thread's
//!   name, id and stack size), and aborts the process.
//! - Starting the runtime wraps the panic hook installed at that moment so that it runs
//!   on a stack of its own when a green thread's is short (a backtrace needs ~20 KiB). A
//!   hook set later runs where the panic happened.
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(not(loom))]
mod arch;
#[cfg(not(loom))]
mod blocking;
#[cfg(not(loom))]
mod config;
#[cfg(not(loom))]
mod context;
#[cfg(not(loom))]
#[doc(hidden)]
pub mod fatal;
#[cfg(not(loom))]
pub mod fs;
#[cfg(not(loom))]
mod group;
#[cfg(not(loom))]
mod job;
mod loom;
#[cfg(not(loom))]
pub mod net;
#[cfg(not(loom))]
mod netpoll;
#[cfg(not(loom))]
mod run;
#[cfg(not(loom))]
mod sched;
#[cfg(not(loom))]
mod scope;
#[cfg(not(loom))]
pub mod stack;
#[cfg(not(loom))]
mod stats;
pub mod sync;
#[cfg(not(loom))]
mod task;
#[cfg(not(loom))]
mod task_local;
#[cfg(not(loom))]
pub mod trace;

#[cfg(not(loom))]
pub use blocking::{blocking, try_blocking};
#[cfg(not(loom))]
pub use config::Config;
#[cfg(not(loom))]
pub use context::{CancelHandle, Context, ContextError};
#[cfg(not(loom))]
pub use fatal::__fatal;
#[cfg(not(loom))]
pub use group::Group;
#[cfg(not(loom))]
pub use run::run;
#[cfg(not(loom))]
pub use sched::{Counters, MStates, Processor, ProcessorState, TaskStates, dump};
#[cfg(not(loom))]
pub use sched::{DEFAULT_MAX_THREADS, MAX_PROCS};
#[cfg(not(loom))]
pub use scope::{Scope, ScopedJoinHandle, scope};
#[cfg(not(loom))]
pub use stats::{Stats, stats};
#[cfg(not(loom))]
pub use task::{
    Builder, JoinHandle, Task, current, is_os_thread_locked, lock_os_thread, preempt_point, sleep,
    spawn, unlock_os_thread, yield_now,
};
#[cfg(not(loom))]
pub use task_local::{AccessError, LocalKey};

pub use gogreen_channel::park::WaitReason;
pub use gogreen_channel::{select, select_biased};

pub mod chan {
    //! Go's channels and `select`: see the `gogreen-channel` crate.
    pub use gogreen_channel::*;
}

// Under loom, only the protocols, for the models in `loom-tests/`.
#[cfg(loom)]
#[doc(hidden)]
#[path = "stack/claim.rs"]
pub mod claim;
#[cfg(loom)]
#[doc(hidden)]
#[path = "sched/idle.rs"]
pub mod idle;
#[cfg(loom)]
#[doc(hidden)]
#[path = "sched/inject.rs"]
pub mod inject;
#[cfg(loom)]
#[doc(hidden)]
#[path = "sched/parker.rs"]
pub mod parker;
#[cfg(loom)]
#[doc(hidden)]
#[path = "sched/queue.rs"]
pub mod queue;
#[cfg(loom)]
#[doc(hidden)]
#[path = "scope/count.rs"]
pub mod scope_count;
#[cfg(loom)]
#[doc(hidden)]
#[path = "sched/sleeper.rs"]
pub mod sleeper;
#[cfg(loom)]
#[doc(hidden)]
#[path = "netpoll/slot.rs"]
pub mod slot;
#[cfg(loom)]
#[doc(hidden)]
#[path = "sched/state.rs"]
pub mod state;
#[cfg(loom)]
#[doc(hidden)]
#[path = "sched/syscall.rs"]
pub mod syscall;
