//! loom models of the spinning/idle protocol (`gogreen::idle`, steps S1–S6 and T1–T5),
//! driven the way `worker.rs` drives it.
//!
//! The property: **work is never left queued while every M is asleep.** If it were,
//! the G would never run and whatever waits for it would hang, with the runtime looking
//! idle. The race that threatens it is a submitter making a G runnable just as the
//! last spinning M gives up its P and goes to sleep: each may look at the other's side
//! before the other's write is visible (the store-buffer litmus test), and then the
//! submitter wakes nobody because "someone spins" while the spinner sleeps because
//! "there is no work". Fences S2 and T3 forbid that outcome; these models check it.
//!
//! The Ms are loom threads running a transcription of `worker::find_runnable` and
//! `worker::stop_m` over the real `Idle`, `Inject` and `RunQueue` (one steal round
//! where the runtime does four; no timers, no sysmon). An M sleeps as `stop_m` does:
//! it puts itself on the idle list (T5), then parks until whoever takes it from the
//! list stores a P in its `nextp` and unparks it. Its parker keeps an unpark that comes
//! first as a token, like the runtime's futex parker, so the hand-off cannot be lost
//! in between. (Not loom's `thread::park`: loom's `unpark` makes a thread that is
//! blocked on a loom `Mutex` runnable — the Ms lock the idle lists — and drops the
//! token, which ends in a false "expected to be able to acquire lock" panic.)
//!
//! **How the property is checked.** The parkers share one lock, under which the model
//! counts the Ms that are alive and knows which are blocked in `park` with no wake-up
//! pending. Once `main` has submitted, it waits until every live M is so blocked: from
//! then on nobody can wake anybody — the state is final. There it asserts that the G
//! was taken, exactly once, and that the counters balance (nobody spins, no P is lost);
//! then it lets the Ms exit. The M that takes the G goes off to run it for good and
//! stops counting as alive, so what is checked is that the G never sits queued while
//! all the Ms sleep. Each model also asserts which outcomes loom reached (who took the
//! G, after how many wake-ups), so that a pass is not vacuous.
//!
//! A simplification: the parkers share one lock, which orders a woken M after every
//! earlier park and unpark, where the runtime's per-M futex orders it after its waker
//! only. An M's first round — the one racing the submitter's S2–S6 — is before any of
//! that, so the race these models are about is unaffected.
//!
//! Which path needs which check (`worker.rs`):
//!
//! - Work pushed **from outside the runtime** (`submit_new`, `ready` and `unpark_timer`
//!   without a P, sysmon's `wake_idle`) goes to the global queue, and nothing else may
//!   be running: it must use the fenced `should_wake`. Models `global_*`.
//! - Work pushed **by a running M onto its own P** (`ready`'s displaced `runnext`,
//!   `unpark_timer` and `submit_new` on an M) uses `should_wake_unfenced`: the pushing
//!   P runs its own queue when its G blocks, so a missed wake-up costs parallelism,
//!   not progress. Models `local_*` check that guarantee — and show that it is the
//!   only one: with the pushing M busy for good, the unfenced check can leave the work
//!   stranded where the fenced one cannot.
//! - A G pushed out of `runnext` onto a small ring whose owner is getting to it wakes
//!   nobody at all (L1 of `steal.rs`): its owner runs it, or — if the owner stops
//!   switching — sysmon's next look at the unchanged tick wakes an M (L3). Models
//!   `patient_*`, and one that shows sysmon's look is needed.
#![cfg(loom)]

mod sched_common;

use gogreen::idle::Idle;
use gogreen::inject::Inject;
use gogreen::queue::{Local, RunQueue};
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::{Arc, Condvar, Mutex, MutexGuard};
use loom::thread::{self, JoinHandle};
use sched_common::{Outcomes, Start, check};

/// A G of a model. The queues only move its pointer; it has an address, no contents.
struct G {
    _seen: u8,
}

/// Room for the Ms a model may start: the ones it begins with, plus those `wakep`
/// creates when it finds an idle P but no idle M.
const MAX_MS: usize = 4;

