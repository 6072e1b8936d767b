//! Waiting on many channel operations at once: the `Select` builder and the engine that
//! `select!` shares with it.
//!
//! # How select wins
//!
//! 1. Shuffle the operations (unless biased) and try each without blocking; the first
//!    that can proceed wins.
//! 2. Otherwise make one [`Waiter`] and one [`Entry`] per operation (on the stack for a
//!    few, in a `Vec` for many), and register every entry with its channel. A channel that
//!    is ready already makes us abort registration. A select that must not block (a
//!    `default` arm, `try_select`) reads each channel's version before its try and again
//!    after all ([`Versions`]); if one changed, it registers too, then aborts at once
//!    instead of parking: step 1 alone sees each channel at a different moment and is not
//!    linearizable.
//! 3. Park. The first channel to fire selects us with a CAS on the waiter's state, naming
//!    its entry; every other channel's CAS fails, and they move on to their next waiter.
//!    A timer arm contributes its deadline to the park instead.
//! 4. Unregister every entry, then `accept` the winner: a rendezvous winner has already
//!    been handed its peer; a buffered one retries its claim (someone may have beaten
//!    us to the message), and on failure we go round again.
//!
//! No task or thread is spawned per arm, and the only allocations are the `Vec` of
//! entries for more than [`INLINE`] arms and one packet per rendezvous arm (because the
//! arm's message type is not known when the select is built).

use std::marker::PhantomData;
use std::mem;
use std::time::{Duration, Instant};

use crate::backoff::Spin;
use crate::channel::{self, Receiver, Sender};
use crate::err::{
    ReadyTimeoutError, RecvError, SelectTimeoutError, SendError, TryReadyError, TrySelectError,
};
use crate::flavors::sleep_until;
use crate::loom::LOOM;
use crate::park::WaitReason;
use crate::token::{Selectable, Token};
use crate::waiter::{Entry, Selected, Waiter};

/// One operation of a select: which channel side, and its index.
#[doc(hidden)]
pub struct Handle<'a> {
    handle: &'a (dyn Selectable + 'a),
    index: usize,
}

