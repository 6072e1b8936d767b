//! One direction of a poll descriptor: the readiness epoch of an edge-triggered fd, and
//! the green threads waiting for its next report.
//!
//! # The problem
//!
//! The poller registers every fd edge-triggered: the kernel reports a *change* — data
//! arrived, the send buffer drained — once, never the level. A green thread tries its
//! read; when the kernel says `EAGAIN`, it must sleep until the next report. But the
//! report can come at any moment: between the `EAGAIN` and the park, or just as the G's
//! deadline expires. Lost, the G sleeps for ever: edge-triggered means no second report
//! until more data arrives, and a client waiting for its answer sends nothing more.
//!
//! Rejected designs:
//!
//! - A ready flag (Go's `pdReady`) that a report sets and the next waiter consumes. It
//!   loses nothing while one G at a time reads — Go makes sure of that with a lock per
//!   fd and direction, one more atomic round trip per read — but with several readers
//!   (an `Arc<UdpSocket>` shared by workers, `Read for &TcpStream`) the first one woken
//!   consumes the report that a second one, between its `EAGAIN` and its park, needed.
//!   And the flag a wake-up leaves behind is stale, which costs the woken G one more
//!   `EAGAIN` system call on its next wait.
//! - Level-triggered registration: every poll reports every readable fd again, whether
//!   anyone waits or not, so polling costs grow with idle connections.
//! - A mutex around "list the waiter / wake the waiters": correct, but a lock round
//!   trip on every report, even when nobody waits.
//!
//! # The protocol
//!
//! Reports are counted, not flagged. A slot is one 64-bit word — the descriptor's
//! generation (32 bits), the *epoch* (29 bits, one up per report), `HUNG_UP` (a report
//! said the peer closed or the socket failed; see "Drained streams"), `LISTED` (the list
//! of waiters is not empty) and `LOCKED` (a spin lock over that list, held for a few
//! instructions, never across a park) — and the head of the list, whose nodes live in
//! the waiting Gs' own stack frames. Every step below that changes the word is a
//! read-modify-write, so they all fall in one total order, the word's modification
//! order, and no fence is needed.
//!
//! A green thread doing I/O (`net/fd.rs`, then `wait.rs`):
//!
//! - R1. Read the epoch `e` ([`Slot::epoch`]).
//! - R2. Try the system call. Done, unless it would block.
//! - R3. If the epoch is no longer `e`, go back to R1: a report came since R1, so the
//!   call may succeed now. Else lock, with a CAS that expects epoch `e`
//!   ([`Slot::enlist`]).
//! - R4. Link the node into the list; unlock with `LISTED` set.
//! - R5. Park (until the deadline, if there is one).
//! - R6. Back from the park ([`Slot::settle`]): a node marked woken goes back to R1. If
//!   the deadline passed, lock: a node still listed is unlinked, and the wait timed out;
//!   one no longer listed was taken by a report meanwhile (back to R1). Otherwise the
//!   wake-up was spurious (a stale token): park again (R5).
//!
//! The poller, with a report for generation `s` ([`Slot::report`]):
//!
//! - P1. If the word's generation is not `s`, stop: the report is for an fd that was
//!   closed, and the descriptor now serves another.
//! - P2. If nobody is listed, CAS the epoch one up (expecting generation `s`). Done.
//! - P3. Else lock (expecting generation `s`), and take every node: copy its waiter,
//!   unmark it listed, then mark it woken (Release — the last touch of the node, whose
//!   owner may return at once) and wake the waiter. Unlock with the epoch one up and
//!   the list empty.
//!
//! **No lost wake-up.** Say the call at R2 would block and data arrives afterwards. The
//! kernel reports it, and the poll that picks the report up runs P1–P3 after R2, so
//! after R1. Its read-modify-write comes either before R3's CAS in the word's order —
//! then R3 sees that the epoch moved and the G tries again — or after it: then the node
//! is listed (or being listed under the lock, which P3 waits for) and P3 wakes it. A
//! report that came before R1 needs nothing: R2 runs after it and sees its data.
//!
//! **Deadline against report.** A node leaves the list only under the lock, by P3 or by
//! its owner at R6, and P3 unmarks it listed under that lock: exactly one of the two
//! takes it. A G is woken or times out — never both, never neither.
//!
//! **Stale reports.** A descriptor is reused under a new generation ([`Slot::reset`],
//! under the lock). Every CAS of P1–P3 expects the report's generation, so a report for
//! the closed fd — even one a poller picked up just before the reset — changes nothing
//! for the descriptor's next user.
//!
//! **Many waiters.** A report wakes every listed node; each G tries its call again, and
//! those that find nothing list themselves again under the new epoch.
//!
//! **Drained streams.** A read of a stream socket that returned less than it asked for
//! left the socket empty. The reader may keep the epoch it read at R1 before that call
//! and, while the epoch has not moved, skip R2 the next time and go straight to R3 (as
//! tokio does): whatever arrived after the short read is reported after it, and the
//! argument above holds unchanged. That spares the `EAGAIN` system call of every
//! request/response turn. Likewise for a short write and the send buffer. Not after a
//! hang-up, though: the peer's end of stream (or an error) may be reported together
//! with the last data, before the short read that takes that data — and the next read,
//! which would return the end at once, would wait for a report that never comes. So a
//! report of a hang-up sets `HUNG_UP`, which stays for the rest of the generation, and
//! a reader that sees it always tries its call.
//!
//! `loom-tests/tests/netpoll_slot.rs` models the reader, the report, the deadline and a
//! stale report.