/// The state of every M's parker, under one lock so that `main` can see them all at
/// once.
#[derive(Default)]
struct Sleep {
    /// A pending wake-up per M, as the runtime's futex parker keeps it.
    token: [bool; MAX_MS],
    /// M threads started and not yet exited (or gone to run the G for good).
    live: usize,
    /// Which Ms are blocked in `park`: they will not move until someone unparks them.
    blocked: [bool; MAX_MS],
    /// Set by `main` once the outcome is checked: sleeping Ms exit.
    shutdown: bool,
}

impl Sleep {
    /// Every live M is blocked in `park`, and none has a wake-up pending (one that was
    /// unparked but has not run yet): nobody can wake anybody any more, `main` aside.
    /// (An M that exited may keep a token, as a running one may: its next `park` would
    /// return at once.)
    fn is_final(&self) -> bool {
        let blocked = self.blocked.iter().filter(|&&b| b).count();
        blocked == self.live && !(0..MAX_MS).any(|i| self.blocked[i] && self.token[i])
    }
}

/// What `worker::M` shares with other threads.
struct MSlot {
    /// A P handed over by whoever took this M off the idle list (index + 1), or 0.
    nextp: AtomicUsize,
    nextspin: AtomicBool,
    wake: Condvar,
}

/// The scheduler's shared state, and the model's bookkeeping.
struct World {
    idle: Idle<usize>,
    inject: Inject<G>,
    runqs: Vec<RunQueue<G>>,
    ms: Vec<MSlot>,
    /// M slots in use.
    nms: AtomicUsize,
    sleep: Mutex<Sleep>,
    /// Signalled when the state becomes final (see `Sleep::is_final`).
    quiet: Condvar,
    /// The threads of every M, for `main` to join.
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// The model's Gs, to check that what an M takes is one of them.
    gs: Vec<*mut G>,
    /// How many times each G was taken by an M.
    taken: Vec<AtomicUsize>,
    /// Which M took each G.
    taker: Vec<AtomicUsize>,
    /// How many times `wakep` handed a P to an M (an idle one or a new one).
    wakeups: AtomicUsize,
}

// SAFETY: `gs` are only compared, and freed by `main` after every thread is joined.
unsafe impl Send for World {}
// SAFETY: as above; everything else is loom's thread-safe types.
unsafe impl Sync for World {}

impl World {
    /// `nprocs` Ps, all idle, no M yet; `ngs` Gs, not queued yet.
    fn new(nprocs: usize, ngs: usize) -> Arc<World> {
        Arc::new(World {
            idle: Idle::new(nprocs),
            inject: Inject::new(),
            runqs: (0..nprocs).map(|_| RunQueue::new()).collect(),
            ms: (0..MAX_MS)
                .map(|_| MSlot {
                    nextp: AtomicUsize::new(0),
                    nextspin: AtomicBool::new(false),
                    wake: Condvar::new(),
                })
                .collect(),
            nms: AtomicUsize::new(0),
            sleep: Mutex::new(Sleep::default()),
            quiet: Condvar::new(),
            threads: Mutex::new(Vec::new()),
            gs: (0..ngs)
                .map(|_| Box::into_raw(Box::new(G { _seen: 0 })))
                .collect(),
            taken: (0..ngs).map(|_| AtomicUsize::new(0)).collect(),
            taker: (0..ngs).map(|_| AtomicUsize::new(usize::MAX)).collect(),
            wakeups: AtomicUsize::new(0),
        })
    }

