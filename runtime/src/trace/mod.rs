//! A timeline of the scheduler: every run of every G on every M and P, the events
//! between (spawn, park, unpark, steal, hand-off, spare P) and arrows from each waker to
//! the G it woke, written as Chrome trace-event JSON (`docs/timeline.md`).
//!
//! `GOGREEN_TRACE=<path>`, or [`start`] and [`stop`]. Off, a hook in the scheduler costs
//! one relaxed load of a static flag and a branch not taken (`on()`); the scheduler's
//! side of each hook sits out of line (`sched/traced.rs`). On, each M writes fixed-size
//! records into its own buffer (`buffer.rs`) — no lock shared with another M, no text,
//! no system call — and a writer thread turns full buffers into JSON (`json.rs`).
//!
//! - `event.rs`: one record.
//! - `buffer.rs`: an M's buffer, and how buffers reach the writer.
//! - `record.rs`: what each event writes: runs into slices, instants, flow arrows.
//! - `json.rs`: the writer thread and the file's shape.
//! - `session.rs`: start, stop, `GOGREEN_TRACE`, the flush at exit.
//! - `shared.rs`: the flag, the session number, the clock and the writer they share.

mod buffer;
mod event;
mod json;
mod record;
mod session;
mod shared;

pub(crate) use buffer::MTrace;
pub(crate) use event::{End, Kind, NO_P};
pub(crate) use record::{idle_begin, idle_end, instant, run_begin, run_end, wake};
pub(crate) use session::start_from_env;
pub use session::{is_on, start, stop};

/// Whether a trace is being written: the test in front of every hook. A relaxed load of
/// one static flag — nothing orders against it; the hook itself synchronises
/// (`buffer.rs`).
#[inline(always)]
pub(crate) fn on() -> bool {
    shared::ON.load(std::sync::atomic::Ordering::Relaxed)
}
