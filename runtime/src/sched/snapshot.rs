//! A snapshot of the scheduler: every P, every M, the green threads by state and wait
//! reason, and the counters since the start — what `gogreen::stats` returns and what
//! `GOGREEN_SCHEDTRACE` prints.
//!
//! Nothing here stops the scheduler. Each figure is read on its own, without locks
//! (except the idle lists', for a moment), while the Ms run on: a P's queue length is
//! what it was when it was read, and the figures of one snapshot may disagree by what
//! happened in between. A program whose scheduler is at rest — every G parked, or
//! every P busy in a long computation — gets figures that agree.
//!
//! The hot paths pay nothing for it that they did not pay before: a P's counters are
//! written by its holder only (`counters.rs`), and walking the G headers reads words a
//! switch or a park writes anyway.

use super::census;
use super::counters::GLOBAL;
use super::g::{COMPLETE, G, HANDLE, RUNNING};
use super::m::M;
use super::runtime::{RUNTIME, Runtime};
use super::state::Status;
use gogreen_channel::park::WaitReason;
use std::ptr;
use std::sync::atomic::Ordering;

/// Green threads alive, by state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaskStates {
    /// Queued to run.
    pub runnable: usize,
    /// Running on an M.
    pub running: usize,
    /// Parked, by what they wait for (reasons with none left out, in the order of
    /// `WaitReason::ALL`); a green thread inside `gogreen::blocking` counts here, as
    /// `WaitReason::Blocking`.
    pub waiting: Vec<(WaitReason, usize)>,
    /// Finished, their result not yet joined (or their handle not yet dropped).
    pub dead: usize,
}

impl TaskStates {
    /// Green threads waiting, for any reason.
    pub fn waiting_total(&self) -> usize {
        self.waiting.iter().map(|(_, n)| n).sum()
    }

    /// Green threads waiting for `why`.
    pub fn waiting_for(&self, why: WaitReason) -> usize {
        self.waiting
            .iter()
            .find(|(w, _)| *w == why)
            .map_or(0, |(_, n)| *n)
    }

    /// Green threads alive and not finished: runnable, running or waiting.
    pub fn live(&self) -> usize {
        self.runnable + self.running + self.waiting_total()
    }
}

/// What a processor is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProcessorState {
    /// On the idle list.
    Idle,
    /// Held by an M: running a G, or looking for one.
    Running,
    /// Left with its M by a blocking call (`gogreen::blocking`), taken back cheaply when
    /// the call returns, or by sysmon if it lasts.
    Syscall,
    /// Replaced by a spare because its M was stuck in one G; given up at the M's next
    /// scheduling point.
    Retired,
}

/// One processor (P) in play.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Processor {
    /// Its index: 0 to `procs - 1`, higher for spares in play.
    pub id: usize,
    pub state: ProcessorState,
    /// The M holding it, if one does.
    pub m: Option<usize>,
    /// Gs in its local run queue (the ring, without `runnext`).
    pub runqueue: usize,
    /// The id of the G in its `runnext` slot, if any.
    pub runnext: Option<u64>,
    /// Gs it has switched to since the start.
    pub switches: u64,
    /// Timer entries in its heap (stale ones, of Gs woken earlier, included).
    pub timers: usize,
}

/// OS threads running green threads (Ms), by state. The states add up to
/// `Stats::threads`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MStates {
    /// Holding a P: running a G, or looking for one (and not spinning).
    pub running: usize,
    /// Holding a P and looking through the other Ps' queues for work.
    pub spinning: usize,
    /// Asleep on the idle list, waiting to be handed a P (one of them watches the
    /// timers and the sockets, in `epoll_wait`).
    pub idle: usize,
    /// Running a green thread's blocking call (`gogreen::blocking`), without a P.
    pub blocking: usize,
    /// Asleep with the thread-locked (or panicking) green thread it keeps, which waits.
    pub locked: usize,
}

