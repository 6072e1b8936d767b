//! The G-P-M scheduler.
//!
//! - A **G** (`g.rs`, its status word in `state.rs`) is a green thread: a header plus a
//!   stack slot.
//! - An **M** (`m.rs`) is an OS thread; its life is `worker.rs`. It runs Gs only while
//!   it holds a P, and switches between them itself (`switch.rs`).
//! - A **P** (`p.rs`) is a logical processor: a local run queue with a `runnext` slot
//!   (`queue.rs`), a timer heap (`timer.rs`), and caches of free G headers and stacks.
//!
//! The runtime object (`runtime.rs`, started by `boot.rs`) holds them all, the global
//! queue (`inject.rs`), and the idle lists and spinning counters (`idle.rs`) that decide
//! when to wake an M (`wake.rs`, which also keeps the thread limit) for work made
//! runnable (`ready.rs`). One idle M watches the timers and the sockets, blocked in
//! `epoll_wait` (`sleeper.rs`; the poller itself is `netpoll/`); sysmon (`sysmon.rs`)
//! watches for stuck processors and overdue work. What a green thread calls about
//! itself is in `calls.rs`, what the scheduler plugs into the channel and stack seams
//! in `hooks.rs`.
//!
//! A G may keep its M while the M blocks, its P going to another M: in a blocking
//! call (`blocking.rs`; the P it leaves behind, `syscall.rs`), and when it must not
//! leave its M at all — thread-locked, or panicking (`pinned.rs`). Giving a P away is
//! `handoff.rs`. What a panic in a green thread prints is `panic_hook.rs`. What the
//! scheduler records for the timeline (`crate::trace`, `GOGREEN_TRACE`) is `traced.rs`:
//! each hook in the files above is one test of a flag and a call there. An idle M
//! takes work from another P's ring in `steal.rs`, leaving a small one to an owner that
//! gets to it (the limits, and the owner's side, in `patience.rs`); a finished G's
//! header goes back to a free list through `recycle.rs`.
//!
//! What an observer sees (`docs/watching.md`): events counted per P and summed on read
//! (`counters.rs`), every G header (`census.rs`), what each M holds and runs
//! (`owned.rs`), the coarse clock that stamps a park (`clock.rs`), all of it read into
//! `gogreen::stats` (`snapshot.rs`); printed by `GOGREEN_SCHEDTRACE` (`schedtrace.rs`),
//! listed task by task in the dump (`dump.rs`, printed on `SIGQUIT` by `sigquit.rs`),
//! and judged by sysmon for the deadlock report (`deadlock.rs`) and `GOGREEN_WARN`
//! (`warn.rs`).
//!
//! The files depend on each other in one direction only. From the leaves up, each file
//! naming only files listed before it (`python3 scripts/import_cycles.py --layers
//! runtime/src sched` prints this order from the code; CI's circle check keeps it one
//! way):
//!
//! 1. `state`, `queue`, `inject`, `idle`, `sleeper`, `syscall`, `parker`, `settings`,
//!    `locals`, and the observer's leaves `clock`, `counters`, `owned`;
//! 2. `g`; then `census` and `timer`; then `p`; then `m` and `patience`;
//! 3. `runtime` and `traced`; then `recycle`, `snapshot`, `wake`;
//! 4. `handoff`, `ready`, `schedtrace`, `warn`; then `dump`, `pinned`;
//! 5. `blocking`, `calls`, `sigquit`, `switch`; then `deadlock`, `panic_hook`, `steal`;
//! 6. `hooks`, `sysmon`, `worker`; then `boot`; then `spawn`.
//!
//! This file only names them.

mod blocking;
mod boot;
mod calls;
mod census;
mod clock;
mod counters;
mod deadlock;
mod dump;
pub(crate) mod g;
mod handoff;
mod hooks;
pub(crate) mod idle;
pub(crate) mod inject;
pub(crate) mod locals;
mod m;
mod owned;
mod p;
mod panic_hook;
mod parker;
mod patience;
mod pinned;
pub(crate) mod queue;
mod ready;
mod recycle;
mod runtime;
mod schedtrace;
mod settings;
mod sigquit;
mod sleeper;
mod snapshot;
mod spawn;
pub(crate) mod state;
mod steal;
mod switch;
pub(crate) mod syscall;
mod sysmon;
mod timer;
mod traced;
mod wake;
mod warn;
mod worker;

pub(crate) use blocking::call as blocking;
pub(crate) use boot::start;
pub(crate) use calls::{
    current_g, current_locals, in_green_thread, park_current, preempt_point, yield_current,
};
pub use dump::dump;
pub(crate) use p::G_HEADERS;
pub(crate) use pinned::{is_locked, lock_current, unlock_current};
pub(crate) use recycle::free_g;
pub(crate) use runtime::{procs, runtime, threads};
pub use settings::{DEFAULT_MAX_THREADS, MAX_PROCS};
pub(crate) use settings::{Settings, check_max_threads, check_procs, from_env};
pub(crate) use snapshot::snapshot;
pub use snapshot::{Counters, MStates, Processor, ProcessorState, TaskStates};
pub(crate) use spawn::spawn;
