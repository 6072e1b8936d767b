//! What each scheduling event writes into its M's buffer: runs opened and closed into
//! slices, sleeps of an M without a P, instants, and the two ends of a flow arrow. Called by the scheduler's side
//! (`sched/traced.rs`) with plain numbers, only while tracing is on.
//!
//! A run is kept open in the buffer (`Local::open`) until the M's next run begins or
//! the run ends explicitly; it is written as one complete slice then. So the slices of
//! one M never overlap, even where a path that ends a run records nothing: the next run
//! on that M closes it.
//!
//! A flow arrow from a waker to the woken G: the waker's record carries a fresh flow id
//! (its start), which the scheduler stores in the woken G's header; the M that next
//! runs that G reads it back and puts it on the run's record (its end). An id is 32
//! bits, to fit a hole in the G's header: `session:4 | track:10 | count:18`. The
//! viewers match an arrow's two ends by id, so an id may come back once its arrow has
//! ended — after 262,144 more arrows from the same M; two Ms whose ids are equal
//! modulo 1,024 share ids (a thousand Ms tracing at once). An id left in a header
//! by an older session is recognised by its session bits and dropped.

use super::buffer::{Local, MTrace, OFF_M};
use super::event::{End, Event, Kind, NO_P};
use std::sync::Arc;

/// Begins a run of task `g` (named `name`) on P `p` (or `NO_P`: a blocking call),
/// ending the M's previous run if one is open. `flow` is what the G's header held.
pub(crate) fn run_begin(
    t: &'static MTrace,
    p: u32,
    g: u64,
    name: Option<&Arc<String>>,
    flow: u32,
    prev: End,
) {
    t.with(|l, now| {
        close(l, now, prev);
        let flow = if flow >> 28 == (l.session & 0xF) as u32 {
            flow
        } else {
            0
        };
        l.open = Some(Event {
            ts: now,
            kind: Kind::Run(End::Stopped), // Said by `close`.
            p,
            g,
            arg: 0,
            flow: u64::from(flow),
            name: name.cloned(),
        });
    });
}

/// Ends the M's open run, if any, for `why`.
pub(crate) fn run_end(t: &'static MTrace, why: End) {
    t.with(|l, now| close(l, now, why));
}

/// An instant event on the caller's track (`t`, or the off-M track).
pub(crate) fn instant(t: Option<&'static MTrace>, kind: Kind, p: u32, g: u64, arg: u64) {
    t.unwrap_or(&OFF_M).with(|l, now| {
        l.events.push(Event {
            ts: now,
            kind,
            p,
            g,
            arg,
            flow: 0,
            name: None,
        });
    });
}

/// A spawn or an unpark of task `g` on the caller's track; with `arrow`, starts a flow
/// arrow and returns its id, for the G's header (0 if tracing is off or no arrow).
pub(crate) fn wake(
    t: Option<&'static MTrace>,
    kind: Kind,
    p: u32,
    g: u64,
    name: Option<&Arc<String>>,
    arrow: bool,
) -> u32 {
    t.unwrap_or(&OFF_M)
        .with(|l, now| {
            let flow = if arrow {
                l.flows = l.flows % 0x3_FFFF + 1;
                ((l.session & 0xF) as u32) << 28 | (l.tid & 0x3FF) << 18 | l.flows
            } else {
                0
            };
            l.events.push(Event {
                ts: now,
                kind,
                p,
                g,
                arg: 0,
                flow: u64::from(flow),
                name: if kind == Kind::Spawn {
                    name.cloned()
                } else {
                    None
                },
            });
            flow
        })
        .unwrap_or(0)
}

/// The M gave its P up and sleeps.
pub(crate) fn idle_begin(t: &'static MTrace) {
    t.with(|l, now| l.idle = Some(now));
}

/// The M was handed a P: its sleep becomes a slice.
pub(crate) fn idle_end(t: &'static MTrace) {
    t.with(close_idle);
}

fn close_idle(l: &mut Local, now: u64) {
    if let Some(since) = l.idle.take() {
        l.events.push(Event {
            ts: since,
            kind: Kind::Idle,
            p: NO_P,
            g: 0,
            arg: now.saturating_sub(since),
            flow: 0,
            name: None,
        });
    }
}

/// Closes the open run at `now` (a slice of that length), if there is one.
fn close(l: &mut Local, now: u64, why: End) {
    if let Some(mut run) = l.open.take() {
        run.arg = now.saturating_sub(run.ts);
        run.kind = Kind::Run(why);
        l.events.push(run);
    }
}

/// For `stop`: the run still open ends with the trace.
pub(crate) fn close_open(l: &mut Local, now: u64) {
    close(l, now, End::Stopped);
    close_idle(l, now);
}
