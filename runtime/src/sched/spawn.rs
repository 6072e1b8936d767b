//! Spawning and recycling: the scheduler's half of `Builder::spawn`, and where a
//! finished task's header goes when its handle is dropped.

use super::boot::runtime_or_start;
use super::counters::GLOBAL;
use super::g::{G, TaskName};
use super::m::{Pending, current_m};
use super::p::promise_stack;
use super::pinned::must_stay;
use super::ready::submit_new;
use super::runtime::Runtime;
use super::traced;
use crate::stack;
use std::io;
use std::panic::Location;

/// A G that spawns while more than this many Gs wait on the global queue lets them run
/// first (see [`back_off`]).
const BACKLOG: usize = 512;

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
    if rt.inject.len() > BACKLOG {
        back_off(rt);
    }
    Ok(g)
}

/// Back-pressure on a G that spawns faster than its Gs run: it goes to the tail of the
/// global queue, behind the backlog, and spawns again once that has run.
///
/// Why. A spawned G that waits costs its header (and whatever its closure holds), and
/// headers are never freed: a loop that spawns ten million Gs without waiting made ten
/// million headers live at once — hundreds of megabytes, and a cost per spawn that grew
/// with the count, every header a fresh cache miss. Sent to the back, the spawner
/// returns once what it queued has run, and its next spawns reuse those Gs' headers and
/// stacks, still in the cache.
///
/// The backlog is measured on the global queue: a P's ring holds 256 and overflows
/// there, so more than `BACKLOG` Gs there means the Ps are behind. A spawner that is
/// not a G that may switch (a plain thread, g0, a G inside a blocking call or pinned to
/// its M) is not held back.
///
/// Rejected: yielding to the P's own ring (`yield_now`): the spawner would run again
/// after 256 Gs while the global queue kept growing; blocking the spawner until the
/// backlog shrinks: a spawner whose Gs wait for it (they receive what it sends after
/// spawning them all) would deadlock, where a yield only delays it.
#[cold]
#[inline(never)]
fn back_off(rt: &'static Runtime) {
    let Some(m) = current_m() else { return };
    let Some(g) = m.curg() else { return };
    if m.p().is_none() || must_stay(m) {
        return;
    }
    // The landing side queues `g` globally, once its stack is no longer in use
    // (`switch::after_switch`, `Pending::Inject`), and wakes an M if none looks.
    let next = m.next_local(rt);
    m.switch_from(g, next, Pending::Inject(g));
}
