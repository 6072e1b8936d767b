//! Switching between Gs: how a G hands its M to the next G, and the work each switch
//! leaves for the other side.
//!
//! A G that parks, yields or exits picks the next G itself, on its own stack, from its
//! P's `runnext` and local queue ([`M::next_local`]), and switches straight to it — one
//! switch per hand-off, where Go goes through the M's own stack (g0) in between. Only
//! when the local queue is empty does it switch to g0, whose loop (`worker.rs`) searches
//! further: timers, the global queue, other Ps' queues, and finally sleeps. (A G's
//! first run right after a park under a lock goes through a scratch context on g0's
//! stack that releases the lock first: [`M::start_after_unlock`].)
//!
//! Some work cannot be done before the switch, because the G's stack is still in use:
//! marking it `WAITING` (someone could then resume it on another M while it still runs
//! here), queueing it after a yield, freeing its stack after it exits. The switching G
//! leaves that work in `M::pending` ([`Pending`]), and whoever resumes on the other
//! side runs it first ([`after_switch`]): every landing point of a switch calls it.
//!
//! Across a switch the M travels in a register, never in a thread-local (see `m.rs`):
//! whoever resumes a context passes its own M as the return value of that context's
//! `switch`, or as `task_main`'s second argument.

use super::g::{FRESH, G};
use super::locals;
use super::m::{M, Pending, current_m};
use super::p::{P, PLocal, exit_begins, free_stack, take_stack};
use super::pinned;
use super::queue::{self, Local};
use super::ready::{push_local, unpark_timer};
use super::runtime::{Runtime, runtime};
use super::traced;
use super::wake::wake_idle;
use crate::arch;
use std::ptr;
use std::sync::atomic::Ordering;

/// Consecutive `runnext` picks before the ring gets a turn.
const RUNNEXT_STREAK_MAX: u32 = 64;
/// Every this many schedules, the global queue and the timers go first.
pub(crate) const GLOBAL_TICK: u64 = 61;

impl M {
    /// Makes `g` the running G of this M and P. A G that never ran takes the stack it
    /// was promised at spawn, from this P's cache.
    ///
    /// A G pinned to another M (`pinned.rs`) is not run either: it goes into
    /// `M::handback`, `false` is returned, and the caller must go to g0, which hands
    /// this M's P to that G's M (Q1).
    #[inline]
    pub(crate) fn begin_run(&self, p: &'static P, g: &'static G) -> bool {
        // SAFETY: this M holds `g` (it was just taken off a queue).
        if unsafe { g.needs_attention() } {
            // SAFETY: as above.
            if unsafe { g.pinned_to() }.is_some() {
                return self.hold_for_handback(g);
            }
            // The first run: the stack promised at spawn.
            // SAFETY: as above.
            if unsafe { g.needs_stack() } {
                give_stack(p, g);
            }
        }
        self.mark_running(p, g);
        true
    }

