//! One record of the timeline, as an M writes it into its buffer: fixed fields, no
//! text — turning it into trace-event JSON is the writer thread's work (`json.rs`).

use std::sync::Arc;

/// "No P": a record of an M that holds none (a blocking call, an event off any P).
pub(crate) const NO_P: u32 = u32::MAX;

/// Why a G's run on an M ended: said in the slice's arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// It parked, waiting for the `WaitReason` with this value.
    Park(u8),
    /// It yielded (or sysmon asked it to, at a preemption point).
    Yield,
    /// It returned: the task is done.
    Exit,
    /// It entered a blocking call and gave its P up; its M runs the call.
    Blocking,
    /// It came back from a blocking call on its M.
    Returned,
    /// Tracing stopped while it ran.
    Stopped,
}

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A G ran on this M from `ts` for `arg` ns, on P `p` (or in a blocking call,
    /// `NO_P`); `flow` names the wake-up that made it run, if any.
    Run(End),
    /// G `g` was spawned; `flow` is the arrow to its first run (0: none).
    Spawn,
    /// G `g` parked for the `WaitReason` with value `arg`.
    Park,
    /// G `g` was made runnable; `flow` is the arrow from the waker (0: none).
    Unpark,
    /// P `p` stole `g` Gs from P `arg`.
    Steal,
    /// P `p` went to another M at the start of a blocking call (Go's `handoffp`).
    Handoff,
    /// sysmon took P `p` back from a blocking call that held it too long.
    Retake,
    /// sysmon put spare P `p` in play for P `arg`, whose M is stuck in one G.
    Spare,
    /// P `p` was handed to the sleeping M with id `g` - 1, or to a new thread (`g` = 0).
    StartM,
    /// This M had no P and slept, from `ts` for `arg` ns (`worker::stop_m`).
    Idle,
}

/// One record. 48 bytes: a buffer of `CHUNK` fits in a few hundred KiB.
pub(crate) struct Event {
    /// Nanoseconds since the trace started.
    pub(crate) ts: u64,
    pub(crate) kind: Kind,
    pub(crate) p: u32,
    /// A task id (or a count: see `Kind`).
    pub(crate) g: u64,
    /// A duration, a wait reason, a P (see `Kind`).
    pub(crate) arg: u64,
    /// The id of a flow arrow, or 0.
    pub(crate) flow: u64,
    /// The task's name, for `Run` and `Spawn` of a named task.
    pub(crate) name: Option<Arc<String>>,
}