impl<'a> Handle<'a> {
    /// A receive from `r`.
    #[inline]
    pub fn recv<T>(r: &'a Receiver<T>) -> Handle<'a> {
        Handle {
            handle: r,
            index: 0,
        }
    }

    /// A send on `s`.
    #[inline]
    pub fn send<T>(s: &'a Sender<T>) -> Handle<'a> {
        Handle {
            handle: s,
            index: 0,
        }
    }
}

/// How long a select may block.
#[derive(Clone, Copy)]
enum Timeout {
    Now,
    Never,
    At(Instant),
}

impl Timeout {
    fn after(d: Duration) -> Timeout {
        match Instant::now().checked_add(d) {
            Some(t) => Timeout::At(t),
            None => Timeout::Never,
        }
    }

    fn deadline(self) -> Option<Instant> {
        match self {
            Timeout::At(t) => Some(t),
            Timeout::Now | Timeout::Never => None,
        }
    }

    fn has_passed(self) -> bool {
        match self {
            Timeout::Now => true,
            Timeout::Never => false,
            Timeout::At(t) => Instant::now() >= t,
        }
    }
}

/// Operations whose entries live on the stack; more go into a `Vec`.
pub(crate) const INLINE: usize = 4;

/// Runs `f` with `n` fresh entries for `waiter`, which do not move while `f` runs.
fn with_entries<R>(waiter: &Waiter, n: usize, f: impl FnOnce(&[Entry]) -> R) -> R {
    if n <= INLINE {
        let entries: [Entry; INLINE] = std::array::from_fn(|_| Entry::new(waiter));
        f(&entries[..n])
    } else {
        let entries: Vec<Entry> = (0..n).map(|_| Entry::new(waiter)).collect();
        f(&entries)
    }
}

/// Blocks until one operation is selected, or until the timeout; the core of `select`.
fn run_select<'a>(
    handles: &mut [Handle<'a>],
    timeout: Timeout,
    biased: bool,
) -> Option<(Token, usize, &'a (dyn Selectable + 'a))> {
    if handles.is_empty() {
        // Go's `select {}`: nothing can ever be chosen.
        if !matches!(timeout, Timeout::Now) {
            sleep_until(timeout.deadline(), WaitReason::Never);
        }
        return None;
    }
    if !biased {
        shuffle(handles);
    }
    let mut token = Token::default();
    let mut seen = Versions::new(handles, timeout);
    for (i, h) in handles.iter().enumerate() {
        seen.record(i, h);
        if h.handle.try_select(&mut token) {
            return Some((token, h.index, h.handle));
        }
    }
    if seen.unchanged(handles) {
        return None;
    }
    // A select that must not block, and that saw some channel change, registers once
    // (see `select_round`): trying each operation in turn sees each channel at a
    // different moment, and a message can move from a channel not yet tried to one
    // already tried in between.
    let waiter = Waiter::new(WaitReason::Select);
    with_entries(&waiter, handles.len(), |entries| {
        loop {
            if let Some(i) = select_round(handles, entries, &waiter, timeout, &mut token) {
                return Some((token, handles[i].index, handles[i].handle));
            }
            // Aborted, woken by a close, or the winner slipped away: try again.
            for h in handles.iter() {
                if h.handle.try_select(&mut token) {
                    return Some((token, h.index, h.handle));
                }
            }
            if timeout.has_passed() {
                return None;
            }
        }
    })
}

/// What a select that must not block saw of each channel before trying it: see
/// [`Versions::unchanged`].
struct Versions {
    /// Whether to record at all: only for [`Timeout::Now`], and for at most [`INLINE`]
    /// operations (more go the slow way, registering).
    on: bool,
    seen: [u64; INLINE],
}

impl Versions {
    fn new(handles: &[Handle<'_>], timeout: Timeout) -> Versions {
        Versions {
            on: matches!(timeout, Timeout::Now) && handles.len() <= INLINE,
            seen: [0; INLINE],
        }
    }

    /// Records handle `i`'s version, just before it is tried.
    #[inline]
    fn record(&mut self, i: usize, h: &Handle<'_>) {
        if self.on {
            self.seen[i] = h.handle.version();
        }
    }

    /// Whether nothing was ready at one moment, given that each operation failed its try:
    /// the double collect of snapshot algorithms.
    ///
    /// 1. Timers first: one not ready now, whose version did not change (nobody took its
    ///    message), was not ready since its try, the clock only ever making it ready.
    ///    Call the moment of the first of these checks P.
    /// 2. Then every operation's version again: if it is the one read before its try,
    ///    nothing but the clock made it ready since (`SelectHandle::version`), so it was
    ///    not ready from its try, which came before P, to this check, which comes after.
    ///
    /// So at P no operation was ready, and the select may report that. If anything
    /// changed, the caller registers instead (`select_round`), which is linearizable
    /// too but costs every channel's lock.
    fn unchanged(&self, handles: &[Handle<'_>]) -> bool {
        self.on
            && handles
                .iter()
                .all(|h| h.handle.deadline().is_none() || !h.handle.is_ready())
            && handles
                .iter()
                .zip(&self.seen)
                .all(|(h, &v)| h.handle.version() == v)
    }
}

/// One round of register, wait, unregister; returns the position of the accepted handle.
///
/// With [`Timeout::Now`] the round does not wait: it aborts as soon as every entry is
/// registered. That is what makes a non-blocking select linearizable (trying each
/// operation in turn is not: a message can move from a channel not yet tried to one
/// already tried). Each channel either was ready when our entry was linked (`register`
/// says so), or whatever made it ready later woke a waiter linked there: us, whose abort
/// then fails and who take the operation, or a waiter ahead of us, who takes the message.
/// If none of that happened, no channel was ready at the abort, the moment at which the
/// select reports that nothing is.
#[inline(never)]
fn select_round(
    handles: &[Handle<'_>],
    entries: &[Entry],
    waiter: &Waiter,
    timeout: Timeout,
    token: &mut Token,
) -> Option<usize> {
    waiter.reset();
    let mut registered = 0;
    let mut ready = None;
    let mut sel = Selected::Waiting;
    for (i, h) in handles.iter().enumerate() {
        registered += 1;
        // SAFETY: `entries` outlive this round and do not move; every registered entry is
        // unregistered below before the round ends.
        if unsafe { h.handle.register(&entries[i]) } {
            sel = match waiter.try_select(Selected::Aborted) {
                Ok(()) => {
                    ready = Some(i);
                    Selected::Aborted
                }
                Err(s) => s,
            };
            break;
        }
        sel = waiter.selected();
        if sel != Selected::Waiting {
            break;
        }
    }
    if sel == Selected::Waiting {
        sel = match timeout {
            Timeout::Now => abort(waiter),
            _ => waiter.spin_then_wait_until(deadline(handles, timeout)),
        };
    }
    for (h, e) in handles.iter().zip(entries).take(registered) {
        h.handle.unregister(e);
    }
    match sel {
        Selected::Waiting => unreachable!("gogreen: fatal: select woke up unselected"),
        Selected::Aborted => ready.filter(|&i| handles[i].handle.try_select(token)),
        Selected::Disconnected => None,
        Selected::Operation(oper) => {
            let i = entries[..registered]
                .iter()
                .position(|e| e.oper() == oper)?;
            handles[i].handle.accept(token, &entries[i]).then_some(i)
        }
    }
}

/// Ends a round that must not wait; returns what ended it (a waker may have come first).
fn abort(waiter: &Waiter) -> Selected {
    match waiter.try_select(Selected::Aborted) {
        Ok(()) => Selected::Aborted,
        Err(sel) => sel,
    }
}

/// The earliest of the timeout and the timer arms' deadlines.
fn deadline(handles: &[Handle<'_>], timeout: Timeout) -> Option<Instant> {
    let mut deadline = timeout.deadline();
    for h in handles {
        if let Some(d) = h.handle.deadline() {
            deadline = Some(deadline.map_or(d, |x| x.min(d)));
        }
    }
    deadline
}

/// Blocks until one operation is ready (without performing it), or until the timeout.
fn run_ready(handles: &mut [Handle<'_>], timeout: Timeout, biased: bool) -> Option<usize> {
    if handles.is_empty() {
        if !matches!(timeout, Timeout::Now) {
            sleep_until(timeout.deadline(), WaitReason::Never);
        }
        return None;
    }
    if !biased {
        shuffle(handles);
    }
    if matches!(timeout, Timeout::Now) {
        // As in `run_select`: versions around one look at each, else a watching round.
        let mut seen = Versions::new(handles, timeout);
        for (i, h) in handles.iter().enumerate() {
            seen.record(i, h);
            if h.handle.is_ready() {
                return Some(h.index);
            }
        }
        if seen.unchanged(handles) {
            return None;
        }
    }
    let waiter = Waiter::new(WaitReason::Select);
    with_entries(&waiter, handles.len(), |entries| {
        loop {
            let mut spin = Spin::new();
            loop {
                if let Some(h) = handles.iter().find(|h| h.handle.is_ready()) {
                    return Some(h.index);
                }
                if spin.is_completed() || matches!(timeout, Timeout::Now) {
                    break;
                }
                spin.snooze();
            }
            // As in `run_select`, a `try_ready` that saw a channel change watches once.
            if let Some(i) = ready_round(handles, entries, &waiter, timeout) {
                return Some(handles[i].index);
            }
            if timeout.has_passed() {
                return None;
            }
        }
    })
}

/// One round of watch, wait, unwatch; returns the position of a handle that fired. With
/// [`Timeout::Now`], as [`select_round`]: no wait, an abort once every entry watches.
#[inline(never)]
fn ready_round(
    handles: &[Handle<'_>],
    entries: &[Entry],
    waiter: &Waiter,
    timeout: Timeout,
) -> Option<usize> {
    waiter.reset();
    let mut registered = 0;
    let mut sel = Selected::Waiting;
    for (i, h) in handles.iter().enumerate() {
        registered += 1;
        // SAFETY: as in `select_round`, with `unwatch` below.
        if unsafe { h.handle.watch(&entries[i]) } {
            let oper = Selected::Operation(entries[i].oper());
            sel = match waiter.try_select(oper) {
                Ok(()) => oper,
                Err(s) => s,
            };
            break;
        }
        sel = waiter.selected();
        if sel != Selected::Waiting {
            break;
        }
    }
    if sel == Selected::Waiting {
        sel = match timeout {
            Timeout::Now => abort(waiter),
            _ => waiter.wait_until(deadline(handles, timeout)),
        };
    }
    for (h, e) in handles.iter().zip(entries).take(registered) {
        h.handle.unwatch(e);
    }
    match sel {
        Selected::Operation(oper) => entries[..registered].iter().position(|e| e.oper() == oper),
        _ => None,
    }
}

/// Shuffles the operations (Fisher–Yates), so that no arm starves another.
///
/// One 64-bit random number serves several swaps: each draw is the high half of the
/// number times the range, and the low half is what remains of the randomness (Lemire's
/// multiply-shift, consumed step by step). A fresh number is drawn every 8 swaps, while
/// the product of the ranges is still far from exhausting 64 bits.
fn shuffle<T>(v: &mut [T]) {
    if LOOM {
        // A loom model must be deterministic: keep the order.
        return;
    }
    let mut r = 0;
    for (step, i) in (1..v.len()).rev().enumerate() {
        if step % 8 == 0 {
            r = random_u64();
        }
        let m = u128::from(r) * (i as u128 + 1);
        r = m as u64;
        v.swap(i, (m >> 64) as usize);
    }
}

/// A random number: xorshift64 on a per-thread state.
///
/// Randomness is all this needs: a green thread that moves to another OS thread just
/// continues from that thread's state. Not inlined, so that no thread-local address is
/// kept across a call that could switch green threads.
#[inline(never)]
fn random_u64() -> u64 {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicU64, Ordering};
    thread_local! {
        static STATE: Cell<u64> = const { Cell::new(0) };
    }
    static SEED: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);
    STATE.with(|state| {
        let mut x = state.get();
        if x == 0 {
            // Relaxed: any distinct nonzero seed will do.
            x = SEED.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed) | 1;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        x
    })
}

fn number(handles: &mut [Handle<'_>]) {
    for (i, h) in handles.iter_mut().enumerate() {
        h.index = i;
    }
}

fn selected<'a>(
    (token, index, handle): (Token, usize, &'a (dyn Selectable + 'a)),
) -> SelectedOperation<'a> {
    SelectedOperation {
        token,
        index,
        handle: Some(handle),
        _marker: PhantomData,
    }
}

/// `select!` without a default arm: blocks until an operation is selected.
#[doc(hidden)]
pub fn select<'a>(handles: &mut [Handle<'a>], biased: bool) -> SelectedOperation<'a> {
    number(handles);
    match run_select(handles, Timeout::Never, biased) {
        Some(s) => selected(s),
        None => unreachable!("gogreen: fatal: select without timeout returned"),
    }
}

