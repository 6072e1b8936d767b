//! gogreen: an M:N green-thread runtime in the shape of Go's.
//!
//! Green threads (G) with their own guarded stacks run on OS threads (M) through
//! logical processors (P), scheduled by a work-stealing G-P-M scheduler, and talk over
//! CSP channels with `select!`. Their sockets ([`net`]) park only the green thread that
//! waits, over an epoll netpoller. `docs/` explains the inside.
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
