//! `gogreen::stats()`: a snapshot of the runtime a student can print — green threads by
//! state and wait reason, every processor's queue, the OS threads by state, counters of
//! scheduling events since the start, and what the runtime has allocated.

use crate::sched::{self, Counters, MStates, Processor, TaskStates};
use crate::stack::reserve;
use std::fmt;
use std::sync::atomic::Ordering;

/// A snapshot of the runtime. Each figure is read on its own while the scheduler runs
/// on (nothing is stopped), so figures may disagree by what happened in between; at
/// rest they agree. See `docs/watching.md` for a tour.
///
/// `Display` prints it as a short report.
///
/// Taking one walks every green-thread header (a few milliseconds per million headers)
/// and takes the scheduler's idle-list lock twice; the scheduler's hot paths pay nothing
/// for it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// G headers allocated (one per green thread alive at once, at the peak). Headers
    /// are kept and reused, never returned, so this only grows.
    pub g_headers: usize,
    /// Stack slots carved and guarded (only grows, like `g_headers`).
    pub stacks: usize,
    /// Address-space reservations the slots were carved from.
    pub stack_reservations: usize,
    /// OS threads running green threads (Ms) right now. Ms are kept when idle; one ends
    /// only with a thread-locked green thread that exits locked. (Not counting sysmon's
    /// thread, which Go's `threads=` does count.)
    pub threads: usize,
    /// Processors (Ps) the runtime was started with: `GOGREEN_PROCS`, `Config::procs`.
    pub procs: usize,
    /// Green threads alive, by state.
    pub tasks: TaskStates,
    /// The processors in play: `procs`, plus any spare put in play for a stuck one.
    pub processors: Vec<Processor>,
    /// Green threads in the global run queue.
    pub global_queue: usize,
    /// Processors on the idle list.
    pub idle_procs: usize,
    /// The Ms, by state.
    pub ms: MStates,
    /// Green threads waiting on I/O (the netpoller's count).
    pub io_waiters: usize,
    /// Scheduling events since the start.
    pub counters: Counters,
}

/// A snapshot of the runtime: see [`Stats`]. Before the runtime has started, everything
/// is zero.
pub fn stats() -> Stats {
    let mut stats = Stats {
        g_headers: sched::G_HEADERS.load(Ordering::Relaxed),
        stacks: reserve::SLOTS_CARVED.load(Ordering::Relaxed),
        stack_reservations: reserve::RESERVATIONS.load(Ordering::Relaxed),
        threads: sched::threads(),
        procs: 0,
        tasks: TaskStates::default(),
        processors: Vec::new(),
        global_queue: 0,
        idle_procs: 0,
        ms: MStates::default(),
        io_waiters: 0,
        counters: Counters::default(),
    };
    if let Some(snap) = sched::snapshot(true) {
        stats.procs = snap.procs;
        stats.tasks = snap.tasks.unwrap_or_default();
        stats.processors = snap.processors;
        stats.global_queue = snap.global_queue;
        stats.idle_procs = snap.idle_ps;
        stats.ms = snap.m_states;
        stats.io_waiters = snap.io_waiters;
        stats.counters = snap.counters;
    }
    stats
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.tasks;
        write!(
            f,
            "green threads: {} runnable, {} running, {} waiting",
            t.runnable,
            t.running,
            t.waiting_total()
        )?;
        if !t.waiting.is_empty() {
            let parts: Vec<String> = t
                .waiting
                .iter()
                .map(|(why, n)| format!("{n} {why}"))
                .collect();
            write!(f, " ({})", parts.join(", "))?;
        }
        writeln!(f, ", {} dead", t.dead)?;
        writeln!(
            f,
            "processors: {} ({} idle); global queue {}",
            self.procs, self.idle_procs, self.global_queue
        )?;
        for p in &self.processors {
            write!(
                f,
                "  P{}: {:?}, queue {}, switches {}",
                p.id, p.state, p.runqueue, p.switches
            )?;
            if let Some(m) = p.m {
                write!(f, ", on M{m}")?;
            }
            if let Some(g) = p.runnext {
                write!(f, ", runnext G{g}")?;
            }
            if p.timers > 0 {
                write!(f, ", {} timers", p.timers)?;
            }
            writeln!(f)?;
        }
        let m = &self.ms;
        writeln!(
            f,
            "threads (Ms): {}: {} running, {} spinning, {} idle, {} in a blocking call, {} locked",
            self.threads, m.running, m.spinning, m.idle, m.blocking, m.locked
        )?;
        if self.io_waiters > 0 {
            writeln!(f, "waiting on I/O: {}", self.io_waiters)?;
        }
        let c = &self.counters;
        writeln!(
            f,
            "since start: {} spawns, {} switches, {} parks, {} unparks, {} steals ({} stolen)",
            c.spawns, c.switches, c.parks, c.unparks, c.steals, c.stolen
        )?;
        writeln!(
            f,
            "  {} blocking calls ({} handed their P off, {} retaken by sysmon), {} spare Ps, \
             {} timers fired, {} netpoll wake-ups",
            c.blocking_calls,
            c.syscall_handoffs,
            c.retakes,
            c.spare_ps,
            c.timers_fired,
            c.netpoll_wakeups
        )?;
        writeln!(
            f,
            "  {} Ms woken to look for work, {} Ms gone to sleep",
            c.m_wakeups, c.m_sleeps
        )?;
        write!(
            f,
            "allocated: {} G headers, {} stacks in {} reservations",
            self.g_headers, self.stacks, self.stack_reservations
        )
    }
}