/// The index of a [`SelectedOperation`] that stands for "nothing was selected": the
/// `select!` macro's `default` arm.
const NONE: usize = usize::MAX;

fn not_selected<'a>() -> SelectedOperation<'a> {
    SelectedOperation {
        token: Token::default(),
        index: NONE,
        handle: None,
        _marker: PhantomData,
    }
}

/// `select!` with a `default` arm: selects an operation that is ready now (`timeout`
/// `None`) or within `timeout`, or returns one for which [`is_none`] holds.
#[doc(hidden)]
pub fn select_or_default<'a>(
    handles: &mut [Handle<'a>],
    timeout: Option<Duration>,
    biased: bool,
) -> SelectedOperation<'a> {
    number(handles);
    let timeout = timeout.map_or(Timeout::Now, Timeout::after);
    run_select(handles, timeout, biased).map_or_else(not_selected, selected)
}

/// Whether `select!` found nothing to select.
#[doc(hidden)]
pub fn is_none(op: &SelectedOperation<'_>) -> bool {
    op.index == NONE
}

/// Consumes the result of a `select!` that found nothing.
#[doc(hidden)]
pub fn discard(op: SelectedOperation<'_>) {
    assert!(is_none(&op), "a selected operation must be completed");
    mem::forget(op);
}

