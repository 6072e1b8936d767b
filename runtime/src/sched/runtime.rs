//! The runtime object: every P, the global queue, the idle lists, the Ms, the netpoller,
//! the clock — the one value all Ms share. It is made once, by `boot.rs`, and never
//! dropped.

use super::clock;
use super::g::G;
use super::idle::Idle;
use super::inject::Inject;
use super::m::M;
use super::p::{Central, P};
use super::parker::Parker;
use super::settings::Settings;
use super::sleeper::{NEVER, Sleeper};
use crate::netpoll::poller::Poller;
use parking_lot::Mutex;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::Instant;

/// Spare Ps, to replace Ps whose M is stuck in one G (`sysmon.rs`): at least this many,
/// at least `procs`.
const SPARES: usize = 32;

/// What a new M's thread runs: its P (index) and whether it starts spinning.
pub(crate) type MMain = fn(&'static M, usize, bool);

/// The one runtime of the process.
pub(crate) struct Runtime {
    /// `procs` Ps in play, then the spares (`sysmon.rs`).
    pub(crate) ps: Box<[P]>,
    /// Spare Ps not in play: what sysmon takes to replace a P whose M is stuck.
    pub(crate) spares: Mutex<Vec<usize>>,
    pub(crate) inject: Inject<G>,
    pub(crate) idle: Idle<&'static M>,
    /// Every M ever started, by id. (An M whose locked G exited ends its thread; its
    /// struct stays here, leaked like the others.)
    pub(crate) ms: Mutex<Vec<&'static M>>,
    /// Ms whose thread runs (or is being started): at most `settings.max_threads`.
    pub(crate) live_ms: AtomicUsize,
    /// Ms whose thread ended, for `wake::new_m` to reuse: nothing refers to them any
    /// more (an M is named only by its thread, the idle list, and the pin of a G that
    /// waits on it — none of which outlives the thread).
    pub(crate) dead_ms: Mutex<Vec<&'static M>>,
    /// The body of every M (`worker::m_main`), given by `boot.rs`: waking an M
    /// (`wake.rs`) may start a thread, and `wake.rs` sits below the M loop it starts,
    /// which wakes Ms itself.
    pub(crate) m_main: MMain,
    pub(crate) settings: Settings,
    pub(crate) central: Central,
    /// The idle M sleeping until the earliest timer (`sleeper.rs`).
    pub(crate) sleeper: Sleeper,
    /// Where sysmon sleeps when every P is idle; `sysmon_sleep` says whether it does,
    /// and for how long: `AWAKE`, `SLEEP_SHORT` (one long period at most) or
    /// `SLEEP_LONG` (until woken). SeqCst: Dekker with `npidle`, see `sysmon.rs`.
    pub(crate) sysmon_parker: Parker,
    pub(crate) sysmon_sleep: AtomicU8,
    /// The epoll instance and the poll descriptors (`netpoll/`).
    pub(crate) netpoll: Poller,
    /// Idle Ms between taking due timers out of the heaps and queueing the green threads
    /// they woke (`worker::stop_m`); SeqCst, read by the deadlock check (`deadlock.rs`,
    /// step 4).
    pub(crate) timers_firing: AtomicUsize,
    epoch: Instant,
}

/// `Runtime::sysmon_sleep`: sysmon is running its rounds.
pub(crate) const AWAKE: u8 = 0;
/// `Runtime::sysmon_sleep`: sysmon sleeps at most one long period.
pub(crate) const SLEEP_SHORT: u8 = 1;
/// `Runtime::sysmon_sleep`: sysmon sleeps until woken.
pub(crate) const SLEEP_LONG: u8 = 2;

pub(crate) static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The runtime, from code that can only run once it has started (on an M, in a G, in
/// sysmon, for a G's handle). Entry points that may come first use `boot::runtime`.
#[inline]
pub(crate) fn runtime() -> &'static Runtime {
    match RUNTIME.get() {
        Some(rt) => rt,
        None => not_started(),
    }
}

#[cold]
fn not_started() -> ! {
    crate::fatal!("the scheduler was used before the runtime started")
}

/// Processors in play, from a caller that runs once the runtime has started (a green
/// thread).
pub(crate) fn procs() -> usize {
    runtime().settings.procs
}

/// Ms whose threads run: for `gogreen::stats`.
pub(crate) fn threads() -> usize {
    RUNTIME
        .get()
        .map_or(0, |rt| rt.live_ms.load(Ordering::Relaxed))
}

impl Runtime {
    pub(crate) fn new(settings: Settings, m_main: MMain) -> Self {
        let all = settings.procs + settings.procs.max(SPARES);
        Runtime {
            ps: (0..all)
                .map(|i| P::new(i, settings.stack_size, i < settings.procs))
                .collect(),
            spares: Mutex::new((settings.procs..all).rev().collect()),
            inject: Inject::new(),
            idle: Idle::new(settings.procs),
            ms: Mutex::new(Vec::new()),
            live_ms: AtomicUsize::new(0),
            dead_ms: Mutex::new(Vec::new()),
            m_main,
            settings,
            central: Central::new(),
            sleeper: Sleeper::new(),
            sysmon_parker: Parker::new(),
            sysmon_sleep: AtomicU8::new(AWAKE),
            netpoll: Poller::new().unwrap_or_else(|e| {
                crate::fatal!("cannot create the netpoller's epoll instance and eventfd: {e}")
            }),
            timers_firing: AtomicUsize::new(0),
            epoch: Instant::now(),
        }
    }

    /// Nanoseconds since the runtime started: the timers' clock.
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        self.instant_to_ns(Instant::now())
    }

    #[inline]
    pub(crate) fn instant_to_ns(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.epoch)
            .as_nanos()
            .min(u128::from(NEVER - 1)) as u64
    }

    /// The clock, if `p` has a timer (reading the clock costs ~20 ns; most Ps have none).
    #[inline]
    pub(crate) fn now_if_timers(&self, p: &P) -> Option<u64> {
        if p.timers.next() == NEVER {
            None
        } else {
            Some(self.now())
        }
    }

    /// The earliest timer deadline over all processors.
    pub(crate) fn earliest_timer(&self) -> u64 {
        self.ps
            .iter()
            .map(|p| p.timers.next())
            .min()
            .unwrap_or(NEVER)
    }

    /// The Ps in play (a snapshot): the ones that can hold queued Gs.
    pub(crate) fn in_play(&self) -> impl Iterator<Item = &P> {
        self.ps.iter().filter(|p| p.in_play.load(Ordering::Relaxed))
    }

    /// The Ms whose threads run (or are starting, or ending), by id: for observers
    /// (`gogreen::stats`, the dump, the deadlock check, `GOGREEN_WARN`).
    pub(crate) fn live_ms(&self) -> Vec<&'static M> {
        // The lock order of `wake::new_m`: `ms`, then `dead_ms`.
        let all = self.ms.lock();
        let dead = self.dead_ms.lock();
        all.iter()
            .copied()
            .filter(|m| !dead.iter().any(|d| std::ptr::eq(*d, *m)))
            .collect()
    }

    /// Takes an idle P for the calling M (T4's re-acquire, a blocking call coming
    /// back), waking sysmon if it sleeps because everything was idle: every P that
    /// leaves the idle list must wake it (`wake::start_m` does for the others), or it
    /// would sleep on while that P runs — and a P that a blocking call then leaves in its
    /// syscall word is given back to the others only by sysmon.
    pub(crate) fn take_idle_p(&self) -> Option<usize> {
        let p = self.idle.take_idle_p()?;
        self.wake_sysmon();
        Some(p)
    }

    /// Wakes sysmon if it sleeps because everything was idle — unless its sleep is
    /// short (Gs waited on I/O when it fell asleep) and Gs still wait on I/O: it then
    /// looks again within one long period anyway (see `sysmon::run`), which bounds how
    /// long a P left in a syscall word waits to be retaken, as in Go; and in a server
    /// that goes idle between requests a wake-up per request would cost a futex call
    /// and a burst of sysmon's shortest rounds. A sleep without end is always cut
    /// short, whatever waits on I/O now: the Gs that waited when the waker looked may
    /// be gone by the time sysmon looks, and a P in use with sysmon asleep for good
    /// is never polled for I/O nor retaken (a G yielding in a loop while the Gs it
    /// waits for sat on the netpoller hung so, 1 run in 20 under load). SeqCst load:
    /// pairs with sysmon's store of `sysmon_sleep` before it re-reads `npidle`
    /// (`sysmon.rs`), whose decrement (taking a P off the idle list) comes before
    /// this.
    pub(crate) fn wake_sysmon(&self) {
        let wake = match self.sysmon_sleep.load(Ordering::SeqCst) {
            SLEEP_LONG => true,
            SLEEP_SHORT => !self.netpoll.has_waiters(),
            _ => false,
        };
        // sysmon sleeps on the futex, never in `epoll_wait`: nothing to interrupt.
        if wake {
            // The coarse clock stopped when sysmon fell asleep: a G that parks before
            // sysmon's first look must not be stamped with that time (`clock.rs`).
            clock::set(self.now());
            let _ = self.sysmon_parker.unpark();
        }
    }
}
