//! The waiting record of a blocked operation, which lives on the waiting caller's stack.
//!
//! A blocked `send`, `recv` or `select` builds one [`Waiter`] and one [`Entry`] per channel
//! it waits on, all in its own stack frame (a `select` over many channels keeps its entries
//! in a `Vec`), and links the entries into the channels' wait lists. Nothing is allocated
//! per blocking operation, and a green thread's stack never moves, so the records stay put.
//!
//! # Who may touch a record
//!
//! - The owner creates it and is the only one who frees it (by returning).
//! - While an entry is linked into a wait list, whoever holds that list's lock may read the
//!   entry and its waiter, and may try to *select* the waiter: a CAS of [`Waiter::state`]
//!   from `WAITING`. Exactly one CAS wins, for one entry; the waiter then belongs to the
//!   winner's operation.
//! - The owner does not return while any of its entries is linked: it unlinks each one under
//!   that list's lock. A waker that selects an entry unlinks it *before* its CAS, so the
//!   owner, once it sees the CAS, needs no lock for that entry.
//! - A waker clones the waiter's [`Unparker`] before its CAS, and after the CAS touches the
//!   record only where a hand-off protocol has the owner wait for it (the rendezvous packet,
//!   see `flavors::zero`). It wakes the owner through its clone.
//!
//! # Sole waiters: a store instead of the CAS
//!
//! A blocked rendezvous `send` or `recv` without a deadline has one entry, in one list,
//! and never ends its wait itself: only wakers holding that list's lock change its state
//! ([`Waiter::sole`]). Then:
//!
//! 1. the owner registers the entry with the state `WAITING`, under the lock;
//! 2. every waker that changes the state holds the lock, finds the entry linked, and
//!    unlinks it in the same critical section, before it writes the state; so a linked
//!    sole entry is always `WAITING`, and the first waker to find it is the only one;
//! 3. that waker therefore writes its selection with a plain store (Release, paired with
//!    the owner's Acquire load in [`Waiter::selected`]), where it would otherwise CAS;
//! 4. the owner, once it reads a state other than `WAITING`, may return: as after the
//!    CAS, the waker no longer touches the record.
//!
//! That spares one read-modify-write per hand-off. Every other waiter (a `select`, an
//! operation with a deadline, the buffered flavors' waits, which abort themselves after
//! their last look) keeps the CAS, because its owner may end the wait without the lock.
//!
//! It spares a second one in the park: since only a holder of that lock can wake a sole
//! waiter for real, a green thread keeps the lock across its switch and its scheduler
//! commits the park with a store before releasing it (`park::park_unlocking`, used by
//! `flavors::zero`; the argument is "Parking under the waker's lock" in the runtime's
//! `state.rs`).

use std::time::Instant;

use crate::backoff::Spin;
use crate::loom::{AtomicUsize, Cell};
use crate::park::{self, Unparker, WaitReason};
use std::sync::atomic::Ordering;

/// What ended (or has not yet ended) a wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Selected {
    /// Nobody has selected the waiter yet.
    Waiting,
    /// The owner gave up: a deadline passed, or it saw an operation become ready by itself.
    Aborted,
    /// A channel the waiter was registered on was closed.
    Disconnected,
    /// A waker chose this entry's operation; the value is the entry's [`Entry::oper`].
    Operation(usize),
}

const WAITING: usize = 0;
const ABORTED: usize = 1;
const DISCONNECTED: usize = 2;

impl Selected {
    #[inline]
    fn from_usize(v: usize) -> Selected {
        match v {
            WAITING => Selected::Waiting,
            ABORTED => Selected::Aborted,
            DISCONNECTED => Selected::Disconnected,
            oper => Selected::Operation(oper),
        }
    }

    #[inline]
    fn into_usize(self) -> usize {
        match self {
            Selected::Waiting => WAITING,
            Selected::Aborted => ABORTED,
            Selected::Disconnected => DISCONNECTED,
            Selected::Operation(oper) => {
                debug_assert!(oper > DISCONNECTED, "operation ids are entry addresses");
                oper
            }
        }
    }
}

/// One blocked caller: how it was selected, and how to wake it.
pub(crate) struct Waiter {
    /// [`Selected`] as a word. The owner resets it between rounds (when no entry is
    /// linked); otherwise only a CAS from `WAITING` changes it, made by a waker holding the
    /// lock of a list in which one of the owner's entries is linked, or by the owner itself.
    state: AtomicUsize,
    /// Set at creation, never changed; wakers clone it (see the module docs).
    unparker: Unparker,
    /// What the owner waits for, for the park seam (task dumps).
    why: WaitReason,
    /// Only lock holders change `state` (see "Sole waiters" in the module docs). Set at
    /// creation, never changed.
    sole: bool,
}