    /// The owner's handle on P `p`'s run queue.
    fn runq(&self, p: usize) -> Local<'_, G> {
        // SAFETY: only the M holding P `p` calls this, one `Local` at a time.
        unsafe { self.runqs[p].local() }
    }

    /// Starts an M thread running `f`, counted as live from now on.
    fn spawn_m(w: &Arc<World>, f: impl FnOnce(&Arc<World>, usize) + 'static) {
        let id = w.nms.fetch_add(1, Ordering::Relaxed);
        assert!(
            id < MAX_MS,
            "the model started more Ms than it has room for"
        );
        w.sleep.lock().unwrap().live += 1;
        let w2 = w.clone();
        let handle = thread::spawn(move || {
            f(&w2, id);
            w2.m_exits();
        });
        w.threads.lock().unwrap().push(handle);
    }

    /// The calling M thread is done: it exits, or runs the G for good.
    fn m_exits(&self) {
        let mut s = self.sleep.lock().unwrap();
        s.live -= 1;
        self.notify_if_quiet(&s);
    }

    fn notify_if_quiet(&self, s: &Sleep) {
        if s.is_final() {
            self.quiet.notify_one();
        }
    }

    /// `Parker::park` for M `id`: sleeps until its token is set, and consumes it.
    /// Returns `false` instead if `main` shut the model down.
    fn park(&self, id: usize) -> bool {
        let mut s = self.sleep.lock().unwrap();
        while !s.token[id] {
            if s.shutdown {
                return false;
            }
            s.blocked[id] = true;
            self.notify_if_quiet(&s);
            s = self.ms[id].wake.wait(s).unwrap();
            s.blocked[id] = false;
        }
        s.token[id] = false;
        true
    }

    /// `Parker::unpark` for M `id`.
    fn unpark(&self, id: usize) {
        self.sleep.lock().unwrap().token[id] = true;
        // The M re-blocks, or not, after consuming it; `main` is told then.
        self.ms[id].wake.notify_one();
    }

    /// Called by `main` once it has submitted: waits for the final state.
    fn wait_until_final(&self) -> MutexGuard<'_, Sleep> {
        let mut s = self.sleep.lock().unwrap();
        while !s.is_final() {
            s = self.quiet.wait(s).unwrap();
        }
        s
    }

    /// Waits for the final state and describes it: whether a G was left queued, and
    /// how it went otherwise. Checks there that each G was taken at most once and that
    /// the counters balance (`busy` Ps are held by Ms that run Gs for good). Then ends
    /// the model: wakes the Ms to exit, joins them, frees the Gs.
    fn finish(&self, busy: usize) -> Final {
        let mut s = self.wait_until_final();
        let taken: Vec<usize> = self
            .taken
            .iter()
            .map(|t| t.load(Ordering::Relaxed))
            .collect();
        assert!(
            taken.iter().all(|&t| t <= 1),
            "a G was taken twice: {taken:?}"
        );
        let stranded = taken.contains(&0);
        let outcome = if stranded {
            "stranded".to_string()
        } else {
            let takers: Vec<String> = self
                .taker
                .iter()
                .map(|m| format!("M{}", m.load(Ordering::Relaxed)))
                .collect();
            format!(
                "taken by {}, {} wake-ups",
                takers.join(" and "),
                self.wakeups.load(Ordering::Relaxed)
            )
        };
        if !stranded {
            assert!(self.inject.is_empty() && self.runqs.iter().all(|q| !q.has_work()));
            // Nobody spins, and only Ps of busy Ms are not idle.
            assert_eq!(self.idle.nmspinning(), 0, "nmspinning leaked");
            assert_eq!(self.idle.npidle(), self.idle.nprocs() - busy, "a P leaked");
        }
        s.shutdown = true;
        drop(s);
        for id in 0..MAX_MS {
            self.ms[id].wake.notify_all();
        }
        loop {
            let next = self.threads.lock().unwrap().pop();
            match next {
                Some(m) => m.join().unwrap(),
                None => break,
            }
        }
        // Take the stranded Gs back out of the queues.
        let mut left = Vec::new();
        while let Some(g) = self.inject.pop() {
            left.push(g);
        }
        for p in 0..self.runqs.len() {
            let mut q = self.runq(p);
            left.extend(q.take_runnext());
            while let Some(g) = q.pop() {
                left.push(g);
            }
        }
        let untaken = (0..self.gs.len()).filter(|&i| taken[i] == 0);
        assert_eq!(
            left.len(),
            untaken.clone().count(),
            "a G vanished, or was both taken and left queued"
        );
        assert!(untaken.clone().all(|i| left.contains(&self.gs[i])));
        for &g in &self.gs {
            // SAFETY: made by `Box::into_raw` in `new`; no thread and no queue holds it.
            drop(unsafe { Box::from_raw(g) });
        }
        Final { stranded, outcome }
    }
}

/// How an execution ended.
struct Final {
    /// The G was left queued while every M slept: a lost wake-up.
    stranded: bool,
    /// Who took the G and how many wake-ups it took, for the coverage checks.
    outcome: String,
}

