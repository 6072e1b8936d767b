//! Blocking calls: `gogreen::blocking(f)` runs `f` on the G's own M while the G's P
//! runs the other Gs (Go's `entersyscall` / `exitsyscall`).
//!
//! # Entering (E1–E2 of `syscall.rs`)
//!
//! - If Gs are queued on the P or on the global queue, the P goes to another M at once
//!   (a sleeping one, else a new thread): they run while `f` blocks. If no thread can
//!   be had (`Settings::max_threads`), `try_blocking` fails with an error that says
//!   which limit to raise; `blocking` keeps the P in its syscall word instead and warns
//!   once, as if nothing were queued.
//! - Otherwise the P stays in its syscall word, cheap to take back; sysmon gives it to
//!   another M if the call lasts a whole sysmon period while something could use it.
//! - A P that sysmon replaced by a spare (`sysmon.rs`) is retired first.
//!
//! # Inside `f`
//!
//! The G holds no P, so it cannot switch: it behaves as a plain OS thread would.
//! Channel operations, joins, `WaitGroup::wait` and `sleep` block the OS thread (the
//! park seam's hooks decline, and the seam parks the thread); `spawn` queues on the
//! global queue; `yield_now` yields the thread; a nested `blocking` just calls its
//! closure. No queue is touched without a P, so none can be corrupted. `current()` and
//! task-locals still answer for the G: it is the same task, on the same stack.
//!
//! # Leaving (E4, then Go's `exitsyscall` order)
//!
//! 1. Take the old P back from the syscall word (one CAS), if sysmon has not.
//! 2. Else take an idle P.
//! 3. Else there is no P for the G: it goes to the global queue and its M sleeps.
//!    A G that may run anywhere switches to g0 first, which queues it (`Pending::Inject`:
//!    its stack is in use until then) and sleeps the M, and any M may run it. A G that
//!    must stay on this M (`pinned.rs`: locked, or panicking) queues itself tagged and
//!    waits here for a P (P4–P5).
//!
//! `f` unwinding counts as leaving: the guard's `Drop` takes a P back before the panic
//! goes on (and the G, now panicking, takes path 3 pinned).
//!
//! Rejected: running `f` on another thread from a pool (Go does not; the closure could
//! not borrow from the caller's stack, and a `thread_local!` it touches would be the
//! pool thread's); always handing off (see `syscall.rs`).

use super::clock::coarse_ms;
use super::counters::GLOBAL;
use super::g::G;
use super::handoff::retire_p;
use super::m::{M, Pending, current_m};
use super::p::P;
use super::pinned::{must_stay, resume_here, wait_for_p};
use super::runtime::{Runtime, runtime};
use super::traced;
use super::wake::{start_m, wake_idle, warn_no_thread};
use gogreen_channel::park::WaitReason;
use std::io;
use std::ptr;
use std::sync::atomic::Ordering;

/// Runs `f` as a blocking call: see the module docs. With `fallible`, returns `Err`
/// without running `f` if the P could not be handed to another M while Gs wait for
/// it; without, runs `f` regardless. Off the runtime, or already inside a blocking
/// call, just calls `f`.
#[inline]
pub(crate) fn call<T>(f: impl FnOnce() -> T, fallible: bool) -> io::Result<T> {
    let Some(m) = current_m() else { return Ok(f()) };
    let (Some(g), Some(p)) = (m.curg(), m.p()) else {
        // Not a G, or a G that holds no P: inside a blocking call already.
        return Ok(f());
    };
    let rt = runtime();
    p.counters.blocking_calls.bump();
    g.set_wait(WaitReason::Blocking, coarse_ms());
    enter(rt, m, p, fallible)?;
    if crate::trace::on() {
        traced::blocking_begin(m, g);
    }
    let section = Section { rt, m, g };
    let value = f();
    drop(section);
    Ok(value)
}

/// Leaves the blocking call when dropped, also when `f` unwinds.
struct Section {
    rt: &'static Runtime,
    m: &'static M,
    g: &'static G,
}

impl Drop for Section {
    #[inline]
    fn drop(&mut self) {
        leave(self.rt, self.m, self.g);
    }
}

/// Gives up `p` for the call: hands it off if Gs wait (E1), else leaves it in its
/// syscall word (E2).
#[inline]
fn enter(rt: &'static Runtime, m: &'static M, p: &'static P, fallible: bool) -> io::Result<()> {
    if p.runq.has_work() || !rt.inject.is_empty() || p.retired.load(Ordering::Relaxed) {
        hand_off_now(rt, m, p, fallible)?;
        if m.p.get().is_null() {
            return Ok(());
        }
        // No M could be had: keep the P in the syscall word after all.
    }
    // SAFETY: this M holds `p`.
    let local = unsafe { p.local() };
    // Odd, so never 0 (`syscall.rs`), and new for each call.
    local.syscalls = local.syscalls.wrapping_add(2);
    let seq = local.syscalls;
    m.oldp.set(p);
    m.syscall_seq.set(seq);
    m.p.set(ptr::null());
    p.syscall.enter(seq); // E2
    Ok(())
}

/// E1: gives `p` to another M now. On return, `m.p` is null if it did; if no M could
/// be had, `m` still holds `p`, and the error is returned if `fallible`.
#[cold]
fn hand_off_now(
    rt: &'static Runtime,
    m: &'static M,
    p: &'static P,
    fallible: bool,
) -> io::Result<()> {
    m.p.set(ptr::null());
    if p.retired.load(Ordering::Acquire) {
        retire_p(rt, p);
        return Ok(());
    }
    match start_m(rt, p.id, rt.idle.pop_idle_m(), false) {
        Ok(()) => {
            GLOBAL.syscall_handoffs.add(1);
            if crate::trace::on() {
                traced::handoff(m, p);
            }
            Ok(())
        }
        Err(e) => {
            m.p.set(p);
            if fallible {
                return Err(e);
            }
            warn_no_thread(&e);
            Ok(())
        }
    }
}

/// Steps 1–3 of leaving: `g` gets a P again, perhaps on another M.
#[inline]
fn leave(rt: &'static Runtime, m: &'static M, g: &'static G) {
    let oldp = m.oldp.replace(ptr::null());
    // SAFETY: Ps live in the runtime, which is never dropped.
    if let Some(p) = unsafe { oldp.as_ref() }
        && p.syscall.exit(m.syscall_seq.get())
    {
        m.p.set(p); // 1 (E4).
        if crate::trace::on() {
            traced::blocking_end(m, p, g);
        }
        return;
    }
    leave_slow(rt, m, g);
}

/// Steps 2–3: the old P is gone.
#[cold]
fn leave_slow(rt: &'static Runtime, m: &'static M, g: &'static G) {
    if let Some(pid) = rt.take_idle_p() {
        m.p.set(&rt.ps[pid]); // 2.
        resume_here(m, g);
        return;
    }
    // 3.
    if must_stay(m) {
        g.pin_to(m as *const M as usize);
        rt.inject.push(g as *const G as *mut G);
        wake_idle(rt);
        wait_for_p(rt, m);
        resume_here(m, g);
    } else {
        m.switch_to_g0(g, Pending::Inject(g));
    }
}