impl Waiter {
    /// A waiter for the calling context (green thread, OS thread or loom thread), which
    /// waits for `why`.
    #[inline]
    pub(crate) fn new(why: WaitReason) -> Waiter {
        Waiter {
            state: AtomicUsize::new(WAITING),
            unparker: park::current(),
            why,
            sole: false,
        }
    }

    /// A waiter that the caller registers with one entry in one list, and whose wait
    /// only a waker holding that list's lock ends: never the owner itself (no deadline,
    /// no abort), never a waker of another list. Wakers then select it with a store (see
    /// "Sole waiters" in the module docs).
    #[inline]
    pub(crate) fn sole(why: WaitReason) -> Waiter {
        Waiter {
            sole: true,
            ..Waiter::new(why)
        }
    }

    /// Whether only lock holders change the state ([`Waiter::sole`]).
    #[inline]
    pub(crate) fn is_sole(&self) -> bool {
        self.sole
    }

    /// Makes the waiter ready for another round.
    ///
    /// The caller must have unlinked all of its entries first: then no waker can reach the
    /// record, and a late `unpark` through an old clone is a harmless spurious wake-up.
    #[inline]
    pub(crate) fn reset(&self) {
        // Relaxed: the next registration publishes the record under a list's lock.
        self.state.store(WAITING, Ordering::Relaxed);
    }

    /// Tries to end the wait with `sel`; on failure returns what ended it first.
    ///
    /// For the owner, and for wakers that keep the record alive past the CAS (`close`,
    /// which leaves the entry linked). A waker after whose CAS the owner may return uses
    /// [`Waiter::select_through`] instead.
    #[inline]
    pub(crate) fn try_select(&self, sel: Selected) -> Result<(), Selected> {
        Waiter::select_through(&self.state, sel)
    }

    /// The state word alone, for [`Waiter::select_through`].
    #[inline]
    pub(crate) fn state(&self) -> &AtomicUsize {
        &self.state
    }