/// A set of channel operations to wait on, for when the set is known only at run time.
///
/// Add operations with [`send`](Select::send) and [`recv`](Select::recv), then either
///
/// - *select* one with [`select`](Select::select), [`try_select`](Select::try_select),
///   [`select_timeout`](Select::select_timeout) or [`select_deadline`](Select::select_deadline):
///   the returned [`SelectedOperation`] has begun and **must** be completed with its
///   `send` or `recv`;
/// - or wait until one is *ready* with [`ready`](Select::ready) and friends, and then try it
///   yourself (it may have been taken by someone else meanwhile).
///
/// If several operations are ready, one is chosen at random (the first added, with
/// [`new_biased`](Select::new_biased)). A closed channel counts as ready.
///
/// ```
/// use gogreen_channel::{unbounded, Select};
///
/// let (s1, r1) = unbounded::<i32>();
/// let (s2, r2) = unbounded::<i32>();
/// s2.send(7).unwrap();
///
/// let mut sel = Select::new();
/// let i1 = sel.recv(&r1);
/// let i2 = sel.recv(&r2);
/// let oper = sel.select();
/// assert_eq!(oper.index(), i2);
/// assert_eq!(oper.recv(&r2), Ok(7));
/// # let _ = (i1, s1);
/// ```
pub struct Select<'a> {
    handles: Vec<Handle<'a>>,
    next_index: usize,
    biased: bool,
}