use crate::loom::{AtomicBool, AtomicU64, Ordering, UnsafeCell, spin_wait};
use std::ptr;

const LOCKED: u64 = 1;
const LISTED: u64 = 2;
const HUNG_UP: u64 = 4;
const EPOCH_SHIFT: u32 = 3;
const EPOCH_BITS: u32 = 29;
const EPOCH_MASK: u64 = ((1 << EPOCH_BITS) - 1) << EPOCH_SHIFT;
const GEN_SHIFT: u32 = 32;

#[inline]
fn generation_of(word: u64) -> u32 {
    (word >> GEN_SHIFT) as u32
}

#[inline]
fn epoch_of(word: u64) -> u32 {
    ((word & EPOCH_MASK) >> EPOCH_SHIFT) as u32
}

/// `word` with its epoch one up (wrapping within its bits).
#[inline]
fn next_epoch(word: u64) -> u64 {
    let epoch = ((u64::from(epoch_of(word)) + 1) << EPOCH_SHIFT) & EPOCH_MASK;
    (word & !EPOCH_MASK) | epoch
}

/// One direction (read or write) of a poll descriptor. `W` identifies a waiter: a G
/// and its generation in the runtime, a loom thread in the models.
pub struct Slot<W> {
    /// Generation, epoch, `HUNG_UP`, `LISTED`, `LOCKED` (see the module docs).
    word: AtomicU64,
    /// The first listed node, or null. Owned by whoever holds `LOCKED`.
    head: UnsafeCell<*mut Node<W>>,
}

// SAFETY: `head` and the nodes it reaches are touched only under `LOCKED`; waiters are
// plain copyable identities, handed to whoever reports.
unsafe impl<W: Send> Sync for Slot<W> {}
// SAFETY: as above.
unsafe impl<W: Send> Send for Slot<W> {}

/// A waiting G's entry in a slot's list, in the G's own stack frame.
pub struct Node<W> {
    waiter: W,
    /// Owned by whoever holds the slot's `LOCKED`.
    links: UnsafeCell<Links<W>>,
    /// Set by the report that took the node, after its last access to it.
    woken: AtomicBool,
}

struct Links<W> {
    prev: *mut Node<W>,
    next: *mut Node<W>,
    listed: bool,
}

/// What a reader saw at R1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen {
    pub epoch: u32,
    /// A hang-up was reported: never skip the call (see "Drained streams").
    pub hung_up: bool,
}

/// How a wait stood when its G came back from a park (step R6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settled {
    /// A report took the node: try the call again.
    Woken,
    /// Still listed and the deadline has not passed: park again.
    Waiting,
    /// The deadline passed and no report came: the node is unlinked.
    GaveUp,
}

impl<W: Copy> Node<W> {
    pub fn new(waiter: W) -> Self {
        Node {
            waiter,
            links: UnsafeCell::new(Links {
                prev: ptr::null_mut(),
                next: ptr::null_mut(),
                listed: false,
            }),
            woken: AtomicBool::new(false),
        }
    }
}

impl<W: Copy> Slot<W> {
    /// A slot of generation 0, epoch 0, nobody listed.
    pub fn new() -> Self {
        Slot {
            word: AtomicU64::new(0),
            head: UnsafeCell::new(ptr::null_mut()),
        }
    }

    /// The generation of the fd this slot serves now.
    pub fn generation(&self) -> u32 {
        generation_of(self.word.load(Ordering::Relaxed))
    }

    /// R1: the epoch, to read before trying a system call.
    #[allow(dead_code)] // for the models; the runtime reads `seen`
    #[inline]
    pub fn epoch(&self) -> u32 {
        self.seen().epoch
    }

