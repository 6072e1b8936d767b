//! The M: an OS thread's scheduling loop, and every switch between Gs.
//!
//! # Switching
//!
//! A G that parks, yields or exits picks the next G itself, on its own stack, from its
//! P's `runnext` and local queue, and switches straight to it — one switch per hand-off,
//! where Go goes through the M's own stack (g0) in between. Only when the local queue
//! is empty does it switch to g0, whose loop ([`find_runnable`]) searches further:
//! timers, the global queue, other Ps' queues, and finally sleeps.
//!
//! Some work cannot be done before the switch, because the G's stack is still in use:
//! marking it `WAITING` (someone could then resume it on another M while it still runs
//! here), queueing it after a yield, freeing its stack after it exits. The switching G
//! leaves that work in `M::pending`, and whoever resumes on the other side runs it
//! first ([`after_switch`]): every landing point of a switch calls it.
//!
//! # Thread-locals
//!
//! A G can resume on another M. LLVM assumes the thread pointer is constant within a
//! function and may keep a thread-local's address across a call, so a thread-local
//! read before a switch may name the wrong M after it. The runtime reads the current
//! M only through [`current_m`], which is never inlined, when it enters from user code;
//! across a switch the M travels in a register instead: whoever resumes a context
//! passes its own M as the return value of that context's `switch` (or as `task_main`'s
//! argument).

use super::g::G;
use super::queue::Local;
use super::{P, Runtime, runtime, timer};
use crate::arch;
use crate::stack::grow::BoundsHooks;
use crate::stack::overflow;
use crate::stack::{Bounds, overflow::Current};
use gogreen_channel::park::{Hooks, Unparker, UnparkerVTable};
use std::cell::{Cell, UnsafeCell};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

/// Consecutive `runnext` picks before the ring gets a turn.
const RUNNEXT_STREAK_MAX: u32 = 64;
/// Every this many schedules, the global queue and the timers go first.
const GLOBAL_TICK: u32 = 61;
/// Steal rounds over all victims before giving up the P.
const STEAL_ROUNDS: usize = 4;
/// How long a spinning M keeps looking before it gives its P up and sleeps.
const IDLE_SPIN: std::time::Duration = std::time::Duration::from_micros(20);

/// Work a switching context leaves for the one it switches to.
#[derive(Clone, Copy)]
enum Pending {
    None,
    /// Commit the park of this G (`State::commit_park`), or requeue it if woken.
    Park(*const G),
    /// Queue this G at the tail of the local run queue.
    Yield(*const G),
    /// This G has exited: free its stack, release its run reference.
    Exit(*const G),
}

/// An OS thread that runs Gs.
pub(crate) struct M {
    pub(crate) id: usize,
    parker: super::parker::Parker,
    /// A P handed over by whoever woke this M (index + 1), or 0.
    nextp: AtomicUsize,
    /// Whether to spin once woken with `nextp`.
    nextspin: AtomicBool,
    // Everything below is touched only by the M's own thread.
    /// The P held, or null.
    p: Cell<*const P>,
    /// The G running, or null on g0.
    curg: Cell<*const G>,
    /// g0's saved stack pointer while a G runs.
    g0_sp: UnsafeCell<*mut u8>,
    pending: Cell<Pending>,
    spinning: Cell<bool>,
    rng: Cell<u64>,
}

// SAFETY: the Cells are touched only by the M's own thread (see the field comments);
// `parker`, `nextp` and `nextspin` are thread-safe.
unsafe impl Sync for M {}

impl PartialEq for &'static M {
    fn eq(&self, other: &Self) -> bool {
        ptr::eq(*self, *other)
    }
}

thread_local! {
    static CURRENT: Cell<*const M> = const { Cell::new(ptr::null()) };
}

/// The M this OS thread is, if it is one. Never inlined: see the module docs.
#[inline(never)]
fn current_m() -> Option<&'static M> {
    // SAFETY: Ms are leaked at creation and never freed.
    CURRENT.with(|c| unsafe { c.get().as_ref() })
}

impl M {
    fn new(id: usize) -> Self {
        M {
            id,
            parker: super::parker::Parker::new(),
            nextp: AtomicUsize::new(0),
            nextspin: AtomicBool::new(false),
            p: Cell::new(ptr::null()),
            curg: Cell::new(ptr::null()),
            g0_sp: UnsafeCell::new(ptr::null_mut()),
            pending: Cell::new(Pending::None),
            spinning: Cell::new(false),
            rng: Cell::new(
                0x9E37_79B9_7F4A_7C15 ^ (id as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9),
            ),
        }
    }

