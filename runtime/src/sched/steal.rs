//! Stealing: an idle M takes half of another P's ring — and leaves a small ring to an
//! owner that is getting through it, which then wakes no thief for it.
//!
//! A thief visits every other P once from a random start, a few rounds, and takes half
//! of the first ring it may take from (`queue.rs`, Go's `runqgrab`); on the last round
//! it also runs other Ps' due timers.
//!
//! # Patience
//!
//! A ring holding a few Gs (at most [`PATIENT_RING`]) is left to its owner for as long
//! as the owner is visibly getting to them. It is stolen from only once
//!
//! 1. the owner has not switched Gs for [`STUCK`]: it runs one G that computes or
//!    blocks its thread (or its M is off the CPU), and the queued Gs would wait for it;
//!    or
//! 2. nothing has left the ring for [`PATIENCE`]: the owner keeps switching but does
//!    not reach its ring. (It gives the ring a turn at least every `RUNNEXT_STREAK_MAX`
//!    picks, `switch.rs`, so this only catches Gs that run long between switches.)
//!
//! A ring holding more is stolen from at once: a burst of Gs is parallel work.
//!
//! Why. The Gs on a small ring are most often Gs the running G readied through a
//! channel, pushed out of `runnext` by the next one it readied. A receiver that selects
//! over four senders readies them in turn: stolen at once, each one moves to the other
//! P, sends there, blocks, is readied back into the receiver's `runnext`, pushed out
//! again and stolen again, and every message crosses between the cores — the G header,
//! its stack, the channel's lock, the packet (0.5–0.9 steals per receive here, against
//! Go's 0.14, at two to five times the cost of a receive on one core; see
//! `docs/BENCHMARKS.md`). Left alone, the owner runs them within microseconds, on the
//! core where their partner's cache lines already are.
//!
//! Facts, not clocks, decide: a thief records each small ring's `head` (how many Gs
//! were ever taken from it) and its owner's `schedtick` (how many Gs it ever switched
//! to) when it first sees the ring non-empty, with the time; a value unchanged since
//! then says nothing was taken, or nothing switched, for all that time — whether or
//! not the thief was watching in between.
//!
//! Rejected:
//!
//! - Stealing at once (Go's rule for the ring): the cross-core moves above.
//! - Waiting a fixed time before every steal: delays every fan-out, and a slow owner
//!   pair (Gs that compute a little between messages) would still lose its Gs.
//! - Go's rule for `runnext` alone (a thief waits 3 µs, then takes it): gogreen's
//!   thieves never take `runnext`, and the Gs that cross are on the ring.
//! - Letting a `runnext` pick inherit the time slice (Go), so that the ring gets no
//!   turn: the displaced senders then sit until the slice ends, and a thief must take
//!   them or they starve.
//!
//! # Nothing is stranded
//!
//! Patience changes who runs a queued G and when, never whether it runs. The steps (the
//! idle protocol's S1–S6 and T1–T5 are in `idle.rs`):
//!
//! - N1. A thief that leaves a non-empty ring alone records it ([`Patience::waiting`])
//!   and stays a spinning M holding its P (`worker::find_runnable`): it looks again —
//!   own queues, timers, global queue, then every ring — until the G is run by its
//!   owner or stolen. It yields its OS thread between rounds, but it does not run T1.
//! - N2. While it spins, `nmspinning ≥ 1`, so submitters skip their wake-ups (S3): that
//!   is sound because this spinner re-reads every queue (N1) — the same reason any
//!   spinner lets S3 skip.
//! - N3. A ring left alone is taken from — by its owner or, once a limit passes, by
//!   the thief — within [`PATIENCE`] of the last take, and within [`STUCK`] of the
//!   owner's last switch. (A running owner reaches its ring at least every
//!   `RUNNEXT_STREAK_MAX` picks.) The ring is first in, first out and is left alone only
//!   while it holds at most [`PATIENT_RING`] Gs, so a G left there is taken after at
//!   most that many takes. Times are the thief's own clock readings; `head` and
//!   `schedtick` only say whether anything changed since.
//! - N4. The one way out of N1 with a ring left alone: Gs wait on I/O (a spinner must
//!   not burn the CPU the clients need, `worker.rs`). Then the thief gives up through
//!   T1–T3, and T4's re-check sees the non-empty ring and spins again: the protocol's
//!   own argument covers it.
//!
//! Orderings: the thief's reads of the victim's ring ends (`len`, `taken`: Acquire, as
//! every reader of the ring's ends) and of `schedtick` (Relaxed) only decide *when* to
//! steal; the steal itself is `queue.rs`'s CAS on `head`, whatever they said. A stale
//! value delays a steal by one look (at most a few microseconds) or makes one early —
//! which is what the thief did before patience. No wake-up depends on them.
//!
//! The cost: a thief waiting on a small ring keeps a core busy for as long as the owner
//! keeps a few Gs queued (in `select4`, the whole run), where Go's thief would take them
//! and run them there.
//!
//! # A thief that sleeps: no wake-up for a ring left to its owner
//!
//! N1 holds only while the thief keeps its core. On a loaded machine other processes
//! take it: the thief yields, its 20 µs of looking run out between two looks, it gives
//! its P up and sleeps — and the owner's next G pushed out of `runnext` woke it (S6,
//! a futex wake-up). Nearly every wake-up ended in a steal (`select4` beside other
//! load: 0.001–0.003 wake-ups per receive, and as many steals; `docs/BENCHMARKS.md`):
//! the woken thief found the owner's `schedtick` stopped for [`STUCK`] — most likely
//! because the kernel, its other core busy, ran the woken thread on the waker's core in
//! the owner's place (not traced) — and the pair moved. So a G left to its owner sends
//! no wake-up at all:
//!
//! - L1. The owner, pushing a G out of `runnext` onto its own ring
//!   (`ready::make_runnable`), skips S2–S6 when the ring then holds at most
//!   [`PATIENT_RING`] Gs and the owner is seen getting to it: since it last pushed one
//!   out, it switched Gs or took from its ring, or that push was less than
//!   [`PATIENCE`] ago (a burst of readies). Otherwise one G ran that long without
//!   switching, readying others: it computes between them, and they are a thief's
//!   (`patience::left_to_owner`).
//! - L2. The owner runs the G: while it switches, it reaches its ring at least every
//!   `RUNNEXT_STREAK_MAX` picks (N3).
//! - L3. If the owner stops switching — its G computes or blocks its thread, or its
//!   thread is off the CPU — sysmon's next look finds its `schedtick` unchanged and the
//!   ring non-empty, and wakes an M (`sysmon::run`, through the fenced S2–S6); that M
//!   steals once the owner has been [`STUCK`]. Once sysmon has seen a ring holding Gs
//!   beside an idle P it looks at least every millisecond (`WATCH_DELAY`; a sysmon
//!   that had backed off to 10 ms sees the ring at its next look), so such a G waits
//!   one or two of sysmon's periods for a thief, where a wake-up would have had it
//!   stolen within microseconds: the price, for a G that readies a few others and then
//!   computes without switching. (The first G it pushes out may be left to it; the
//!   next, pushed out [`PATIENCE`] later without a switch, wakes an M. The G it readied
//!   last sits in `runnext`, which no wake-up ever covered: it waited for sysmon's look
//!   before this change too, and that look now wakes an M for the ring as well.)
//! - L4. sysmon's backstop for work queued beside an idle P skips a ring of at most
//!   [`PATIENT_RING`] Gs whose owner switched since the previous look: a wake-up per
//!   look would undo L1 (measured: up to 0.0003 per receive in `select4`, each a
//!   steal). L3 covers the owner that stops.
//!
//! Why nothing is stranded: L1 is the unfenced check's argument (`idle.rs`, "a running
//! P that pushed onto its own queue ... will run the work itself"), without the check:
//! the pusher owns the ring and is running. Its M either comes back to its queues (L2,
//! or `find_runnable` when its G blocks), or stays in one G — which L3 sees, with the
//! fenced check that keeps the no-lost-wake-up promise against the last spinner's T4.
//! A P in a blocking call is sysmon's too (R1–R2 of `syscall.rs`: queued work is a
//! reason to retake it). The loom models `patient_*` in `loom-tests/tests/sched_idle.rs`
//! check it, and that without sysmon's look a busy owner strands the G.
//!
//! Orderings: L1 reads the owner's own counters (`schedtick` Relaxed, `ring_pops` its
//! own) and its ring's ends (Acquire, as every reader); L4 and the period of L3 read
//! the same snapshots sysmon's other looks read. They decide only whether to wake, and
//! a stale value costs a wake-up sent or skipped once; the rescue itself is L3's
//! fenced S2–S6, whose S2 pairs with the last spinner's T3 (`idle.rs`).
//!
//! Rejected:
//!
//! - A thief that marks the Ps whose small rings it saw drained as "watched" before it
//!   sleeps, the owner skipping the wake-up only for a watched P, any steal clearing
//!   the mark: under load each wake-up ended in a steal (above), which cleared the mark,
//!   so the wake-ups went on (0.0009–0.0034 per receive, against 0.0009–0.0037).
//! - The owner skipping only while no other thread took from its ring since its last
//!   wake-up: the same — the steal each wake-up caused re-armed the next.
//! - The owner skipping only if it took from its ring since the previous push-out, or
//!   that was less than [`STUCK`] ago: no clear gain (0–0.0016 wake-ups per receive,
//!   against 0–0.0030); under load the owner's thread is off the CPU for milliseconds
//!   between two pushes.
//! - Skipping for every small ring, whatever the owner does: as good for `select4`,
//!   but a G that readies several others, computing between them, would leave all of
//!   them to sysmon's look instead of the first only (reasoned, not measured).
//! - A longer [`STUCK`] (50 µs, measured at the previous stop): no change beyond the
//!   noise; an owner off the CPU is off it for a time slice, milliseconds.
//! - A thief that sleeps with a timeout to look again: a sleep loop instead of a
//!   wake-up; sysmon already looks at every P.