impl<'a> Select<'a> {
    /// An empty set; ready operations are chosen at random.
    pub fn new() -> Select<'a> {
        Select {
            handles: Vec::new(),
            next_index: 0,
            biased: false,
        }
    }

    /// An empty set; of the ready operations, the one added first is chosen.
    pub fn new_biased() -> Select<'a> {
        Select {
            biased: true,
            ..Select::new()
        }
    }

    /// Adds a send on `s`; returns its index.
    pub fn send<T>(&mut self, s: &'a Sender<T>) -> usize {
        self.push(Handle::send(s))
    }

    /// Adds a receive from `r`; returns its index.
    pub fn recv<T>(&mut self, r: &'a Receiver<T>) -> usize {
        self.push(Handle::recv(r))
    }

    fn push(&mut self, mut h: Handle<'a>) -> usize {
        let i = self.next_index;
        h.index = i;
        self.handles.push(h);
        self.next_index += 1;
        i
    }

    /// Removes the operation with index `index`. Other indices do not change.
    ///
    /// # Panics
    ///
    /// If there is no such operation.
    pub fn remove(&mut self, index: usize) {
        let pos = self
            .handles
            .iter()
            .position(|h| h.index == index)
            .expect("no operation with this index in the select");
        self.handles.swap_remove(pos);
    }

    /// Selects an operation that is ready now.
    pub fn try_select(&mut self) -> Result<SelectedOperation<'a>, TrySelectError> {
        run_select(&mut self.handles, Timeout::Now, self.biased)
            .map(selected)
            .ok_or(TrySelectError)
    }

    /// Blocks until an operation can be selected. With no operations, blocks forever (Go's
    /// `select {}`).
    pub fn select(&mut self) -> SelectedOperation<'a> {
        match run_select(&mut self.handles, Timeout::Never, self.biased) {
            Some(s) => selected(s),
            None => unreachable!("gogreen: fatal: select without timeout returned"),
        }
    }

    /// Blocks at most `timeout` until an operation can be selected.
    pub fn select_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<SelectedOperation<'a>, SelectTimeoutError> {
        run_select(&mut self.handles, Timeout::after(timeout), self.biased)
            .map(selected)
            .ok_or(SelectTimeoutError)
    }

    /// Blocks at most until `deadline` until an operation can be selected.
    pub fn select_deadline(
        &mut self,
        deadline: Instant,
    ) -> Result<SelectedOperation<'a>, SelectTimeoutError> {
        run_select(&mut self.handles, Timeout::At(deadline), self.biased)
            .map(selected)
            .ok_or(SelectTimeoutError)
    }

    /// Returns the index of an operation that is ready now.
    pub fn try_ready(&mut self) -> Result<usize, TryReadyError> {
        run_ready(&mut self.handles, Timeout::Now, self.biased).ok_or(TryReadyError)
    }

    /// Blocks until an operation is ready and returns its index. It may be taken by
    /// another thread before the caller tries it, and, rarely, readiness is reported
    /// spuriously: try the operation without blocking, and loop.
    pub fn ready(&mut self) -> usize {
        match run_ready(&mut self.handles, Timeout::Never, self.biased) {
            Some(i) => i,
            None => unreachable!("gogreen: fatal: ready without timeout returned"),
        }
    }

    /// As [`ready`](Select::ready), blocking at most `timeout`.
    pub fn ready_timeout(&mut self, timeout: Duration) -> Result<usize, ReadyTimeoutError> {
        run_ready(&mut self.handles, Timeout::after(timeout), self.biased).ok_or(ReadyTimeoutError)
    }

    /// As [`ready`](Select::ready), blocking at most until `deadline`.
    pub fn ready_deadline(&mut self, deadline: Instant) -> Result<usize, ReadyTimeoutError> {
        run_ready(&mut self.handles, Timeout::At(deadline), self.biased).ok_or(ReadyTimeoutError)
    }
}

