//! Waking Ms: hand an idle P to a sleeping M — or to a new OS thread — so that queued
//! work runs in parallel (step S6 of the idle protocol in `idle.rs`).

use super::m::M;
use super::runtime::Runtime;
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
        Some((p, m)) => start_m(rt, p, m, true),
    }
}

/// Hands P `p` to M `m` (or to a new M) and wakes it.
pub(crate) fn start_m(rt: &'static Runtime, p: usize, m: Option<&'static M>, spinning: bool) {
    match m {
        Some(m) => {
            m.nextspin.store(spinning, Ordering::Relaxed);
            // Release (with the parker's): the M sees nextspin when it sees nextp.
            m.nextp.store(p + 1, Ordering::Release);
            unpark_m(rt, m);
        }
        None => new_m(rt, p, spinning),
    }
    rt.wake_sysmon();
}

/// Wakes an idle M: from its futex, or — if it is the one blocked in `epoll_wait`
/// (`worker::stop_m`, step W5 of `sleeper.rs`) — through the poller's eventfd.
pub(crate) fn unpark_m(rt: &Runtime, m: &M) {
    if m.parker.unpark() {
        rt.netpoll.interrupt();
    }
}

fn new_m(rt: &'static Runtime, p: usize, spinning: bool) {
    // The lock is held across the spawn so that ids stay indices into `ms`.
    let mut ms = rt.ms.lock();
    let m: &'static M = Box::leak(Box::new(M::new(ms.len())));
    let m_main = rt.m_main;
    let spawned = std::thread::Builder::new()
        .name(format!("gogreen-m{}", m.id))
        .spawn(move || m_main(m, p, spinning));
    match spawned {
        Ok(_) => ms.push(m),
        // Without any M nothing could ever run; there is no one to report to.
        Err(e) if ms.is_empty() => {
            crate::fatal!("cannot start an OS thread for the scheduler: {e}")
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