impl Final {
    /// Asserts that the wake-up was not lost, and returns the outcome.
    fn not_stranded(self, what: &str) -> String {
        assert!(!self.stranded, "lost wake-up: {what}");
        self.outcome
    }
}

/// `wake::wakep`: S6 after S2–S5 said yes.
fn wakep(w: &Arc<World>) {
    match w.idle.take_idle() {
        None => w.idle.cancel_spin(),
        Some((p, m)) => start_m(w, p, m, true),
    }
}

/// `wake::start_m`: hands P `p` to idle M `m` and unparks it, or starts a new M.
fn start_m(w: &Arc<World>, p: usize, m: Option<usize>, spinning: bool) {
    w.wakeups.fetch_add(1, Ordering::Relaxed);
    match m {
        Some(m) => {
            let slot = &w.ms[m];
            slot.nextspin.store(spinning, Ordering::Relaxed);
            // `wake::start_m` stores; a swap here, to the same effect. The M's
            // `swap(0)` in `stop_m` read the old 0 and wrote 0, so under C11 this
            // store follows it and the woken M's next swap reads the P. loom does not
            // order a plain store after an RMW its thread has not seen
            // (tokio-rs/loom#254) and lets that swap read its own 0 again: a false
            // lost wake-up. An RMW reads the latest value, which loom does order.
            slot.nextp.swap(p + 1, Ordering::Release);
            w.unpark(m);
        }
        None => World::spawn_m(w, move |w, id| m_main(w, id, p, spinning)),
    }
}

/// `worker: `M::found_work``: a spinner that found work stops spinning, and the last
/// one wakes another M, since more work may be waiting (Go's `resetspinning`).
fn found_work(w: &Arc<World>, spinning: &mut bool) {
    if std::mem::replace(spinning, false) && w.idle.found_work() && w.idle.should_wake() {
        wakep(w);
    }
}

/// `worker::any_work`: T4's re-check of every queue.
fn any_work(w: &World) -> bool {
    !w.inject.is_empty() || w.runqs.iter().any(|q| !q.ring_is_empty())
}

/// `worker::steal`, one round: half of another P's ring.
fn steal(w: &World, p: usize) -> Option<*mut G> {
    (0..w.runqs.len())
        .filter(|&v| v != p)
        .find_map(|v| w.runqs[v].steal_into(&mut w.runq(p)))
}

/// M `id` took G `g`; it will run it.
fn took(w: &World, id: usize, g: *mut G) {
    let i = w.gs.iter().position(|&x| x == g);
    let i = i.expect("an M took something that is not a G");
    w.taken[i].fetch_add(1, Ordering::Relaxed);
    w.taker[i].store(id, Ordering::Relaxed);
}

/// An M's life from holding P `p`: `worker::find_runnable` until it takes the G (and
/// runs it for good), or until `main` ends the model while it sleeps.
fn m_main(w: &Arc<World>, id: usize, p: usize, spinning: bool) {
    let mut p = p;
    let mut spinning = spinning;
    loop {
        // next_local: runnext, the ring, then the global queue.
        let next = {
            let mut q = w.runq(p);
            q.take_runnext().or_else(|| q.pop())
        };
        if let Some(g) = next.or_else(|| w.inject.pop()) {
            found_work(w, &mut spinning);
            return took(w, id, g);
        }
        if spinning || w.idle.try_spin() {
            spinning = true;
            if let Some(g) = steal(w, p) {
                found_work(w, &mut spinning);
                return took(w, id, g);
            }
        }
        // T1: give up the P, unless the global queue has work.
        if !w.idle.release_p(p, || !w.inject.is_empty()) {
            continue;
        }
        if std::mem::replace(&mut spinning, false) {
            // T2, T3.
            w.idle.stop_spinning();
            // T4: re-check every queue.
            if any_work(w)
                && let Some(pid) = w.idle.take_idle_p()
            {
                p = pid;
                spinning = true;
                w.idle.add_spinning();
                continue;
            }
        }
        // T5.
        match stop_m(w, id) {
            Some((pid, spin)) => (p, spinning) = (pid, spin),
            None => return,
        }
    }
}

/// `worker::stop_m`: sleeps until handed a P. `None` when `main` ends the model.
fn stop_m(w: &World, id: usize) -> Option<(usize, bool)> {
    w.idle.push_idle_m(id);
    wait_for_p(w, id)
}