// SAFETY: a `Select` holds shared references to channel handles and only drives their
// control structures (claims, wait-list entries, wake-ups: atomics and locks that any thread
// may use); it never reads, writes or drops a message. Messages move only in
// `SelectedOperation::send`/`recv`, which is not `Send` and which needs the `Sender` or
// `Receiver` itself on the thread that completes it, so `T: Send` is still what decides
// whether a message crosses threads.
unsafe impl Send for Select<'_> {}
// SAFETY: as above; every method that selects takes `&mut self`.
unsafe impl Sync for Select<'_> {}

impl Default for Select<'_> {
    fn default() -> Self {
        Select::new()
    }
}

impl Clone for Select<'_> {
    fn clone(&self) -> Self {
        Select {
            handles: self
                .handles
                .iter()
                .map(|h| Handle {
                    handle: h.handle,
                    index: h.index,
                })
                .collect(),
            next_index: self.next_index,
            biased: self.biased,
        }
    }
}

impl std::fmt::Debug for Select<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad("Select { .. }")
    }
}

/// An operation that a select chose and began; complete it with [`send`] or [`recv`] on
/// the handle that was added for it (or a clone of that handle).
///
/// Dropping it without completing it panics: the operation is half done (a buffer slot
/// claimed, or a peer waiting for the hand-off). A dropped receive is completed first and
/// its message dropped; a dropped send that claimed a slot or a waiting peer aborts the
/// process, as it has no message to give them.
///
/// [`send`]: SelectedOperation::send
/// [`recv`]: SelectedOperation::recv
#[must_use = "a selected operation must be completed with `send` or `recv`"]
pub struct SelectedOperation<'a> {
    token: Token,
    index: usize,
    /// The handle that was added for the operation; `None` for "nothing selected".
    handle: Option<&'a (dyn Selectable + 'a)>,
    /// Not `Send`: a rendezvous token may hold the waiting peer's unparker, and the
    /// operation must be completed where it was begun.
    _marker: PhantomData<(&'a (), *const u8)>,
}