/// Counts of scheduling events since the runtime started. They only grow.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counters {
    /// Green threads spawned.
    pub spawns: u64,
    /// Switches to a green thread (its first run, or its return after a park, a yield or
    /// a hand-off).
    pub switches: u64,
    /// Parks: a green thread waiting (a park that found its wake-up already there
    /// returns at once and does not count).
    pub parks: u64,
    /// Green threads made runnable by an unpark or by their timer (I/O wake-ups are
    /// `netpoll_wakeups`).
    pub unparks: u64,
    /// Successful steals from another P's queue, and the green threads they took.
    pub steals: u64,
    pub stolen: u64,
    /// Blocking calls (`gogreen::blocking`).
    pub blocking_calls: u64,
    /// Ps handed to another M when a blocking call began while Gs were queued.
    pub syscall_handoffs: u64,
    /// Ps sysmon took back from a blocking call that lasted, and gave away.
    pub retakes: u64,
    /// Spare Ps sysmon put in play for a P whose M was stuck in one green thread.
    pub spare_ps: u64,
    /// Timers that woke their green thread (sleeps, timeouts, timer channels).
    pub timers_fired: u64,
    /// Green threads made runnable by the netpoller (a socket became ready).
    pub netpoll_wakeups: u64,
    /// Sleeping (or new) OS threads handed a processor to look for queued work: each
    /// is a futex wake-up or a thread start.
    pub m_wakeups: u64,
    /// OS threads gone to sleep without a processor: most because they found no work,
    /// a few after handing theirs over (to a thread-locked green thread's thread, or a
    /// processor retired by sysmon).
    pub m_sleeps: u64,
}

/// One M, for the scheduler's detail lines (`GOGREEN_SCHEDDETAIL`) and the dump.
#[derive(Clone, Debug)]
pub(crate) struct MInfo {
    pub(crate) id: usize,
    pub(crate) tid: i32,
    pub(crate) p: Option<usize>,
    /// The id of the G it runs (or keeps, or runs a blocking call of).
    pub(crate) curg: Option<u64>,
    pub(crate) spinning: bool,
    pub(crate) idle: bool,
    pub(crate) locked: bool,
}

/// The Gs the Ms had when a snapshot looked: (G, M id, whether the M held a P).
#[derive(Default)]
pub(crate) struct Curgs(Vec<(*const G, usize, bool)>);

/// A live G's state, as an observer can tell it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GState {
    Runnable,
    /// Running on this M.
    Running(usize),
    /// Parked: what for, since when (coarse ms).
    Waiting(WaitReason, u32),
    /// In a blocking call on this M: since when (coarse ms).
    Blocking(usize, u32),
    /// Finished, not yet joined.
    Dead,
}

impl Curgs {
    /// What `g` is doing, or `None` if its header is pooled.
    pub(crate) fn classify(&self, g: &G) -> Option<GState> {
        let join = g.join_bits();
        if join & (HANDLE | RUNNING) == 0 {
            return None;
        }
        if join & COMPLETE != 0 {
            return Some(GState::Dead);
        }
        Some(match g.state.snapshot().1 {
            Status::Free => return None,
            Status::Waiting => {
                let (why, since) = g.wait();
                GState::Waiting(why, since)
            }
            Status::Active => match self.0.iter().find(|(c, _, _)| ptr::eq(*c, g)) {
                Some((_, m, true)) => GState::Running(*m),
                Some((_, m, false)) => GState::Blocking(*m, g.wait().1),
                None => GState::Runnable,
            },
        })
    }
}

/// The whole reading.
pub(crate) struct Snapshot {
    /// Which G each M had.
    pub(crate) curgs: Curgs,
    pub(crate) procs: usize,
    pub(crate) processors: Vec<Processor>,
    pub(crate) global_queue: usize,
    pub(crate) idle_ps: usize,
    pub(crate) spinning: usize,
    pub(crate) ms: Vec<MInfo>,
    pub(crate) m_states: MStates,
    /// `None` unless asked for: walking every G header costs a few ms per million.
    pub(crate) tasks: Option<TaskStates>,
    pub(crate) counters: Counters,
    pub(crate) io_waiters: usize,
}

/// Reads the scheduler, if it has started; walks every G header only if `with_tasks`.
pub(crate) fn snapshot(with_tasks: bool) -> Option<Snapshot> {
    RUNTIME.get().map(|rt| take(rt, with_tasks))
}