/// The sleeping half of `stop_m`, once the M is on the idle list.
fn wait_for_p(w: &World, id: usize) -> Option<(usize, bool)> {
    let slot = &w.ms[id];
    loop {
        let p = slot.nextp.swap(0, Ordering::Acquire);
        if p != 0 {
            return Some((p - 1, slot.nextspin.load(Ordering::Relaxed)));
        }
        if !w.park(id) {
            return None;
        }
    }
}

/// Makes a new M that holds an idle P, spinning or not, as if it had just been woken,
/// and starts it on `find_runnable`.
fn start_with_p(w: &Arc<World>, spinning: bool) {
    let p = w.idle.take_idle_p().expect("no idle P to start with");
    if spinning {
        w.idle.add_spinning();
    }
    World::spawn_m(w, move |w, id| m_main(w, id, p, spinning));
}

/// Makes a new M that sleeps on the idle list without a P, as `stop_m` leaves it.
fn start_asleep(w: &Arc<World>) {
    // `main` is the only thread starting Ms yet: the next id is this M's.
    let id = w.nms.load(Ordering::Relaxed);
    w.idle.push_idle_m(id);
    World::spawn_m(w, move |w, id2| {
        assert_eq!(id, id2);
        if let Some((p, spinning)) = wait_for_p(w, id) {
            m_main(w, id, p, spinning);
        }
    });
}

/// S1–S6 from outside the runtime (`submit_new`, `ready` with no P), with the fenced
/// check or, to show what the fence is for, without it.
fn submit_global(w: &Arc<World>, fenced: bool) {
    w.inject.push(w.gs[0]); // S1
    let wake = if fenced {
        w.idle.should_wake()
    } else {
        w.idle.should_wake_unfenced()
    };
    if wake {
        wakep(w);
    }
}

/// One P, held by M0, which spins, finds nothing and gives up (T1–T5), while a thread
/// outside the runtime pushes a G onto the global queue and runs S2–S6.
///
/// Either M0 sees the G (in the queue, at T1 under the lock, or at T4) and takes it,
/// or the submitter sees M0's P idle and nobody spinning, and hands the P to M0 (if
/// M0 is on the idle list already) or to a new M, M1.
#[test]
fn global_submit_vs_last_spinner() {
    static REACHED: Outcomes = Outcomes::new();
    check("global_submit_vs_last_spinner", |start: Start| {
        let w = World::new(1, 1);
        start_with_p(&w, true);
        start.spawned();

        submit_global(&w, true);

        REACHED.mark(
            w.finish(1)
                .not_stranded("the G is queued and every M sleeps"),
        );
    });
    REACHED.assert_reached(&[
        "taken by M0, 0 wake-ups",
        "taken by M0, 1 wake-ups",
        "taken by M1, 1 wake-ups",
    ]);
}

/// Two Ps: M0 spins on P0 while M1, on P1, finds no work and may not spin (at most
/// half the busy Ps have a spinner), so it gives up its P without T4 — relying on
/// the spinner to re-check. Meanwhile a G arrives in the global queue from outside.
#[test]
fn global_submit_vs_spinner_and_non_spinner() {
    check(
        "global_submit_vs_spinner_and_non_spinner",
        |start: Start| {
            let w = World::new(2, 1);
            start_with_p(&w, true);
            start_with_p(&w, false);
            start.spawned();

            submit_global(&w, true);

            w.finish(1)
                .not_stranded("the G is queued and every M sleeps");
        },
    );
}

/// Two Ps: M0 spins on P0, M1 sleeps, P1 is idle; two Gs arrive in the global queue
/// from outside, each followed by S2–S6.
///
/// Both submitters may see M0 spinning and wake nobody. Then the wake-up for the
/// second G must come from M0 itself: a spinner that finds work stops spinning, and if
/// it was the last one it runs S2–S6 (`found_work`, Go's `resetspinning`), since more
/// work may be queued. Whoever takes a G runs it for good, so both Ps end up busy.
#[test]
fn global_two_gs_need_a_second_m() {
    static REACHED: Outcomes = Outcomes::new();
    check("global_two_gs_need_a_second_m", |start: Start| {
        let w = World::new(2, 2);
        start_with_p(&w, true);
        start_asleep(&w);
        start.spawned();

        for &g in &w.gs {
            w.inject.push(g);
            if w.idle.should_wake() {
                wakep(&w);
            }
        }

        REACHED.mark(w.finish(2).not_stranded("a G is queued and every M sleeps"));
    });
    REACHED.assert_reached(&[
        "taken by M0 and M1, 1 wake-ups",
        "taken by M1 and M0, 1 wake-ups",
    ]);
}

