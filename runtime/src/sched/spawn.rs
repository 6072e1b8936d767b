//! Spawning and recycling: the scheduler's half of `Builder::spawn`, and where a
//! finished task's header goes when its handle is dropped.

use super::boot::runtime_or_start;
use super::counters::GLOBAL;
use super::g::{G, TaskName};
use super::m::current_m;
use super::p::promise_stack;
use super::ready::submit_new;
use super::runtime::runtime;
use super::traced;
use crate::stack;
use std::io;
use std::panic::Location;

/// Spawns a task: the scheduler's half of `Builder::spawn`. Returns the queued G. The
/// caller's location is the task's spawn location (`gogreen::dump`).
#[track_caller]
pub(crate) fn spawn<F, T>(
    f: F,
    name: Option<TaskName>,
    stack_size: Option<usize>,
) -> io::Result<&'static G>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let rt = runtime_or_start();
    let size = match stack_size {
        Some(s) => stack::validate_size(s)?,
        None => rt.settings.stack_size,
    };
    // The caller's M, if it holds a P: a G, or g0. (An M inside a blocking call has
    // given its P up.)
    let m = current_m().filter(|m| m.p().is_some());
    let p = m.and_then(|m| m.p());
    // A G takes its stack when it first runs, from the cache of the P that runs it:
    // queued Gs cost no stack, and a G that exits on a P leaves its (resident) stack
    // for the next G there. What it takes now is a promise of one (`stack::pool`), so
    // that a spawn that returns `Ok` can run, and one that cannot fails here — before
    // this function allocates anything, so the error comes back even when memory is
    // what ran out.
    promise_stack(p, size)?;
    let g = rt.central.alloc_g(p);
    let id = rt.central.new_id(p);
    // SAFETY: `g` came off a free list: nobody else can reach it.
    unsafe { g.prepare(f, size, id, name, Location::caller()) };
    if crate::trace::on() {
        traced::spawn(current_m(), g);
    }
    submit_new(rt, m, g);
    match p {
        Some(p) => p.counters.spawns.bump(),
        None => GLOBAL.spawns.add(1),
    }
    Ok(g)
}

/// Returns a header whose task and handle are both gone to a free list.
pub(crate) fn free_g(g: &'static G) {
    let rt = runtime();
    let p = current_m().and_then(|m| m.p());
    // SAFETY: the caller saw both release bits go (`G::release_*` returned `true`);
    // the caller's M holds `p`.
    unsafe { rt.central.free_g(g, p) };
}