/// Reads the scheduler; walks every G header only if `with_tasks`.
pub(crate) fn take(rt: &Runtime, with_tasks: bool) -> Snapshot {
    let ms = rt.live_ms();
    let idle_ms: Vec<usize> = rt
        .idle
        .with_lists(|_, midle| midle.iter().map(|m| m.id).collect());
    let mut infos = Vec::with_capacity(ms.len());
    let mut m_states = MStates::default();
    // Where each P is held, and which G each M has, as this look saw them.
    let mut held = vec![None; rt.ps.len()];
    let mut curgs = Curgs::default();
    for m in &ms {
        let info = m_info(rt, m, idle_ms.contains(&m.id));
        if let Some(p) = info.p {
            held[p] = Some(m.id);
        }
        let g = m.curg.get();
        if !g.is_null() {
            curgs.0.push((g, m.id, info.p.is_some()));
        }
        // SAFETY: G headers are never freed.
        let waiting =
            unsafe { g.as_ref() }.is_some_and(|g| g.state.snapshot().1 == Status::Waiting);
        match () {
            _ if info.idle => m_states.idle += 1,
            _ if info.p.is_some() && info.spinning => m_states.spinning += 1,
            _ if info.p.is_some() => m_states.running += 1,
            _ if info.curg.is_some() && waiting => m_states.locked += 1,
            _ if info.curg.is_some() => m_states.blocking += 1,
            // Between giving its P up and sleeping, or ending its thread.
            _ => m_states.running += 1,
        }
        infos.push(info);
    }
    let idle_ps: Vec<usize> = rt.idle.with_lists(|pidle, _| pidle.to_vec());
    let processors = rt
        .in_play()
        .map(|p| {
            let state = if p.syscall.current() != 0 {
                ProcessorState::Syscall
            } else if p.retired.load(Ordering::Relaxed) {
                ProcessorState::Retired
            } else if idle_ps.contains(&p.id) {
                ProcessorState::Idle
            } else {
                ProcessorState::Running
            };
            Processor {
                id: p.id,
                state,
                m: held[p.id],
                runqueue: p.runq.len(),
                // SAFETY: queued Gs are G headers, never freed.
                runnext: unsafe { p.runq.peek_runnext().as_ref() }.map(G::id),
                switches: p.schedtick.load(Ordering::Relaxed),
                timers: p.timers.len(),
            }
        })
        .collect();
    let tasks = with_tasks.then(|| count_tasks(&curgs));
    Snapshot {
        curgs,
        procs: rt.settings.procs,
        processors,
        global_queue: rt.inject.len(),
        idle_ps: rt.idle.npidle(),
        spinning: rt.idle.nmspinning(),
        ms: infos,
        m_states,
        tasks,
        counters: counters(rt),
        io_waiters: rt.netpoll.waiters(),
    }
}

/// What one M is doing.
pub(crate) fn m_info(rt: &Runtime, m: &M, idle: bool) -> MInfo {
    let p = m.p.get();
    let g = m.curg.get();
    // A P handed to the M (`wake::start_m`) that it has not taken yet counts as its.
    let handed = m.nextp.load(Ordering::Relaxed).checked_sub(1);
    MInfo {
        id: m.id,
        tid: m.tid.load(Ordering::Relaxed),
        // SAFETY: Ps live in the runtime; the index is the P's position.
        p: (!p.is_null()).then(|| unsafe { (*p).id }).or(handed),
        // SAFETY: G headers are never freed.
        curg: unsafe { g.as_ref() }.map(G::id),
        spinning: m.spinning.get(),
        idle,
        locked: m.locked.get() != 0,
    }
    .checked(rt)
}

impl MInfo {
    fn checked(self, rt: &Runtime) -> Self {
        debug_assert!(self.p.is_none_or(|p| p < rt.ps.len()));
        self
    }
}

/// Walks every G header: the live ones by state.
fn count_tasks(curgs: &Curgs) -> TaskStates {
    let mut t = TaskStates::default();
    let mut waiting = [0usize; WaitReason::ALL.len()];
    census::for_each_g(|g| match curgs.classify(g) {
        None => {}
        Some(GState::Runnable) => t.runnable += 1,
        Some(GState::Running(_)) => t.running += 1,
        Some(GState::Waiting(why, _)) => waiting[why as usize] += 1,
        Some(GState::Blocking(..)) => waiting[WaitReason::Blocking as usize] += 1,
        Some(GState::Dead) => t.dead += 1,
    });
    t.waiting = WaitReason::ALL
        .iter()
        .zip(waiting)
        .filter(|(_, n)| *n > 0)
        .map(|(w, n)| (*w, n))
        .collect();
    t
}

/// The counters, summed over every P (spares included) and the global ones.
fn counters(rt: &Runtime) -> Counters {
    let mut c = Counters {
        spawns: GLOBAL.spawns.get(),
        unparks: GLOBAL.unparks.get(),
        retakes: GLOBAL.retakes.get(),
        spare_ps: GLOBAL.spares.get(),
        syscall_handoffs: GLOBAL.syscall_handoffs.get(),
        m_wakeups: GLOBAL.m_wakeups.get(),
        m_sleeps: GLOBAL.m_sleeps.get(),
        netpoll_wakeups: rt.netpoll.woken(),
        ..Counters::default()
    };
    for p in rt.ps.iter() {
        let k = &p.counters;
        c.spawns += k.spawns.get();
        c.switches += p.schedtick.load(Ordering::Relaxed);
        c.parks += k.parks.get();
        c.unparks += k.unparks.get();
        c.steals += k.steals.get();
        c.stolen += k.stolen.get();
        c.blocking_calls += k.blocking_calls.get();
        c.timers_fired += p.timers.fired();
    }
    c
}
