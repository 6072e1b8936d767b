//! Waking Ms: hand an idle P to a sleeping M — or to a new OS thread — so that queued
//! work runs in parallel (step S6 of the idle protocol in `idle.rs`); and the limit on
//! how many OS threads the scheduler may start.

use super::counters::GLOBAL;
use super::m::M;
use super::runtime::Runtime;
use super::traced;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

/// Wakes an M if Ps are idle and nobody spins (S2–S6). For callers whose own P, if
/// any, will not run the work they just queued. Returns whether an M was started.
pub(crate) fn wake_idle(rt: &'static Runtime) -> bool {
    if rt.idle.should_wake() {
        wakep(rt);
        true
    } else {
        false
    }
}

/// Step S6 of the idle protocol: start a spinning M on an idle P. The caller won S5.
pub(crate) fn wakep(rt: &'static Runtime) {
    match rt.idle.take_idle() {
        None => rt.idle.cancel_spin(),
        Some((p, m)) => {
            GLOBAL.m_wakeups.add(1);
            if let Err(e) = start_m(rt, p, m, true) {
                // The P goes back to the idle list; its work waits for the running Ms.
                warn_no_thread(&e);
                rt.idle.cancel_spin();
                rt.idle.release_p(p, || false);
            }
        }
    }
}

/// Hands P `p` to M `m` (or to a new M) and wakes it. On `Err` — no M was given and
/// no thread could be started (the limit, or the OS refused) — the caller still owns
/// `p` and decides where it goes.
pub(crate) fn start_m(
    rt: &'static Runtime,
    p: usize,
    m: Option<&'static M>,
    spinning: bool,
) -> io::Result<()> {
    match m {
        Some(m) => {
            m.nextspin.store(spinning, Ordering::Relaxed);
            // Release (with the parker's): the M sees nextspin when it sees nextp.
            m.nextp.store(p + 1, Ordering::Release);
            unpark_m(rt, m);
        }
        None => new_m(rt, p, spinning)?,
    }
    if crate::trace::on() {
        traced::start_m(p, m);
    }
    rt.wake_sysmon();
    Ok(())
}

/// Wakes an idle M: from its futex, or — if it is the one blocked in `epoll_wait`
/// (`worker::stop_m`, step W5 of `sleeper.rs`) — through the poller's eventfd.
pub(crate) fn unpark_m(rt: &Runtime, m: &M) {
    if m.parker.unpark() {
        rt.netpoll.interrupt();
    }
}

/// Starts an OS thread for a new M holding P `p`, within the limit of
/// `Settings::max_threads` live Ms.
fn new_m(rt: &'static Runtime, p: usize, spinning: bool) -> io::Result<()> {
    let max = rt.settings.max_threads;
    // Counted before the thread exists, so that racing starts cannot pass the limit.
    if rt.live_ms.fetch_add(1, Ordering::Relaxed) >= max {
        rt.live_ms.fetch_sub(1, Ordering::Relaxed);
        return Err(thread_limit_error(max));
    }
    // The lock is held across the spawn so that ids stay indices into `ms`.
    let mut ms = rt.ms.lock();
    let reused = rt.dead_ms.lock().pop();
    let m: &'static M = match reused {
        Some(m) => {
            // SAFETY: its thread has ended and nothing else refers to it (`dead_ms`).
            unsafe { m.reset() };
            m
        }
        None => Box::leak(Box::new(M::new(ms.len()))),
    };
    let m_main = rt.m_main;
    let spawned = std::thread::Builder::new()
        .name(format!("gogreen-m{}", m.id))
        .spawn(move || m_main(m, p, spinning));
    match spawned {
        Ok(_) => {
            if reused.is_none() {
                ms.push(m);
            }
            Ok(())
        }
        // Without any M nothing could ever run; there is no one to report to.
        Err(e) if ms.is_empty() => {
            crate::fatal!("cannot start an OS thread for the scheduler: {e}")
        }
        Err(e) => {
            if reused.is_some() {
                rt.dead_ms.lock().push(m);
            } else {
                ms.push(m); // Leaked with an id: keep ids dense.
                rt.dead_ms.lock().push(m);
            }
            rt.live_ms.fetch_sub(1, Ordering::Relaxed);
            Err(e)
        }
    }
}

/// The error of a thread the limit did not allow.
pub(crate) fn thread_limit_error(max: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::WouldBlock,
        format!(
            "gogreen: the scheduler already runs its limit of {max} OS threads (Ms); \
             raise it with GOGREEN_MAX_THREADS or Config::max_threads, or make fewer \
             blocking calls (or thread-locked green threads) wait at once"
        ),
    )
}

/// Says once per process that an M could not be started, and why.
pub(crate) fn warn_no_thread(e: &io::Error) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if !WARNED.swap(true, Ordering::Relaxed) {
        eprintln!(
            "gogreen: warning: cannot start another OS thread for the scheduler ({e}); \
             the running ones carry on, and green threads queued behind blocked ones wait"
        );
    }
}