use super::g::G;
use super::m::M;
use super::p::P;
use super::patience::{PATIENCE, PATIENT_RING, STUCK};
use super::runtime::Runtime;
use super::switch::run_timers;
use super::traced;
use std::ptr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Steal rounds over all victims.
const STEAL_ROUNDS: usize = 4;
/// How often a waiting thief reads an owner's `schedtick`.
const TICK_POLL: Duration = Duration::from_micros(2);

/// What a thief has seen of the small rings it left alone. Its own, for one search
/// (`worker::find_runnable`).
#[derive(Default)]
pub(crate) struct Patience {
    /// Per P: what was seen when its ring was first seen non-empty, or `None`.
    seen: Vec<Option<Seen>>,
    /// Whether the last [`steal`] left a non-empty ring alone.
    waiting: bool,
}

#[derive(Clone, Copy)]
struct Seen {
    head: u32,
    head_since: Instant,
    tick: u64,
    tick_since: Instant,
    /// When `tick` was last read.
    tick_read: Instant,
}

impl Patience {
    /// Whether the last [`steal`] left Gs on some ring for their owner: the thief must
    /// keep looking (see "Nothing is stranded").
    pub(crate) fn waiting(&self) -> bool {
        self.waiting
    }

    /// Whether the thief may take from P `i`'s ring now.
    fn may_steal(&mut self, i: usize, victim: &P, now: Instant) -> bool {
        let len = victim.runq.len();
        if len == 0 {
            if let Some(seen) = self.seen.get_mut(i) {
                *seen = None;
            }
            return false;
        }
        if len > PATIENT_RING {
            return true;
        }
        if self.seen.len() <= i {
            self.seen.resize(i + 1, None);
        }
        // `head` and `schedtick` are only compared with earlier values of the same word:
        // nothing is read through them (`taken` is an Acquire load, as every read of the
        // ring's ends; Relaxed would do).
        let head = victim.runq.taken();
        let seen = self.seen[i].get_or_insert_with(|| {
            // Relaxed: see above.
            let tick = victim.schedtick.load(Ordering::Relaxed);
            Seen {
                head,
                head_since: now,
                tick,
                tick_since: now,
                tick_read: now,
            }
        });
        if seen.head != head {
            (seen.head, seen.head_since) = (head, now);
        }
        // The owner writes `schedtick` at every switch: each read here costs it a cache
        // miss, so it is read only every `TICK_POLL` (the ends of the ring change
        // rarely, and are read at every look).
        if now.duration_since(seen.tick_read) >= TICK_POLL {
            seen.tick_read = now;
            // Relaxed: see above.
            let tick = victim.schedtick.load(Ordering::Relaxed);
            if seen.tick != tick {
                (seen.tick, seen.tick_since) = (tick, now);
            }
        }
        let may = now.duration_since(seen.tick_since) >= STUCK
            || now.duration_since(seen.head_since) >= PATIENCE;
        self.waiting |= !may;
        may
    }
}