/// `global_submit_vs_last_spinner` with the submitter skipping S2, the fence: some
/// execution must leave the G queued with every M asleep. This shows that the model
/// sees what the fence prevents (and that loom does not hide it).
#[test]
fn global_submit_without_the_fence_loses_a_wake_up() {
    static REACHED: Outcomes = Outcomes::new();
    check("global_submit_without_the_fence", |start: Start| {
        let w = World::new(1, 1);
        start_with_p(&w, true);
        start.spawned();

        submit_global(&w, false);

        REACHED.mark(w.finish(1).outcome);
    });
    REACHED.assert_reached(&["stranded", "taken by M0, 0 wake-ups"]);
}

/// S1 by a running M onto its own P: `unpark_timer`'s (and `ready`'s displaced
/// `runnext`'s) `push_local`, then `should_wake_unfenced` — or the fenced check.
fn submit_local(w: &Arc<World>, p: usize, fenced: bool) {
    w.runq(p).push(w.gs[0]).map_err(|_| "overflow").unwrap(); // S1
    let wake = if fenced {
        w.idle.should_wake()
    } else {
        w.idle.should_wake_unfenced()
    };
    if wake {
        wakep(w);
    }
}

/// Two Ps: M0 spins on P0 and gives up, while M1, running a G on P1, readies another G
/// onto P1's ring with the unfenced check, then goes back to its scheduling loop (its
/// G blocked). The G may be stolen by M0 or by a woken M, or run by M1 itself; it is
/// never lost.
#[test]
fn local_submit_unfenced_runs() {
    static REACHED: Outcomes = Outcomes::new();
    check("local_submit_unfenced_runs", |start: Start| {
        let w = World::new(2, 1);
        start_with_p(&w, true);
        let p1 = w.idle.take_idle_p().unwrap();
        World::spawn_m(&w, move |w, id| {
            submit_local(w, p1, false);
            m_main(w, id, p1, false);
        });
        start.spawned();

        REACHED.mark(
            w.finish(1)
                .not_stranded("the G is in P1's ring, every M asleep"),
        );
    });
    REACHED.assert_reached(&[
        "taken by M0, 0 wake-ups",
        "taken by M1, 0 wake-ups",
        "taken by M1, 1 wake-ups",
    ]);
}