impl SelectedOperation<'_> {
    /// Whether `h` may complete the operation: the handle that was added (one comparison,
    /// the common case), or another one of the same channel and side.
    #[inline]
    fn is_for(&self, h: &dyn Selectable) -> bool {
        self.handle.is_some_and(|mine| {
            std::ptr::addr_eq(mine as *const dyn Selectable, h as *const dyn Selectable)
                || mine.side() == h.side()
        })
    }

    /// The index of the chosen operation.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Completes the chosen send with `msg`. If the channel was closed, the message comes
    /// back in the error.
    ///
    /// # Panics
    ///
    /// If `s` is not a sender of the channel whose send was selected (the one added for
    /// this operation, or a clone of it).
    // Always inlined, with the work in `send_from`: the message stays in the caller's
    // frame, and only its address goes further (see "Stack" in `docs/channels.md`).
    #[inline(always)]
    pub fn send<T>(self, s: &Sender<T>, msg: T) -> Result<(), SendError<T>> {
        assert!(
            self.is_for(s),
            "passed a sender of another channel than the one selected"
        );
        let msg = mem::ManuallyDrop::new(msg);
        // SAFETY: checked above; `msg` is a message in, not used again unless it comes
        // back.
        match unsafe { self.send_from(s, &*msg) } {
            Ok(()) => Ok(()),
            Err(()) => Err(SendError(mem::ManuallyDrop::into_inner(msg))),
        }
    }

    /// # Safety
    ///
    /// `self.is_for(s)`; `msg` is a message in (see `channel.rs`).
    unsafe fn send_from<T>(mut self, s: &Sender<T>, msg: *const T) -> Result<(), ()> {
        let mut token = mem::take(&mut self.token);
        mem::forget(self);
        // SAFETY: the token was filled for this sender's channel and side (the caller's
        // contract), and is used once; the caller's contract for `msg`.
        unsafe { channel::write(s, &mut token, msg) }
    }

    /// Completes the chosen receive. Fails if the channel was closed and empty.
    ///
    /// # Panics
    ///
    /// If `r` is not a receiver of the channel whose receive was selected (the one added
    /// for this operation, or a clone of it).
    #[inline]
    pub fn recv<T>(mut self, r: &Receiver<T>) -> Result<T, RecvError> {
        assert!(
            self.is_for(r),
            "passed a receiver of another channel than the one selected"
        );
        let mut token = mem::take(&mut self.token);
        mem::forget(self);
        // SAFETY: the token was filled for this receiver's channel and side (checked
        // above), and is used once.
        unsafe { channel::read(r, &mut token) }
    }
}

impl Drop for SelectedOperation<'_> {
    fn drop(&mut self) {
        let Some(handle) = self.handle else {
            return;
        };
        // The operation is half done: end it, so that the channel stays usable (a receive
        // drops its message; see `Selectable::abandon` for a send).
        let mut token = mem::take(&mut self.token);
        // SAFETY: the token was filled for this handle, and is not used again.
        unsafe { handle.abandon(&mut token) };
        // Not while unwinding already (a wrong handle passed to `send`/`recv`, a panicking
        // message expression): a second panic would abort.
        if !std::thread::panicking() {
            panic!("dropped a `SelectedOperation` without completing the operation");
        }
    }
}

impl std::fmt::Debug for SelectedOperation<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad("SelectedOperation { .. }")
    }
}