    #[inline]
    fn p(&self) -> Option<&'static P> {
        // SAFETY: Ps live in the runtime, which is never dropped.
        unsafe { self.p.get().as_ref() }
    }

    #[inline]
    fn curg(&self) -> Option<&'static G> {
        // SAFETY: G headers are never freed.
        unsafe { self.curg.get().as_ref() }
    }

    fn rand(&self) -> u64 {
        // xorshift64*
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// The owner's handle on the held P's run queue.
    #[inline]
    fn runq(&self, p: &'static P) -> Local<'static, G> {
        debug_assert!(ptr::eq(self.p.get(), p));
        // SAFETY: this M holds `p`, and uses one Local at a time.
        unsafe { p.runq.local() }
    }

    /// Makes `g` the running G of this M and P. A G that never ran gets its stack
    /// here, from this P's cache; if none can be had, the G fails (its join returns
    /// the error) and `false` is returned.
    #[inline]
    fn begin_run(&self, p: &'static P, g: &'static G) -> bool {
        // SAFETY: this M holds `g` (it was just taken off a queue).
        if unsafe { g.needs_stack() } && !give_stack(self, p, g) {
            return false;
        }
        self.curg.set(g);
        // Only this M writes it; sysmon reads it. (The preempt flag is cleared by
        // `preempt_point`, which acts on it, not here on every switch.)
        p.schedtick.store(
            p.schedtick.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
        true
    }

    /// Picks the next G from this M's P without leaving the current stack: the global
    /// queue and timers every `GLOBAL_TICK` schedules, then `runnext` (within its
    /// streak), the ring, `runnext`, and the global queue.
    #[inline]
    fn next_local(&self, rt: &'static Runtime) -> Option<&'static G> {
        let p = self.p()?;
        if p.schedtick.load(Ordering::Relaxed) % GLOBAL_TICK == 0 {
            if p.retired.load(Ordering::Relaxed) {
                // Off to g0, which gives the P up (`find_runnable`). Noticed within
                // `GLOBAL_TICK` schedules, or at once when nothing else is queued.
                return None;
            }
            if let Some(g) = rt.inject.pop() {
                // SAFETY: queued Gs are live headers.
                return Some(unsafe { &*g });
            }
            run_timers(p, rt.now_if_timers(p));
        }
        let mut q = self.runq(p);
        // SAFETY: this M holds `p`.
        let local = unsafe { p.local() };
        let g = if local.runnext_streak < RUNNEXT_STREAK_MAX {
            match q.take_runnext() {
                Some(g) => {
                    local.runnext_streak += 1;
                    Some(g)
                }
                None => q.pop(),
            }
        } else {
            local.runnext_streak = 0;
            q.pop().or_else(|| q.take_runnext())
        };
        // SAFETY: queued Gs are live headers.
        g.or_else(|| inject_batch(rt, &mut q))
            .map(|g| unsafe { &*g })
    }

    /// This M found work: if it was spinning it stops, and if it was the last spinner
    /// it wakes another M, since there may be more work (Go's `resetspinning`).
    fn found_work(&self, rt: &'static Runtime) {
        if self.spinning.replace(false) && rt.idle.found_work() && rt.idle.should_wake() {
            wakep(rt);
        }
    }

    /// Switches from the running G `g` to `next`, or to g0 if `next` is `None`.
    /// Returns when `g` is resumed — perhaps on another M — after running the pending
    /// work that M left.
    #[inline]
    fn switch_from(&'static self, g: &G, mut next: Option<&'static G>, pending: Pending) {
        self.pending.set(pending);
        let p = self.p().expect("gogreen: fatal: switching without a P");
        while let Some(n) = next {
            if self.begin_run(p, n) {
                break;
            }
            next = self.next_local(runtime());
        }
        let resumer = match next {
            Some(n) => {
                // SAFETY: (1) `g` is the running G and `g.sp` is its own save slot;
                // (2) `n` was popped from this P's queues, so this M holds it and may
                // switch to it; (3) no panic unwinds through here.
                unsafe { enter(g.sp.get(), n, self) }
            }
            None => {
                self.curg.set(ptr::null());
                // SAFETY: g0 is suspended in `m_main` waiting for exactly this.
                unsafe { arch::switch(g.sp.get(), *self.g0_sp.get(), self as *const M as *mut ()) }
            }
        };
        // SAFETY: whoever resumed us passed its own M (see `enter`).
        after_switch(unsafe { &*(resumer as *const M) });
    }
}

/// Switches from the context whose save slot is `save` into `g` on M `m`: resumes it,
/// or starts it on its stack if it never ran. Either way `g` learns it runs on `m` (the
/// return value of its `switch`, or `task_main`'s second argument). Returns the M that
/// later resumes the caller.
///
/// # Safety
/// The caller holds `g` (it is `ACTIVE` and not queued anywhere) and `save` belongs to
/// the running context, which runs on `m`.
#[inline]
unsafe fn enter(save: *mut *mut u8, g: &G, m: &'static M) -> *mut () {
    let m = m as *const M as *mut ();
    // SAFETY: per the contract.
    unsafe {
        let sp = *g.sp.get();
        if sp.is_null() {
            arch::start(save, g.entry_sp(), g as *const G as *mut (), task_main, m)
        } else {
            arch::switch(save, sp, m)
        }
    }
}

/// Runs the work the previous context left behind on `m`, the M we now run on. Every
/// landing point of a switch calls this first.
#[inline]
fn after_switch(m: &M) {
    match m.pending.replace(Pending::None) {
        Pending::None => {}
        Pending::Park(g) => {
            // SAFETY: G headers are never freed.
            let g = unsafe { &*g };
            if !g.state.commit_park() {
                // Woken while switching away: it runs again, after what is queued.
                push_local(runtime(), m, g);
            }
        }
        Pending::Yield(g) => {
            // SAFETY: as above.
            push_local(runtime(), m, unsafe { &*g });
        }
        Pending::Exit(g) => {
            // SAFETY: as above; we switched away from its stack for good.
            unsafe { retire(runtime(), m.p(), &*g) };
        }
    }
}

/// Frees what an ended task held: its stack, and its header if the handle is gone too.
///
/// # Safety
/// Nobody runs on `g`'s stack any more.
unsafe fn retire(rt: &Runtime, p: Option<&P>, g: &G) {
    // SAFETY: per the contract.
    if let Some(stack) = unsafe { g.take_stack_if_any() } {
        rt.free_stack(p, stack);
    }
    if g.release_run() {
        // SAFETY: both the task and its handle are gone.
        unsafe { rt.free_g(g, p) };
    }
}

/// Gives a G its stack before its first run. On failure, ends the task with the error
/// as its result and returns `false`.
#[cold]
fn give_stack(m: &M, p: &'static P, g: &'static G) -> bool {
    let rt = runtime();
    match rt.alloc_stack(Some(p), g.stack_size()) {
        Ok(stack) => {
            // SAFETY: `m` holds `g`, which has no stack yet.
            unsafe { g.give_stack(stack) };
            true
        }
        Err(e) => {
            let _ = m;
            let msg = format!("gogreen: no stack for green thread (id {}): {e}", g.id());
            // SAFETY: `m` holds `g`, which never ran and has no stack.
            unsafe {
                g.fail(Box::new(msg));
                retire(rt, Some(p), g);
            }
            false
        }
    }
}

/// The entry function of every G, on its own stack.
unsafe extern "C" fn task_main(arg: *mut (), m: *mut ()) -> ! {
    // SAFETY: `enter` passes the M that starts us.
    after_switch(unsafe { &*(m as *const M) });
    // SAFETY: `enter` passes the G being started.
    let g = unsafe { &*(arg as *const G) };
    // SAFETY: this G runs; the slot's old contents are a previous task's.
    unsafe { *g.locals_slot() = ptr::null_mut() };
    // SAFETY: this is the G's one run.
    unsafe { g.run() };
    // Task-locals go before the result is published, as thread-locals go before a
    // thread's join returns.
    // SAFETY: this G runs, and its slot is its own.
    unsafe { crate::task_local::destroy(g.locals_slot()) };
    g.complete();
    let m = current_m().expect("gogreen: fatal: a G finished off its M");
    let next = m.next_local(runtime());
    m.switch_from(g, next, Pending::Exit(g));
    unreachable!("gogreen: fatal: an exited G was resumed");
}

/// Pushes `g` on the tail of `m`'s local queue (overflow to the global queue).
#[inline]
fn push_local(rt: &Runtime, m: &M, g: &G) {
    let p = m.p().expect("gogreen: fatal: queueing without a P");
    if let Err(overflow) = m.runq(p).push(g as *const G as *mut G) {
        rt.inject.push_batch(overflow.items);
    }
}

/// Takes a batch from the global queue into the local ring (Go's `globrunqget`):
/// a fair share, at most half a ring. Returns the first.
fn inject_batch(rt: &Runtime, q: &mut Local<'_, G>) -> Option<*mut G> {
    if rt.inject.is_empty() {
        return None;
    }
    let n = rt.inject.len() / rt.settings.procs + 1;
    let n = n.min(super::queue::CAPACITY as usize / 2);
    let mut first = None;
    // The ring is empty (callers look here after it), so half a ring always fits; were
    // it not, the overflow goes back after `pop_n` has dropped the global lock.
    let mut spill = Vec::new();
    rt.inject.pop_n(n, |g| {
        if first.is_none() {
            first = Some(g);
        } else if let Err(overflow) = q.push(g) {
            spill.extend(overflow.items);
        }
    });
    if !spill.is_empty() {
        rt.inject.push_batch(spill);
    }
    first
}

/// Runs `p`'s due timers; readied Gs go to the caller's queues. `now` of `None`
/// means "no timers".
fn run_timers(p: &P, now: Option<u64>) -> usize {
    match now {
        Some(now) => p.timers.run(now, unpark_timer),
        None => 0,
    }
}

impl Runtime {
    /// The clock, if `p` has a timer (reading the clock costs ~20 ns; most Ps have none).
    #[inline]
    fn now_if_timers(&self, p: &P) -> Option<u64> {
        if p.timers.next() == timer::NEVER {
            None
        } else {
            Some(self.now())
        }
    }
}

// ---------------------------------------------------------------------------
// Making Gs runnable.

/// Queues a G that just became runnable (after its unpark won `WAITING` → `ACTIVE`).
///
/// On an M with a P it goes to `runnext`: it runs as soon as the running G blocks,
/// which is what a channel hand-off wants. That alone wakes no M — the readier usually
/// blocks right after, and a futex wake-up per send would dominate ping-pong; if the
/// readier keeps running instead, sysmon moves the G to the global queue after one of
/// its periods. A G displaced from `runnext` goes to the ring, and that may wake an M.
/// Off the runtime, the G goes to the global queue and an M is woken if none looks.
pub(crate) fn ready(g: &G) {
    make_runnable(g, true);
}

/// Wakes a G whose timer expired. Unlike [`ready`], it goes to the tail of the queue:
/// Gs whose timers expire together then run in deadline order.
fn unpark_timer(g: &G, generation: u32) -> bool {
    if !g.state.unpark(generation) {
        return false;
    }
    make_runnable(g, false);
    true
}

/// Queues `g` on the caller's P — in `runnext` if `next`, else at the ring's tail — or,
/// off the runtime, on the global queue; then wakes an M as [`ready`] describes.
fn make_runnable(g: &G, next: bool) {
    let rt = runtime();
    match current_m().and_then(|m| m.p().map(|p| (m, p))) {
        Some((m, p)) => {
            let pushed = if next {
                match m.runq(p).set_runnext(g as *const G as *mut G) {
                    Some(old) => {
                        // SAFETY: it was queued, so it is a live header.
                        push_local(rt, m, unsafe { &*old });
                        true
                    }
                    None => false,
                }
            } else {
                push_local(rt, m, g);
                true
            };
            // Only a push onto the ring gives an idle P something to steal.
            if pushed && rt.idle.should_wake_unfenced() {
                wakep(rt);
            }
        }
        None => {
            rt.inject.push(g as *const G as *mut G);
            if rt.idle.should_wake() {
                wakep(rt);
            }
        }
    }
}

/// Queues a freshly spawned G: at the tail of the spawner's ring, or on the global
/// queue off the runtime; then wakes an M if Ps are idle and nobody spins — a spawn is
/// new parallelism.
///
/// Not in `runnext`, as Go does: setting `runnext` is an atomic swap, a full barrier
/// that waits until the spawn's writes to the G header have left the store buffer — and
/// a recycled header's cache lines are usually on the core where its last task exited.
/// The ring's tail is a plain store. (`spawn_join` measured 11–14% faster so.)
pub(super) fn submit_new(rt: &'static Runtime, p: Option<&'static P>, g: &G) {
    let g = g as *const G as *mut G;
    match p {
        Some(_) => {
            let m = current_m().expect("gogreen: fatal: a P without an M");
            // SAFETY: `g` is a live header, handed over to the queue.
            push_local(rt, m, unsafe { &*g });
            // A running P will get to the G itself, so a missed wake-up costs only
            // parallelism, never progress: the unfenced check suffices (as in Go).
            if rt.idle.should_wake_unfenced() {
                wakep(rt);
            }
        }
        None => {
            rt.inject.push(g);
            // Nobody may be running: the fenced check keeps the no-lost-wake-up promise.
            if rt.idle.should_wake() {
                wakep(rt);
            }
        }
    }
}

/// Runs `f` with the P of the calling M, if it is an M that holds one.
pub(super) fn with_p<R>(f: impl FnOnce(Option<&'static P>) -> R) -> R {
    f(current_m().and_then(M::p))
}

/// Wakes an M if Ps are idle and nobody spins (S2–S6). For callers without a P.
pub(super) fn wake_idle(rt: &'static Runtime) -> bool {
    if rt.idle.should_wake() {
        wakep(rt);
        true
    } else {
        false
    }
}

/// sysmon runs the overdue timers of a busy P; the Gs go to the global queue.
pub(super) fn run_timers_from_sysmon(p: &P, now: u64) -> usize {
    run_timers(p, Some(now))
}

/// Step S6 of the idle protocol: start a spinning M on an idle P.
fn wakep(rt: &'static Runtime) {
    match rt.idle.take_idle() {
        None => rt.idle.cancel_spin(),
        Some((p, m)) => start_m(rt, p, m, true),
    }
}

/// Hands P `p` to M `m` (or to a new M) and wakes it.
fn start_m(rt: &'static Runtime, p: usize, m: Option<&'static M>, spinning: bool) {
    match m {
        Some(m) => {
            m.nextspin.store(spinning, Ordering::Relaxed);
            // Release (with the parker's): the M sees nextspin when it sees nextp.
            m.nextp.store(p + 1, Ordering::Release);
            m.parker.unpark();
        }
        None => new_m(rt, p, spinning),
    }
    rt.sysmon.wake(rt);
}

fn new_m(rt: &'static Runtime, p: usize, spinning: bool) {
    // The lock is held across the spawn so that ids stay indices into `ms`.
    let mut ms = rt.ms.lock();
    let m: &'static M = Box::leak(Box::new(M::new(ms.len())));
    let spawned = std::thread::Builder::new()
        .name(format!("gogreen-m{}", m.id))
        .spawn(move || m_main(m, p, spinning));
    match spawned {
        Ok(_) => ms.push(m),
        // Without any M nothing could ever run; there is no one to report to.
        Err(e) if ms.is_empty() => {
            eprintln!("gogreen: fatal: cannot start an OS thread for the scheduler: {e}");
            std::process::abort();
        }
        Err(e) => {
            drop(ms);
            static WARNED: AtomicBool = AtomicBool::new(false);
            if !WARNED.swap(true, Ordering::Relaxed) {
                eprintln!(
                    "gogreen: warning: cannot start another OS thread for the scheduler ({e}); \
                     the running ones carry on"
                );
            }
            // The P goes back to the idle list; its work waits for the running Ms.
            if spinning {
                rt.idle.cancel_spin();
            }
            rt.idle.release_p(p, || false);
        }
    }
}

/// An M's life: take a runnable G, run it until it switches back to g0, repeat.
fn m_main(m: &'static M, p: usize, spinning: bool) -> ! {
    CURRENT.with(|c| c.set(m));
    if let Err(e) = overflow::ensure_altstack() {
        eprintln!(
            "gogreen: warning: no alternate signal stack for {:?} ({e}); a stack overflow will not be reported",
            std::thread::current().name()
        );
    }
    let rt = runtime();
    m.p.set(&rt.ps[p]);
    m.spinning.set(spinning);
    loop {
        let g = find_runnable(rt, m);
        let p = m
            .p()
            .expect("gogreen: fatal: find_runnable returned without a P");
        if !m.begin_run(p, g) {
            continue;
        }
        // SAFETY: `find_runnable` took `g` off a queue, so this M holds it; g0's save
        // slot is this M's own.
        unsafe { enter(m.g0_sp.get(), g, m) };
        // g0 never migrates: whoever switched back to it runs on this M.
        after_switch(m);
    }
}

/// Finds a G to run, on g0, holding a P on return. Sleeps when there is nothing.
/// The end of the loop is the "spinning M giving up" side of the idle protocol
/// (steps T1–T5 in `idle.rs`).
fn find_runnable(rt: &'static Runtime, m: &'static M) -> &'static G {
    loop {
        let p = m.p().expect("gogreen: fatal: looking for work without a P");
        if p.retired.load(Ordering::Acquire) {
            retire_p(rt, m, p);
            stop_m(rt, m);
            continue;
        }
        if let Some(g) = m.next_local(rt) {
            m.found_work(rt);
            return g;
        }
        if run_timers(p, rt.now_if_timers(p)) > 0 {
            continue;
        }
        if m.spinning.get() || rt.idle.try_spin() {
            m.spinning.set(true);
            if let Some(g) = steal(rt, m, p) {
                m.found_work(rt);
                return g;
            }
            // Look a little longer before sleeping: waking a sleeping M costs the waker
            // a futex system call, and work often arrives again within microseconds.
            let until = Instant::now() + IDLE_SPIN;
            while Instant::now() < until {
                for _ in 0..64 {
                    std::hint::spin_loop();
                }
                if !rt.inject.is_empty()
                    || rt
                        .in_play()
                        .any(|v| !ptr::eq(v, p) && !v.runq.ring_is_empty())
                {
                    break;
                }
            }
            if let Some(g) = steal(rt, m, p) {
                m.found_work(rt);
                return g;
            }
        }
        // T1: give up the P, unless the global queue has work.
        if !rt.idle.release_p(p.id, || !rt.inject.is_empty()) {
            continue;
        }
        m.p.set(ptr::null());
        if m.spinning.replace(false) {
            // T2, T3.
            rt.idle.stop_spinning();
            // T4: re-check every queue.
            if any_work(rt)
                && let Some(pid) = rt.idle.take_idle_p()
            {
                m.p.set(&rt.ps[pid]);
                m.spinning.set(true);
                rt.idle.add_spinning();
                continue;
            }
        }
        // T5.
        stop_m(rt, m);
    }
}

/// Gives up a P that sysmon replaced by a spare while this M was stuck in one G: its
/// queued Gs go to the global queue, its timers to its successor, the P to the spares.
fn retire_p(rt: &'static Runtime, m: &M, p: &'static P) {
    let mut q = m.runq(p);
    let mut queued: Vec<*mut G> = q.take_runnext().into_iter().collect();
    while let Some(g) = q.pop() {
        queued.push(g);
    }
    p.timers
        .move_to(&rt.ps[p.successor.load(Ordering::Acquire)].timers);
    m.p.set(ptr::null());
    if m.spinning.replace(false) {
        rt.idle.stop_spinning();
    }
    p.retired.store(false, Ordering::Relaxed);
    p.in_play.store(false, Ordering::Release);
    rt.spares.lock().push(p.id);
    if !queued.is_empty() {
        rt.inject.push_batch(queued);
        wake_idle(rt);
    }
}

/// sysmon found `stuck`'s M stuck in one G while work waits and no P is idle: put a
/// spare P in play, on an M of its own, and mark `stuck` for retirement. The new M
/// steals `stuck`'s queued Gs. Returns whether a spare was left.
pub(super) fn hand_off(rt: &'static Runtime, stuck: &P) -> bool {
    let Some(spare) = rt.spares.lock().pop() else {
        return false;
    };
    rt.ps[spare].in_play.store(true, Ordering::Release);
    stuck.successor.store(spare, Ordering::Release);
    stuck.retired.store(true, Ordering::Release);
    start_m(rt, spare, rt.idle.pop_idle_m(), false);
    true
}

/// Whether any queue or timer has work (T4's re-check).
fn any_work(rt: &Runtime) -> bool {
    !rt.inject.is_empty()
        || rt.in_play().any(|p| !p.runq.ring_is_empty())
        || rt.earliest_timer() <= rt.now()
}

/// Steals half of another P's ring, visiting every P once from a random start, a few
/// rounds; on the last round, also runs other Ps' due timers.
fn steal(rt: &'static Runtime, m: &M, p: &'static P) -> Option<&'static G> {
    let n = rt.ps.len();
    for round in 0..STEAL_ROUNDS {
        let start = m.rand() as usize % n;
        for i in 0..n {
            let victim = &rt.ps[(start + i) % n];
            if ptr::eq(victim, p) || !victim.in_play.load(Ordering::Relaxed) {
                continue;
            }
            if round == STEAL_ROUNDS - 1
                && run_timers(victim, rt.now_if_timers(victim)) > 0
                && let Some(g) = m.next_local(rt)
            {
                return Some(g);
            }
            if let Some(g) = victim.runq.steal_into(&mut m.runq(p)) {
                // SAFETY: queued Gs are live headers.
                return Some(unsafe { &*g });
            }
        }
    }
    None
}

/// T5: sleeps until another thread hands this M a P. The M that sleeps until the
/// earliest timer takes a P itself when that timer is due.
fn stop_m(rt: &Runtime, m: &'static M) {
    rt.idle.push_idle_m(m);
    // Cleared when the timers were due but every P was busy: their Ms (or sysmon) run
    // the timers, and this M sleeps until handed a P instead of spinning on the clock.
    let mut watch_timers = true;
    loop {
        let p = m.nextp.swap(0, Ordering::Acquire);
        if p != 0 {
            m.p.set(&rt.ps[p - 1]);
            m.spinning.set(m.nextspin.load(Ordering::Relaxed));
            return;
        }
        let deadline = rt.earliest_timer();
        if watch_timers && deadline != timer::NEVER && claim_timer_sleep(rt, m, deadline) {
            m.parker.park(Some(rt.ns_to_instant(deadline)));
            rt.timer_sleeper.store(0, Ordering::Release);
            if m.nextp.load(Ordering::Acquire) == 0
                && rt.now() >= deadline
                && rt.idle.remove_idle_m(&m)
            {
                if let Some(pid) = rt.idle.take_idle_p() {
                    m.p.set(&rt.ps[pid]);
                    m.spinning.set(false);
                    return;
                }
                // Every P is busy: their Ms run the timers when they next look.
                rt.idle.push_idle_m(m);
                watch_timers = false;
            }
        } else {
            m.parker.park(None);
        }
    }
}

/// Makes `m` the one M that sleeps until the earliest timer, if no other is.
fn claim_timer_sleep(rt: &Runtime, m: &M, deadline: u64) -> bool {
    let me = m.id + 1;
    let cur = rt.timer_sleeper.load(Ordering::Acquire);
    if cur != 0 && cur != me {
        return false;
    }
    if rt
        .timer_sleeper
        .compare_exchange(cur, me, Ordering::AcqRel, Ordering::Relaxed)
        .is_err()
    {
        return false;
    }
    rt.sleep_until.store(deadline, Ordering::Release);
    true
}

/// A timer was added: if the M sleeping for timers sleeps past it, wake it to re-plan.
fn timer_added(rt: &Runtime, when: u64) {
    if when < rt.sleep_until.load(Ordering::Acquire) {
        let sleeper = rt.timer_sleeper.load(Ordering::Acquire);
        if sleeper != 0 {
            rt.sleep_until.store(when, Ordering::Release);
            if let Some(m) = rt.m_by_id(sleeper - 1) {
                m.parker.unpark();
            }
        }
    }
}

// ---------------------------------------------------------------------------
// What green threads call.

/// The task-local map slot of the running G, if the caller is one.
#[inline]
pub(crate) fn current_locals() -> Option<*mut *mut ()> {
    // SAFETY: the caller is the running G, which alone uses its slot.
    current_g().map(|g| unsafe { g.locals_slot() })
}

/// The running G, if the caller is one.
#[inline]
pub(crate) fn current_g() -> Option<&'static G> {
    current_m().and_then(M::curg)
}

#[inline]
pub(crate) fn in_green_thread() -> bool {
    current_g().is_some()
}

/// Parks the running G until unparked or until `deadline` (see `state.rs`). May return
/// spuriously. Returns `false`, doing nothing, if the caller is not a G.
pub(crate) fn park_current(deadline: Option<Instant>) -> bool {
    let Some(m) = current_m() else { return false };
    let Some(g) = m.curg() else { return false };
    if g.state.take_token() {
        return true;
    }
    let rt = runtime();
    let mut timed = None;
    if let Some(d) = deadline {
        let when = rt.instant_to_ns(d);
        if when <= rt.now() {
            return true;
        }
        let seq = g.park_seq.load(Ordering::Relaxed).wrapping_add(1);
        g.park_seq.store(seq, Ordering::Release);
        let p = m.p().expect("gogreen: fatal: a running G without a P");
        p.timers.add(when, g, g.state.generation(), seq);
        timer_added(rt, when);
        timed = Some(seq);
    }
    let next = m.next_local(rt);
    m.switch_from(g, next, Pending::Park(g));
    if let Some(seq) = timed {
        // The timer, if still pending, is now stale: it will not wake a later park.
        g.park_seq.store(seq.wrapping_add(1), Ordering::Release);
    }
    true
}

/// Lets the other runnable Gs of this P run before the caller continues. Returns
/// `false` if the caller is not a G.
pub(crate) fn yield_current() -> bool {
    let Some(m) = current_m() else { return false };
    let Some(g) = m.curg() else { return false };
    let rt = runtime();
    match m.next_local(rt) {
        Some(next) => m.switch_from(g, Some(next), Pending::Yield(g)),
        // A retired P is given up on g0, even when nothing else waits.
        None if m.p().is_some_and(|p| p.retired.load(Ordering::Relaxed)) => {
            m.switch_from(g, None, Pending::Yield(g))
        }
        None => {}
    }
    true
}

/// Yields if sysmon found that this G has held its P for too long.
#[inline]
pub(crate) fn preempt_point() {
    if let Some(p) = current_m().and_then(|m| if m.curg.get().is_null() { None } else { m.p() })
        && p.preempt.load(Ordering::Relaxed)
    {
        p.preempt.store(false, Ordering::Relaxed);
        yield_current();
    }
}

// ---------------------------------------------------------------------------
// The park seam for the channel crate, stack bounds, overflow reports.

pub(super) static PARK_HOOKS: Hooks = Hooks {
    current: || current_g().map(unparker),
    park: park_current,
    snooze: yield_current,
};

static G_UNPARKER: UnparkerVTable = UnparkerVTable {
    // A G's unparker owns nothing: headers are never freed.
    clone: |data, tag| (data, tag),
    unpark: |data, tag| {
        // SAFETY: `data` is a G header (never freed); `tag` its generation at creation.
        unpark_g(unsafe { &*(data as *const G) }, tag as u32);
    },
    drop: |_, _| {},
};

/// An unparker for `g`'s current task.
pub(crate) fn unparker(g: &'static G) -> Unparker {
    // SAFETY: the vtable's functions are thread-safe and need nothing from `data` but
    // a G header address, which stays valid forever.
    unsafe {
        Unparker::from_raw(
            g as *const G as *const (),
            g.state.generation() as usize,
            &G_UNPARKER,
        )
    }
}

/// Wakes `g` if it still runs task generation `generation`. Returns whether it was parked.
fn unpark_g(g: &G, generation: u32) -> bool {
    if g.state.unpark(generation) {
        ready(g);
        true
    } else {
        false
    }
}

pub(super) static BOUNDS_HOOKS: BoundsHooks = BoundsHooks {
    get: || current_g().map(G::bounds),
    set: |b: Bounds| match current_g() {
        Some(g) => {
            // SAFETY: the caller is the running G.
            unsafe { g.set_bounds(b) };
            true
        }
        None => false,
    },
};

/// For the SIGSEGV handler: the G running on this thread. Async-signal-safe: reads a
/// const-initialised thread-local and plain fields.
pub(super) fn overflow_lookup() -> Option<Current> {
    let m = CURRENT.with(Cell::get);
    // SAFETY: Ms and G headers are never freed.
    let g = unsafe { m.as_ref()?.curg.get().as_ref()? };
    Some(Current {
        bounds: g.bounds(),
        id: g.id(),
        // SAFETY: the name lives as long as the task, which is stuck in this fault;
        // the process aborts before it could be dropped.
        name: g.name().map(|n| unsafe { &*(&**n as *const str) }),
    })
}