    /// R1: the epoch, and whether a hang-up was reported.
    #[inline]
    pub fn seen(&self) -> Seen {
        // Acquire: the caller's system call comes after this load (see the module docs;
        // the argument rests on R1 coming before R2).
        let word = self.word.load(Ordering::Acquire);
        Seen {
            epoch: epoch_of(word),
            hung_up: word & HUNG_UP != 0,
        }
    }

    /// R3–R4: lists `node` unless a report came since the caller read `epoch` (R1).
    /// Returns `true` if listed: the caller **must** park and then call [`Slot::settle`]
    /// until it says other than `Waiting`. `false`: try the call again.
    ///
    /// # Safety
    ///
    /// `node` is new (never listed), and stays where it is, alive, until `settle`
    /// returns `Woken` or `GaveUp`.
    pub unsafe fn enlist(&self, epoch: u32, node: &Node<W>) -> bool {
        let Some(word) = self.lock_if(|w| epoch_of(w) == epoch) else {
            return false;
        };
        let me = node as *const Node<W> as *mut Node<W>;
        // SAFETY: we hold LOCKED, which owns `head` and the listed nodes' links; `node`
        // is alive per the contract.
        unsafe {
            self.head.with_mut(|head| {
                let first = *head;
                node.links.with_mut(|l| {
                    (*l).prev = ptr::null_mut();
                    (*l).next = first;
                    (*l).listed = true;
                });
                if !first.is_null() {
                    (*first).links.with_mut(|l| (*l).prev = me);
                }
                *head = me;
            });
        }
        // Release: the node's fields are visible to the report that locks next.
        self.word.store(word | LISTED, Ordering::Release);
        true
    }

    /// R6: after a park, whether a report took `node`. With `give_up` (the deadline
    /// passed) a node that is still listed is unlinked.
    ///
    /// # Safety
    ///
    /// `node` was listed on this slot by [`Slot::enlist`], and `settle` has not yet
    /// returned `Woken` or `GaveUp` for it.
    pub unsafe fn settle(&self, node: &Node<W>, give_up: bool) -> Settled {
        // Acquire pairs with the report's Release: its accesses to the node are over.
        if node.woken.load(Ordering::Acquire) {
            return Settled::Woken;
        }
        if !give_up {
            return Settled::Waiting;
        }
        let word = self.lock();
        // SAFETY: we hold LOCKED; `node` is alive (its owner is the caller).
        let listed = unsafe { node.links.with(|l| (*l).listed) };
        let mut word = word;
        if listed {
            // SAFETY: as above; a listed node's neighbours are listed nodes, alive.
            unsafe {
                let (prev, next) = node.links.with(|l| ((*l).prev, (*l).next));
                if !next.is_null() {
                    (*next).links.with_mut(|l| (*l).prev = prev);
                }
                self.head.with_mut(|head| {
                    if prev.is_null() {
                        *head = next;
                    } else {
                        (*prev).links.with_mut(|l| (*l).next = next);
                    }
                    if (*head).is_null() {
                        word &= !LISTED;
                    }
                });
                node.links.with_mut(|l| (*l).listed = false);
            }
        }
        self.word.store(word, Ordering::Release);
        if listed {
            Settled::GaveUp
        } else {
            // Taken under the lock we just held, so `woken` is set already; Acquire
            // as above.
            debug_assert!(node.woken.load(Ordering::Acquire));
            Settled::Woken
        }
    }

    /// P1–P3: a report for generation `generation` (of a hang-up, if `hung_up`). Moves
    /// the epoch one up and hands every listed waiter to `wake` (called under the slot's
    /// lock: it must not block). Does nothing if the slot serves another generation now.
    #[inline]
    pub fn report(&self, generation: u32, hung_up: bool, mut wake: impl FnMut(W)) {
        let hup = if hung_up { HUNG_UP } else { 0 };
        let mut step = 0;
        let mut word = self.word.load(Ordering::Relaxed);
        loop {
            if generation_of(word) != generation {
                return; // P1
            }
            if word & LOCKED != 0 {
                spin_wait(&mut step);
                word = self.word.load(Ordering::Relaxed);
                continue;
            }
            if word & LISTED == 0 {
                // P2. Release, pairing with R1's Acquire: a reader that sees the new
                // epoch is ordered after the poll that made it. (What it then reads is the
                // kernel's, ordered by the system calls on both sides; the language-level
                // order only keeps the argument of the module docs true in its terms.)
                match self.word.compare_exchange_weak(
                    word,
                    next_epoch(word) | hup,
                    Ordering::Release,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return,
                    Err(w) => word = w,
                }
                continue;
            }
            // P3. Acquire pairs with the Release that listed the nodes.
            match self.word.compare_exchange_weak(
                word,
                word | LOCKED,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(w) => word = w,
            }
        }
        // SAFETY: we hold LOCKED: the list and its nodes' links are ours; listed nodes
        // are alive until they are marked woken, which is our last touch of each.
        unsafe {
            self.head.with_mut(|head| {
                let mut node = *head;
                *head = ptr::null_mut();
                while !node.is_null() {
                    let n = &*node;
                    let next = n.links.with_mut(|l| {
                        (*l).listed = false;
                        (*l).next
                    });
                    let waiter = n.waiter;
                    // Release: the owner, seeing this, knows we are done with its node.
                    n.woken.store(true, Ordering::Release);
                    wake(waiter);
                    node = next;
                }
            });
        }
        // Release: the next holder of the lock sees the emptied list.
        self.word.store(
            (next_epoch(word) | hup) & !LISTED & !LOCKED,
            Ordering::Release,
        );
    }

