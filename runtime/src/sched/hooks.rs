//! The scheduler's side of the seams it plugs into: the channel crate's park seam
//! (`gogreen_channel::park`), `stack::grow`'s bounds, the overflow reporter's lookup of
//! the running green thread, and the panic hook that moves to a bigger stack
//! (`stack::panic`).

use super::calls::{current_g, park_current, park_current_unlocking, schedulable, yield_current};
use super::g::G;
use super::m::current_m_raw;
use super::ready::ready;
use crate::stack::grow::BoundsHooks;
use crate::stack::{Bounds, overflow};
use gogreen_channel::park::{Hooks, UnparkerVTable};
use std::ptr::NonNull;

/// Plugs the scheduler into every seam. Called before the runtime is published: the
/// hooks only ever act inside green threads, which exist only after that, so no G can
/// miss them.
pub(crate) fn install() {
    // SAFETY: `current` returns a G header's address and its task's generation;
    // `G_UNPARKER`'s functions are thread-safe and need nothing from `data` but a G
    // header address, which stays valid forever (headers are never freed).
    let _ = unsafe { gogreen_channel::park::install(&PARK_HOOKS) };
    overflow::install(overflow_lookup);
    crate::stack::grow::install(&BOUNDS_HOOKS);
    crate::stack::panic::install();
}

/// Each hook answers for a G that waits as a green thread (`calls.rs`); a G inside a
/// blocking call holds no P, and the seam falls back to its OS thread for it.
static PARK_HOOKS: Hooks = Hooks {
    current: || {
        schedulable().map(|(_, g)| (NonNull::from(g).cast(), g.state.generation() as usize))
    },
    unparker: &G_UNPARKER,
    park: park_current,
    park_unlocking: park_current_unlocking,
    snooze: yield_current,
    os_thread_parked: super::deadlock::os_thread_parked,
};

static G_UNPARKER: UnparkerVTable = UnparkerVTable {
    // A G's unparker owns nothing: headers are never freed, so a copy is a handle too.
    clone: None,
    unpark: |data, tag| {
        // SAFETY: `data` is a G header (never freed); `tag` its generation at creation.
        unpark_g(unsafe { &*(data as *const G) }, tag as u32);
    },
    drop: None,
};

/// Wakes `g` if it still runs task generation `generation`. Returns whether it was parked.
fn unpark_g(g: &G, generation: u32) -> bool {
    if g.state.unpark(generation) {
        ready(g);
        true
    } else {
        false
    }
}

static BOUNDS_HOOKS: BoundsHooks = BoundsHooks {
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
fn overflow_lookup() -> Option<overflow::Current> {
    let m = current_m_raw();
    // SAFETY: Ms and G headers are never freed.
    let g = unsafe { m.as_ref()?.curg.get().as_ref()? };
    Some(overflow::Current {
        bounds: g.bounds(),
        id: g.id(),
        // SAFETY: the name lives as long as the task, which is stuck in this fault;
        // the process aborts before it could be dropped.
        name: g.name_str().map(|n| unsafe { &*(n as *const str) }),
    })
}