    /// Tries to select a waiter through its state word.
    ///
    /// Once the CAS succeeds the owner may return and free the record while this call is
    /// still running, so it must not be made through a `&Waiter` argument: a reference
    /// argument promises the whole `Waiter`, its unparker included, stays valid until the
    /// call returns (Miri's Stacked Borrows flags exactly that). `&AtomicUsize` is
    /// interior-mutable and promises nothing of the sort (as in `Arc`'s drop).
    #[inline]
    pub(crate) fn select_through(state: &AtomicUsize, sel: Selected) -> Result<(), Selected> {
        // AcqRel: Release publishes what the winner wrote before (a message in a packet,
        // the channel's closed mark), Acquire pairs with an earlier winner's Release.
        state
            .compare_exchange(
                WAITING,
                sel.into_usize(),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .map(|_| ())
            .map_err(Selected::from_usize)
    }

    /// Selects a waiter through its state word, as a waker holding the lock of the list
    /// in which the waiter's entry is linked, having just unlinked it; `sole` is what
    /// [`Waiter::is_sole`] said. Returns whether the selection won (always, for a sole
    /// waiter: steps 2–3 of "Sole waiters" in the module docs).
    #[inline]
    pub(crate) fn select_linked(state: &AtomicUsize, sole: bool, sel: Selected) -> bool {
        if sole {
            debug_assert_eq!(
                state.load(Ordering::Relaxed),
                WAITING,
                "gogreen: fatal: a linked sole waiter that is not waiting"
            );
            // Release pairs with the owner's Acquire in `selected`: it publishes what the
            // waker wrote before, as the CAS's Release does in `select_through`.
            state.store(sel.into_usize(), Ordering::Release);
            true
        } else {
            Waiter::select_through(state, sel).is_ok()
        }
    }

    /// What ended the wait so far.
    #[inline]
    pub(crate) fn selected(&self) -> Selected {
        // Acquire pairs with the Release of the winning CAS in `try_select`.
        Selected::from_usize(self.state.load(Ordering::Acquire))
    }

    /// Whether nobody has selected the waiter yet; a hint for wakers scanning a list.
    #[inline]
    pub(crate) fn is_waiting(&self) -> bool {
        self.state.load(Ordering::Relaxed) == WAITING
    }

    /// A handle that wakes the owner; wakers take it before their CAS.
    #[inline]
    pub(crate) fn unparker(&self) -> &Unparker {
        &self.unparker
    }

    /// Like [`wait_until`](Waiter::wait_until), but on an OS thread spins and snoozes a
    /// little first.
    ///
    /// For the rendezvous flavor and `select`, which have tried their operations once and
    /// registered at once: a hand-off between two running threads usually lands within
    /// that window, and parking costs a system call on an OS thread. (The buffered
    /// flavors spin *before* registering instead, where a success needs no lock.)
    ///
    /// A green thread parks at once. Its peer most likely runs on the same processor,
    /// which needs the processor to get anywhere; and a parked green thread is woken
    /// into its waker's `runnext`, where the pair keeps to one core, while a yielding
    /// one waits in the run queue, where idle processors steal it and split the pair.
    ///
    /// Inlined, with the OS thread's spinning out of line: a green thread's blocking
    /// operation then goes from its own frame straight to the park seam.
    #[inline]
    pub(crate) fn spin_then_wait_until(&self, deadline: Option<Instant>) -> Selected {
        if self.unparker.wakes_os_thread() {
            return self.spin_os_then_wait_until(deadline);
        }
        self.wait_inline(deadline)
    }

    /// [`Waiter::spin_then_wait_until`] on an OS thread.
    #[inline(never)]
    fn spin_os_then_wait_until(&self, deadline: Option<Instant>) -> Selected {
        let mut spin = Spin::new();
        loop {
            let sel = self.selected();
            if sel != Selected::Waiting {
                return sel;
            }
            if spin.is_completed() {
                return self.wait_until(deadline);
            }
            spin.snooze();
        }
    }

    /// Blocks until selected or until `deadline`, when the waiter aborts itself.
    #[inline(never)]
    pub(crate) fn wait_until(&self, deadline: Option<Instant>) -> Selected {
        self.wait_inline(deadline)
    }

    /// [`Waiter::wait_until`], inlined into the caller.
    #[inline(always)]
    fn wait_inline(&self, deadline: Option<Instant>) -> Selected {
        loop {
            let sel = self.selected();
            if sel != Selected::Waiting {
                return sel;
            }
            if let Some(end) = deadline
                && Instant::now() >= end
            {
                debug_assert!(!self.sole, "gogreen: fatal: a sole waiter with a deadline");
                return match self.try_select(Selected::Aborted) {
                    Ok(()) => Selected::Aborted,
                    Err(sel) => sel,
                };
            }
            // A wake-up may come before we park (it leaves a token) or be stale (from an
            // earlier round): either way the loop re-checks the state.
            park::park_for(deadline, self.why);
        }
    }
}

/// Words of [`Entry::slot`].
pub(crate) const ENTRY_SLOT_WORDS: usize = 4;

/// A waiter's place in one channel's wait list.
///
/// Links and `packet` are [`Cell`]s that only the lock of the list the entry is (or is about
/// to be) linked into protects. An entry must not move while linked.
pub(crate) struct Entry {
    waiter: *const Waiter,
    /// Where a rendezvous hands its message over (`flavors::zero`); null elsewhere.
    pub(crate) packet: Cell<*mut ()>,
    /// Room for a `select` receive arm's rendezvous packet, so that a small message needs
    /// no allocation (`flavors::zero`). Only the entry's owner and, after selecting the
    /// entry, its sender touch it, per the hand-off protocol.
    pub(crate) slot: std::cell::UnsafeCell<std::mem::MaybeUninit<[usize; ENTRY_SLOT_WORDS]>>,
    pub(crate) prev: Cell<*const Entry>,
    pub(crate) next: Cell<*const Entry>,
    pub(crate) linked: Cell<bool>,
}

impl Entry {
    /// An unlinked entry for `waiter`, which must outlive it.
    #[inline]
    pub(crate) fn new(waiter: &Waiter) -> Entry {
        Entry {
            waiter,
            packet: Cell::new(std::ptr::null_mut()),
            slot: std::cell::UnsafeCell::new(std::mem::MaybeUninit::uninit()),
            prev: Cell::new(std::ptr::null()),
            next: Cell::new(std::ptr::null()),
            linked: Cell::new(false),
        }
    }

    /// The operation id a waker selects this entry with: its address, unique while the
    /// owner waits, and never 0, 1 or 2 (the other states).
    #[inline]
    pub(crate) fn oper(&self) -> usize {
        self as *const Entry as usize
    }

    /// The waiter this entry belongs to.
    #[inline]
    pub(crate) fn waiter(&self) -> &Waiter {
        // SAFETY: the owner keeps the waiter alive for as long as the entry exists
        // (`Entry::new`), and whoever reaches the entry does so while it is alive (the
        // module docs).
        unsafe { &*self.waiter }
    }

    /// Whether a waker selected this entry's operation (owner only).
    #[inline]
    pub(crate) fn is_selected(&self) -> bool {
        self.waiter().selected() == Selected::Operation(self.oper())
    }
}