    /// Starts generation `generation` with epoch 0: the descriptor now serves another
    /// fd. Nobody may be listed (the fd's owner is gone, and waits need the owner).
    pub fn reset(&self, generation: u32) {
        let word = self.lock();
        debug_assert_eq!(
            word & LISTED,
            0,
            "gogreen: fatal: a poll descriptor was freed with waiters"
        );
        // Release: pairs with the next lock's Acquire.
        self.word
            .store(u64::from(generation) << GEN_SHIFT, Ordering::Release);
    }

    /// Takes the lock; returns the word as it was (unlocked).
    fn lock(&self) -> u64 {
        match self.lock_if(|_| true) {
            Some(word) => word,
            None => unreachable!(),
        }
    }

    /// Takes the lock if `ok(word)` holds for the unlocked word; `None` if it does not.
    #[inline]
    fn lock_if(&self, ok: impl Fn(u64) -> bool) -> Option<u64> {
        let mut step = 0;
        let mut word = self.word.load(Ordering::Relaxed);
        loop {
            if word & LOCKED != 0 {
                spin_wait(&mut step);
                word = self.word.load(Ordering::Relaxed);
                continue;
            }
            if !ok(word) {
                return None;
            }
            // Acquire pairs with the Release of the previous holder's unlock.
            match self.word.compare_exchange_weak(
                word,
                word | LOCKED,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(word),
                Err(w) => word = w,
            }
        }
    }

    /// Whether any node is listed (for the models).
    #[allow(dead_code)]
    pub fn has_waiters(&self) -> bool {
        self.word.load(Ordering::Acquire) & LISTED != 0
    }
}

impl<W: Copy> Default for Slot<W> {
    fn default() -> Self {
        Slot::new()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn epoch_wraps_within_its_bits() {
        let word = (7u64 << GEN_SHIFT) | EPOCH_MASK | LISTED;
        let next = next_epoch(word);
        assert_eq!(epoch_of(next), 0);
        assert_eq!(generation_of(next), 7);
        assert_eq!(next & LISTED, LISTED);
    }

    #[test]
    fn report_wakes_every_listed_node_once() {
        let slot = Slot::<u32>::new();
        let nodes: Vec<Node<u32>> = (0..3).map(Node::new).collect();
        let e = slot.epoch();
        for n in &nodes {
            // SAFETY: the nodes outlive every use below.
            assert!(unsafe { slot.enlist(e, n) });
        }
        // The middle one gives up first.
        // SAFETY: listed above.
        assert_eq!(unsafe { slot.settle(&nodes[1], true) }, Settled::GaveUp);
        let mut woken = Vec::new();
        slot.report(0, false, |w| woken.push(w));
        woken.sort();
        assert_eq!(woken, [0, 2]);
        // SAFETY: listed above.
        assert_eq!(unsafe { slot.settle(&nodes[0], true) }, Settled::Woken);
        assert!(!slot.has_waiters());
        // A waiter with the old epoch retries instead of listing.
        let late = Node::new(9);
        // SAFETY: `late` outlives the call; it is not listed.
        assert!(!unsafe { slot.enlist(e, &late) });
    }

    #[test]
    fn stale_generation_changes_nothing() {
        let slot = Slot::<u32>::new();
        slot.reset(1);
        let e = slot.epoch();
        let node = Node::new(1);
        // SAFETY: `node` outlives the calls.
        assert!(unsafe { slot.enlist(e, &node) });
        slot.report(0, true, |_| panic!("a stale report woke a waiter"));
        assert!(!slot.seen().hung_up);
        assert_eq!(slot.epoch(), e);
        // SAFETY: listed above.
        assert_eq!(unsafe { slot.settle(&node, true) }, Settled::GaveUp);
    }
}