/// Steals half of another P's ring into `p`'s (held by `m`, its ring empty), with the
/// patience above; on the last round, also runs other Ps' due timers.
pub(crate) fn steal(
    rt: &'static Runtime,
    m: &'static M,
    p: &'static P,
    patience: &mut Patience,
) -> Option<&'static G> {
    let n = rt.ps.len();
    let now = Instant::now();
    patience.waiting = false;
    for round in 0..STEAL_ROUNDS {
        let start = m.rand() as usize % n;
        for i in 0..n {
            let at = (start + i) % n;
            let victim = &rt.ps[at];
            if ptr::eq(victim, p) || !victim.in_play.load(Ordering::Relaxed) {
                continue;
            }
            if round == STEAL_ROUNDS - 1
                && run_timers(victim, rt.now_if_timers(victim)) > 0
                && let Some(g) = m.next_local(rt)
            {
                return Some(g);
            }
            if !patience.may_steal(at, victim, now) {
                continue;
            }
            if let Some(g) = victim.runq.steal_into(&mut m.runq(p)) {
                // The G returned, and the rest of the half now in `p`'s ring.
                let stolen = 1 + p.runq.len() as u64;
                p.counters.steals.bump();
                p.counters.stolen.add(stolen);
                if crate::trace::on() {
                    traced::steal(m, p, victim, stolen);
                }
                // SAFETY: queued Gs are live headers.
                return Some(unsafe { &*g });
            }
        }
    }
    None
}