    /// `g` is the running G of this M and P from now on.
    #[inline]
    fn mark_running(&self, p: &'static P, g: &'static G) {
        self.curg.set(g);
        // Only this M writes it; sysmon reads it. (The preempt flag is cleared by
        // `preempt_point`, which acts on it, not here on every switch.)
        p.schedtick.store(
            p.schedtick.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
    }

    /// `begin_run` popped a G pinned to another M: keeps it for g0 to hand that M this
    /// M's P (Q1 of `pinned.rs`). Returns `false`: the G is not run here.
    #[cold]
    fn hold_for_handback(&self, g: &'static G) -> bool {
        self.handback.set(g);
        false
    }

    /// Picks the next G from this M's P without leaving the current stack: the global
    /// queue and timers every `GLOBAL_TICK` schedules, then `runnext` (within its
    /// streak), the ring, `runnext`, and the global queue.
    // Always inlined: it sits on every park and yield, and with the callers off the hot
    // path (g0's search, `steal.rs`, `spawn.rs`) the inliner stops inlining it into the
    // hot ones (measured: +12 instructions per yield).
    #[inline(always)]
    pub(crate) fn next_local(&self, rt: &'static Runtime) -> Option<&'static G> {
        let p = self.p()?;
        if p.schedtick.load(Ordering::Relaxed) % GLOBAL_TICK == 0 {
            if p.retired.load(Ordering::Relaxed) {
                // Off to g0, which gives the P up (`worker::find_runnable`). Noticed
                // within `GLOBAL_TICK` schedules, or at once when nothing else is queued.
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
                None => pop_own(&mut q, local),
            }
        } else {
            local.runnext_streak = 0;
            pop_own(&mut q, local).or_else(|| q.take_runnext())
        };
        // SAFETY: queued Gs are live headers.
        g.or_else(|| inject_batch(rt, &mut q))
            .map(|g| unsafe { &*g })
    }

    /// Switches from the running G `g` to `next`, or to g0 if `next` is `None`.
    /// Returns when `g` is resumed — perhaps on another M — after running the pending
    /// work that M left.
    // Always inlined: it sits on every park, and with two park paths (`calls.rs`) the
    // inliner stops inlining it, and the `Pending` it takes then goes through memory.
    #[inline(always)]
    pub(crate) fn switch_from(
        &'static self,
        g: &G,
        mut next: Option<&'static G>,
        pending: Pending,
    ) {
        debug_assert!(
            !pinned::must_stay(self),
            "gogreen: fatal: switching away from a pinned G"
        );
        let Some(p) = self.p() else {
            crate::fatal!("switching away from a G on an M without a P")
        };
        // A first run after a park under a lock takes its stack, and starts, once the
        // lock is released (`start_after_unlock`). Known at compile time for every other
        // caller: `pending` is a constant where this is inlined.
        let parks_locked = matches!(pending, Pending::ParkUnlock(_));
        let mut first_run_after_lock = false;
        while let Some(n) = next {
            // SAFETY: this M holds `n` (just popped), so its save slot is stable; `FRESH`
            // also says it is pinned to no M.
            if parks_locked && unsafe { *n.sp.get() } == FRESH {
                self.mark_running(p, n);
                first_run_after_lock = true;
                break;
            }
            if self.begin_run(p, n) {
                break;
            }
            if !self.handback.get().is_null() {
                next = None; // g0 hands the P over (Q1 of `pinned.rs`).
                break;
            }
            next = self.next_local(runtime());
        }
        if crate::trace::on() {
            traced::switch(self, p, g, next, pending);
        }
        let resumer = match next {
            Some(n) if first_run_after_lock => {
                self.pending.set(pending);
                // SAFETY: as below.
                unsafe { self.start_after_unlock(g.sp.get(), n) }
            }
            Some(n) => {
                self.pending.set(pending);
                // SAFETY: (1) `g` is the running G and `g.sp` is its own save slot;
                // (2) `n` was popped from this P's queues, so this M holds it and may
                // switch to it; (3) no panic unwinds through here.
                unsafe { enter(g.sp.get(), n, self) }
            }
            None => self.enter_g0(g, pending),
        };
        // SAFETY: whoever resumed us passed its own M (see `enter`).
        after_switch(unsafe { &*(resumer as *const M) });
    }

    /// Switches from the running G `g` to this M's own stack (g0), leaving `pending`
    /// for it. Needs no P: a G back from a blocking call without one goes this way
    /// (`blocking.rs`), and so does a locked G that exits. Returns when `g` is resumed
    /// — perhaps on another M.
    #[cold]
    #[inline(never)]
    pub(crate) fn switch_to_g0(&'static self, g: &G, pending: Pending) {
        if crate::trace::on() {
            traced::run_end(self, g, pending);
        }
        let resumer = self.enter_g0(g, pending);
        // SAFETY: whoever resumed us passed its own M (see `enter`).
        after_switch(unsafe { &*(resumer as *const M) });
    }

    /// Starts `n`, a G that never ran, after a G that parks holding a lock
    /// (`Pending::ParkUnlock`) — with the lock released first, on g0's stack, and only
    /// then on `n`'s own.
    ///
    /// Why. `n`'s first instructions touch its stack, and a stack slot that was never
    /// used is not in memory yet: its first touch is a page fault, 5–10 µs in this
    /// project's VMs. Started the usual way, `n` faults before it reaches `after_switch`,
    /// with the parked G's channel lock still held, and every other M that wants that
    /// lock spins, then yields its thread, until the fault ends. In the `parked`
    /// workload (a million Gs spawned, each parking on one rendezvous channel) that was
    /// 5.5 million `sched_yield` calls, about 5.5 per G, and two thirds of the run.
    ///
    /// How. Nothing lives below g0's saved stack pointer while a G runs on this M
    /// (g0 is suspended in `enter` until a G switches back to it), so the space below it
    /// serves as a scratch stack: `arch::start` saves the parking G's context as a
    /// switch does and runs [`unlock_then_start`] there, which does the pending work —
    /// the park's commit and the unlock, as `after_switch` on any landing — then gives
    /// `n` its stack (which may take the pool's lock, or carve new slots with system
    /// calls: not under a channel's lock either) and starts `n` on it. The scratch
    /// context is never resumed; g0's frames above its saved stack pointer are
    /// untouched. Costs one more `start` (six pushes) per such first run; Go gets the
    /// same order for free by running `unlockf` on g0.
    ///
    /// # Safety
    /// As for `enter`: `save` is the running G's save slot, `n` is held by this M, has
    /// never run, and is marked running (`mark_running`) but has no stack yet, and
    /// nothing unwinds through here.
    #[cold]
    #[inline(never)]
    unsafe fn start_after_unlock(&'static self, save: *mut *mut u8, n: &G) -> *mut () {
        // SAFETY: g0 is suspended (a G runs on this M), so its save slot is stable and
        // everything below the saved stack pointer is free; 256 bytes clear any red zone.
        let scratch = unsafe { (*self.g0_sp.get()).sub(256) };
        let scratch = scratch.wrapping_sub(scratch as usize % 16);
        let m = self as *const M as *mut ();
        // SAFETY: `scratch` is 16-byte aligned in g0's mapped stack, unused until g0
        // resumes, by which time this scratch context is gone; `unlock_then_start`
        // never returns.
        unsafe {
            arch::start(
                save,
                scratch,
                n as *const G as *mut (),
                unlock_then_start,
                m,
            )
        }
    }

    /// The switch to g0 itself; returns what the resuming context passes (its M).
    #[inline]
    fn enter_g0(&'static self, g: &G, pending: Pending) -> *mut () {
        debug_assert!(
            !pinned::must_stay(self) || matches!(pending, Pending::Exit(_)),
            "gogreen: fatal: switching away from a pinned G"
        );
        self.pending.set(pending);
        self.curg.set(ptr::null());
        // SAFETY: g0 is suspended in `m_main` waiting for exactly this; `g.sp` is the
        // running G's own save slot; no panic unwinds through here.
        unsafe { arch::switch(g.sp.get(), *self.g0_sp.get(), self as *const M as *mut ()) }
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
pub(crate) unsafe fn enter(save: *mut *mut u8, g: &G, m: &'static M) -> *mut () {
    let m = m as *const M as *mut ();
    // SAFETY: per the contract.
    unsafe {
        let sp = *g.sp.get();
        if sp == FRESH {
            arch::start(save, g.entry_sp(), g as *const G as *mut (), task_main, m)
        } else {
            arch::switch(save, sp, m)
        }
    }
}

/// Runs the work the previous context left behind on `m`, the M we now run on. Every
/// landing point of a switch calls this first.
// Always inlined: it sits on every switch, and the inliner otherwise gives up on it for
// having four callers (measured: +20 instructions per yield).
#[inline(always)]
pub(crate) fn after_switch(m: &M) {
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
        Pending::ParkUnlock(g) => {
            // SAFETY: as above.
            unsafe { &*g }.state.commit_park_held();
            let Some((unlock, lock)) = m.held_lock.take() else {
                crate::fatal!("a park under a lock without the lock")
            };
            // SAFETY: `park_current_unlocking`'s contract: releases the lock the G held.
            unsafe { unlock(lock) };
        }
        Pending::Yield(g) => {
            // SAFETY: as above.
            push_local(runtime(), m, unsafe { &*g });
        }
        Pending::Exit(g) => {
            // SAFETY: as above; we switched away from its stack for good.
            unsafe { retire(runtime(), m.p(), &*g) };
        }
        Pending::Inject(g) => inject(g),
    }
}

/// `Pending::Inject`: queues a G back from a blocking call that found no P. Off the
/// hot path, and out of line, so that `after_switch` stays small enough to inline.
#[cold]
#[inline(never)]
fn inject(g: *const G) {
    let rt = runtime();
    rt.inject.push(g as *mut G);
    // Off any P: the fenced check keeps the no-lost-wake-up promise.
    wake_idle(rt);
}

/// Frees what an ended task held: its stack, and its header if the handle is gone too.
///
/// # Safety
/// Nobody runs on `g`'s stack any more; `p`, if given, is held by the caller's M.
unsafe fn retire(rt: &Runtime, p: Option<&P>, g: &G) {
    // SAFETY: per the contract.
    if let Some(stack) = unsafe { g.take_stack_if_any() } {
        // The G announced its exit on this P (`task_main`): the M that switched away
        // from it runs this, and has not given its P up in between.
        let Some(p) = p else {
            crate::fatal!("a G's exit was left for an M without a P")
        };
        free_stack(p, stack);
    }
    if g.release_run() {
        // SAFETY: both the task and its handle are gone.
        unsafe { rt.central.free_g(g, p) };
    }
}

/// Gives a G the stack it was promised, before its first run.
#[cold]
fn give_stack(p: &'static P, g: &'static G) {
    let stack = take_stack(p, g.stack_size());
    // SAFETY: this M holds `g`, which has no stack yet.
    unsafe { g.give_stack(stack) };
}

/// [`M::start_after_unlock`]'s scratch context, on g0's stack: the switch's pending work
/// (the unlock), then the first run of G `arg` on its own stack. Never returns: nothing
/// resumes the context it saves.
unsafe extern "C" fn unlock_then_start(arg: *mut (), m: *mut ()) -> ! {
    // SAFETY: `start_after_unlock` passes this M, whose `pending` it set.
    let this = unsafe { &*(m as *const M) };
    after_switch(this);
    // SAFETY: `start_after_unlock` passes a G this M holds, which never ran.
    let g = unsafe { &*(arg as *const G) };
    // SAFETY: as `begin_run`: this M holds `g`, which has no stack yet (a pool or cache
    // may make system calls for it — no lock held now).
    if unsafe { g.needs_stack() } {
        let Some(p) = this.p() else {
            crate::fatal!("a first run on an M without a P")
        };
        give_stack(p, g);
    }
    let mut abandoned: *mut u8 = ptr::null_mut();
    // SAFETY: `g` has its stack (given just above) and never ran; the save slot is a
    // local no one reads, so this scratch context is never resumed.
    unsafe { arch::start(&mut abandoned, g.entry_sp(), arg, task_main, m) };
    crate::fatal!("the scratch context of a first run was resumed")
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
    // thread's join returns; a panic in one of their `Drop`s is the task's panic.
    // SAFETY: this G runs, and its slot is its own.
    if let Some(panic) = unsafe { locals::destroy(g.locals_slot()) } {
        // SAFETY: `run` stored the result; nothing has published it yet.
        unsafe { g.fail_after_run(panic) };
    }
    let Some(m) = current_m() else {
        crate::fatal!("a G finished off its M")
    };
    // A G runs only on an M with a P; `retire` gives the stack back to the same P.
    if let Some(p) = m.p() {
        exit_begins(p);
    }
    g.complete();
    if m.locked.get() != 0 {
        // A locked G takes its thread with it (`pinned.rs`): g0 frees the G, gives the
        // P away and ends the thread.
        m.locked.set(0);
        m.exiting.set(true);
        m.switch_to_g0(g, Pending::Exit(g));
    } else {
        let next = m.next_local(runtime());
        m.switch_from(g, next, Pending::Exit(g));
    }
    crate::fatal!("an exited G was resumed")
}

/// Takes a batch from the global queue into the local ring (Go's `globrunqget`):
/// a fair share, at most half a ring. Returns the first.
fn inject_batch(rt: &Runtime, q: &mut Local<'_, G>) -> Option<*mut G> {
    if rt.inject.is_empty() {
        return None;
    }
    let n = rt.inject.len() / rt.settings.procs + 1;
    let n = n.min(queue::CAPACITY as usize / 2);
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

/// Runs `p`'s due timers; readied Gs go to the caller's queues (or, off a P, to the
/// global queue). `now` of `None` means "no timers". Returns how many were woken.
pub(crate) fn run_timers(p: &P, now: Option<u64>) -> usize {
    match now {
        Some(now) => p.timers.run(now, unpark_timer),
        None => 0,
    }
}

/// The owner pops its ring's head, and counts it (L1 of `steal.rs`: whether the owner
/// gets to its ring).
#[inline]
fn pop_own(q: &mut Local<'_, G>, local: &mut PLocal) -> Option<*mut G> {
    let g = q.pop();
    if g.is_some() {
        local.ring_pops = local.ring_pops.wrapping_add(1);
    }
    g
}
