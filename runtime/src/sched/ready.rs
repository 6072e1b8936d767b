//! Making Gs runnable: where a readied, timer-woken or new G is queued, and when that
//! wakes an M (step S1 of the idle protocol in `idle.rs`, then S2–S6 through `wake.rs`).

use super::counters::GLOBAL;
use super::g::G;
use super::m::{M, current_m};
use super::patience::left_to_owner;
use super::runtime::{Runtime, runtime};
use super::traced;
use super::wake::{wake_idle, wakep};

/// Queues a G that just became runnable (after its unpark won `WAITING` → `ACTIVE`).
///
/// On an M with a P it goes to `runnext`: it runs as soon as the running G blocks,
/// which is what a channel hand-off wants. That alone wakes no M — the readier usually
/// blocks right after, and a futex wake-up per send would dominate ping-pong; if the
/// readier keeps running instead, sysmon moves the G to the global queue after one of
/// its periods. A G displaced from `runnext` goes to the ring, and that may wake an M
/// — not while the owner is seen getting to a small ring by itself (`steal.rs`, L1).
/// Off the runtime, the G goes to the global queue and an M is woken if none looks.
///
/// The common case — on a P whose `runnext` is empty, because its holder took the last
/// one out to run it — is inlined into the caller (the unparker): a plain store, and no
/// M to wake.
#[inline]
pub(crate) fn ready(g: &G) {
    if let Some(m) = current_m()
        && let Some(p) = m.p()
        && !crate::trace::on()
        && m.runq(p).fill_runnext(g as *const G as *mut G)
    {
        p.counters.unparks.bump();
        return;
    }
    make_runnable(g, true);
}

/// Wakes a G whose timer expired. Unlike [`ready`], it goes to the tail of the queue:
/// Gs whose timers expire together then run in deadline order.
pub(crate) fn unpark_timer(g: &G, generation: u32) -> bool {
    if !g.state.unpark(generation) {
        return false;
    }
    make_runnable(g, false);
    true
}

/// Queues `g` on the caller's P — in `runnext` if `next`, else at the ring's tail — or,
/// off the runtime, on the global queue; then wakes an M as [`ready`] describes.
#[inline(never)]
fn make_runnable(g: &G, next: bool) {
    let rt = runtime();
    match current_m().and_then(|m| m.p().map(|p| (m, p))) {
        Some((m, p)) => {
            p.counters.unparks.bump();
            if crate::trace::on() {
                traced::unpark(Some(m), g);
            }
            let pushed = if next {
                match m.runq(p).set_runnext(g as *const G as *mut G) {
                    Some(old) => {
                        // SAFETY: it was queued, so it is a live header.
                        push_local(rt, m, unsafe { &*old });
                        // L1 of `steal.rs`: an owner getting to its small ring keeps it.
                        // SAFETY: this M holds `p`.
                        !unsafe { left_to_owner(p) }
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
            GLOBAL.unparks.add(1);
            if crate::trace::on() {
                traced::unpark(current_m(), g);
            }
            rt.inject.push(g as *const G as *mut G);
            // Nobody may be running: the fenced check keeps the no-lost-wake-up promise.
            wake_idle(rt);
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
pub(crate) fn submit_new(rt: &'static Runtime, m: Option<&'static M>, g: &G) {
    match m {
        Some(m) => {
            push_local(rt, m, g);
            // A running P will get to the G itself, so a missed wake-up costs only
            // parallelism, never progress: the unfenced check suffices (as in Go).
            if rt.idle.should_wake_unfenced() {
                wakep(rt);
            }
        }
        None => {
            rt.inject.push(g as *const G as *mut G);
            // Nobody may be running: the fenced check keeps the no-lost-wake-up promise.
            wake_idle(rt);
        }
    }
}

/// Pushes `g` on the tail of `m`'s local queue (overflow to the global queue).
#[inline]
pub(crate) fn push_local(rt: &Runtime, m: &M, g: &G) {
    let Some(p) = m.p() else {
        crate::fatal!("queueing a G on an M without a P")
    };
    if let Err(overflow) = m.runq(p).push(g as *const G as *mut G) {
        rt.inject.push_batch(overflow.items);
    }
}