/// Two Ps: M0 spins on P0 and gives up, while M1, running a G on P1, readies another G
/// onto P1's ring and then keeps running its own G for good (a CPU-bound loop): it
/// never looks at its queue again. Returns whether the G was stranded in some
/// execution.
fn busy_pusher(name: &str, fenced: bool) -> bool {
    static STRANDED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    STRANDED.store(false, std::sync::atomic::Ordering::Relaxed);
    check(name, move |start: Start| {
        let w = World::new(2, 1);
        start_with_p(&w, true);
        let p1 = w.idle.take_idle_p().unwrap();
        World::spawn_m(&w, move |w, _| submit_local(w, p1, fenced));
        start.spawned();

        // M1 holds P1, busy: the only P the taker can hold is the other one.
        if w.finish(2).stranded {
            STRANDED.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    });
    STRANDED.load(std::sync::atomic::Ordering::Relaxed)
}

/// With the fenced check, even a pusher that never comes back to its queue cannot
/// strand the G: the fenced check gives the full guarantee, whoever pushes.
#[test]
fn local_submit_fenced_busy_pusher() {
    assert!(
        !busy_pusher("local_submit_fenced_busy_pusher", true),
        "lost wake-up: the G is in P1's ring, M1 busy, every other M asleep"
    );
}

/// With the unfenced check and a pusher that never comes back, some execution strands
/// the G in P1's ring while M0 sleeps: what `should_wake_unfenced` gives up, and why
/// it is used only where the pushing P will run its own queue.
#[test]
fn local_submit_unfenced_busy_pusher_can_strand_work() {
    assert!(
        busy_pusher("local_submit_unfenced_busy_pusher", false),
        "expected the unfenced local submit to miss a wake-up in some execution"
    );
}

/// L1 of `steal.rs`: a running M pushes a G out of `runnext` onto its own small ring
/// and, its owner getting to that ring, wakes nobody — no S2–S6 at all.
fn push_left_to_owner(w: &Arc<World>, p: usize) {
    w.runq(p).push(w.gs[0]).map_err(|_| "overflow").unwrap(); // S1, and no more
}

/// sysmon's look at P `p` whose owner has not switched Gs since the previous look
/// (`sysmon::run`): work on its ring gets an M woken, through the fenced check, since
/// the owner may stay busy for good (L3 of `steal.rs`).
fn sysmon_looks_at_stuck(w: &Arc<World>, p: usize) {
    if !w.runqs[p].ring_is_empty() && w.idle.should_wake() {
        wakep(w);
    }
}

/// Two Ps: M0 spins on P0 and gives up (T1–T5), while the owner of P1 (`main`) pushes a
/// G onto its ring without a wake-up (L1) and then computes for good: it never switches
/// again. If `sysmon_looks`, sysmon's next look sees P1's tick unchanged and the ring
/// non-empty (`main` again, as sysmon). P1 stays held by its busy owner throughout.
fn patient_push_busy_owner(name: &'static str, reached: &'static Outcomes, sysmon_looks: bool) {
    check(name, move |start: Start| {
        let w = World::new(2, 1);
        start_with_p(&w, true);
        let p1 = w.idle.take_idle_p().unwrap();
        start.spawned();

        push_left_to_owner(&w, p1);
        if sysmon_looks {
            sysmon_looks_at_stuck(&w, p1);
            reached.mark(w.finish(2).not_stranded(
                "the G is on the busy owner's ring, sysmon looked, every other M asleep",
            ));
        } else {
            reached.mark(w.finish(2).outcome);
        }
    });
}

/// With sysmon's look the G must be taken by M0, spinning or woken, or by a new M —
/// never left on P1's ring while every M sleeps.
#[test]
fn patient_push_busy_owner_rescued_by_sysmon() {
    static REACHED: Outcomes = Outcomes::new();
    patient_push_busy_owner("patient_push_busy_owner_rescued_by_sysmon", &REACHED, true);
    REACHED.assert_reached(&[
        "taken by M0, 0 wake-ups",
        "taken by M0, 1 wake-ups",
        "taken by M1, 1 wake-ups",
    ]);
}

/// Without sysmon's look some execution leaves the G on the busy owner's ring with M0
/// asleep. L1 is sound only because sysmon looks (L3) — the model sees it.
#[test]
fn patient_push_busy_owner_without_sysmon_can_strand() {
    static REACHED: Outcomes = Outcomes::new();
    patient_push_busy_owner(
        "patient_push_busy_owner_without_sysmon_can_strand",
        &REACHED,
        false,
    );
    REACHED.assert_reached(&["stranded", "taken by M0, 0 wake-ups"]);
}

/// Two Ps: M0 spins on P0 and gives up, while M1, the owner of P1, pushes a G onto its
/// ring without a wake-up (L1) and goes back to its scheduling loop — it keeps
/// switching. sysmon meanwhile sees the owner switch and leaves the small ring to it
/// (L4: no look of its wakes anyone). M1 runs the G itself, or M0 steals it first.
#[test]
fn patient_push_switching_owner_runs() {
    static REACHED: Outcomes = Outcomes::new();
    check("patient_push_switching_owner_runs", |start: Start| {
        let w = World::new(2, 1);
        start_with_p(&w, true);
        let p1 = w.idle.take_idle_p().unwrap();
        World::spawn_m(&w, move |w, id| {
            push_left_to_owner(w, p1);
            m_main(w, id, p1, false);
        });
        start.spawned();

        REACHED.mark(
            w.finish(1)
                .not_stranded("the G is on P1's ring, its owner switching, every M asleep"),
        );
    });
    REACHED.assert_reached(&["taken by M0, 0 wake-ups", "taken by M1, 0 wake-ups"]);
}
