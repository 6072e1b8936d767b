//! Waiting on many channel operations at once: the `Select` builder and the engine that
//! `select!` shares with it.
//!
//! # How select wins
//!
//! 1. Shuffle the operations (unless biased) and try each without blocking; the first
//!    that can proceed wins.
//! 2. Otherwise make one [`Waiter`] and one [`Entry`] per operation (on the stack for a
//!    few, in a `Vec` for many), and register every entry with its channel. A channel that
//!    is ready already makes us abort registration.
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
use crate::park::Unparker;
use crate::waiter::{Entry, Selected, Waiter};

/// What a chosen operation needs to complete: filled by `try_select` or `accept`, consumed
/// by the flavor's `read` or `write`.
pub(crate) struct Token {
    /// Array: the claimed slot. List: the block. Rendezvous: the packet. Null: closed.
    pub(crate) ptr: *const u8,
    /// Array: the slot's next stamp. List: the offset in the block.
    pub(crate) stamp: usize,
    /// Timers: the delivered instant.
    pub(crate) instant: Option<Instant>,
    /// Rendezvous: the selected peer, to wake once the packet is done.
    pub(crate) unparker: Option<Unparker>,
    /// Rendezvous: a `select` receive arm's packet, moved out of its entry (which dies
    /// with the select's frame) when the arm is accepted; `ptr` is then
    /// [`Token::IN_SLOT`].
    pub(crate) slot: std::mem::MaybeUninit<[usize; crate::waiter::ENTRY_SLOT_WORDS]>,
}

impl Token {
    /// `ptr` when the packet is in the token's own `slot`.
    pub(crate) const IN_SLOT: *const u8 = std::ptr::dangling::<u8>();
}

impl Default for Token {
    #[inline]
    fn default() -> Self {
        Token {
            ptr: std::ptr::null(),
            stamp: 0,
            instant: None,
            unparker: None,
            slot: std::mem::MaybeUninit::uninit(),
        }
    }
}

/// One side of a channel, as `select` sees it. Each flavor implements it for its sending
/// and receiving side.
pub(crate) trait SelectHandle {
    /// Tries to start the operation without blocking; on success `token` holds what the
    /// flavor's `read`/`write` needs to complete it. A closed channel counts as ready.
    fn try_select(&self, token: &mut Token) -> bool;

    /// When the operation becomes ready by itself (timers).
    fn deadline(&self) -> Option<Instant>;

    /// Registers `entry` as a blocked operation; returns whether the operation is ready
    /// already (the caller then aborts its wait).
    ///
    /// # Safety
    ///
    /// `entry` stays alive and in place until `unregister(entry)` has returned.
    unsafe fn register(&self, entry: &Entry) -> bool;

    /// Undoes `register` (the entry may already have been unlinked by a waker).
    fn unregister(&self, entry: &Entry);

    /// The waiter was selected through `entry`: completes the selection into `token`, or
    /// returns `false` if the operation slipped away and the select must go round again.
    fn accept(&self, token: &mut Token, entry: &Entry) -> bool;

    /// Whether the operation could proceed now.
    fn is_ready(&self) -> bool;

    /// Registers `entry` to be told of readiness only; returns whether ready already.
    ///
    /// # Safety
    ///
    /// `entry` stays alive and in place until `unwatch(entry)` has returned.
    unsafe fn watch(&self, entry: &Entry) -> bool;

    /// Undoes `watch`.
    fn unwatch(&self, entry: &Entry);
}

/// One operation of a select: which channel side, its index, and the handle's address
/// (to check that the caller completes the operation on the handle that was selected).
#[doc(hidden)]
pub struct Handle<'a> {
    handle: &'a (dyn SelectHandle + 'a),
    index: usize,
    ptr: *const u8,
}

impl<'a> Handle<'a> {
    /// A receive from `r`.
    #[inline]
    pub fn recv<T>(r: &'a Receiver<T>) -> Handle<'a> {
        Handle {
            handle: r,
            index: 0,
            ptr: r as *const Receiver<T> as *const u8,
        }
    }

    /// A send on `s`.
    #[inline]
    pub fn send<T>(s: &'a Sender<T>) -> Handle<'a> {
        Handle {
            handle: s,
            index: 0,
            ptr: s as *const Sender<T> as *const u8,
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
fn run_select(
    handles: &mut [Handle<'_>],
    timeout: Timeout,
    biased: bool,
) -> Option<(Token, usize, *const u8)> {
    if handles.is_empty() {
        // Go's `select {}`: nothing can ever be chosen.
        if !matches!(timeout, Timeout::Now) {
            sleep_until(timeout.deadline());
        }
        return None;
    }
    if !biased {
        shuffle(handles);
    }
    let mut token = Token::default();
    for h in handles.iter() {
        if h.handle.try_select(&mut token) {
            return Some((token, h.index, h.ptr));
        }
    }
    if matches!(timeout, Timeout::Now) {
        return None;
    }
    let waiter = Waiter::new();
    with_entries(&waiter, handles.len(), |entries| {
        loop {
            if let Some(i) = select_round(handles, entries, &waiter, timeout, &mut token) {
                return Some((token, handles[i].index, handles[i].ptr));
            }
            // Aborted, woken by a close, or the winner slipped away: try again.
            for h in handles.iter() {
                if h.handle.try_select(&mut token) {
                    return Some((token, h.index, h.ptr));
                }
            }
            if timeout.has_passed() {
                return None;
            }
        }
    })
}

/// One round of register, wait, unregister; returns the position of the accepted handle.
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
        let mut deadline = timeout.deadline();
        for h in handles {
            if let Some(d) = h.handle.deadline() {
                deadline = Some(deadline.map_or(d, |x| x.min(d)));
            }
        }
        sel = waiter.spin_then_wait_until(deadline);
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

/// Blocks until one operation is ready (without performing it), or until the timeout.
fn run_ready(handles: &mut [Handle<'_>], timeout: Timeout, biased: bool) -> Option<usize> {
    if handles.is_empty() {
        if !matches!(timeout, Timeout::Now) {
            sleep_until(timeout.deadline());
        }
        return None;
    }
    if !biased {
        shuffle(handles);
    }
    let waiter = Waiter::new();
    with_entries(&waiter, handles.len(), |entries| {
        loop {
            let mut spin = Spin::new();
            loop {
                if let Some(h) = handles.iter().find(|h| h.handle.is_ready()) {
                    return Some(h.index);
                }
                if spin.is_completed() {
                    break;
                }
                spin.snooze();
            }
            if timeout.has_passed() {
                return None;
            }
            if let Some(i) = ready_round(handles, entries, &waiter, timeout) {
                return Some(handles[i].index);
            }
        }
    })
}

/// One round of watch, wait, unwatch; returns the position of a handle that fired.
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
        let mut deadline = timeout.deadline();
        for h in handles {
            if let Some(d) = h.handle.deadline() {
                deadline = Some(deadline.map_or(d, |x| x.min(d)));
            }
        }
        sel = waiter.wait_until(deadline);
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

fn selected<'a>((token, index, ptr): (Token, usize, *const u8)) -> SelectedOperation<'a> {
    SelectedOperation {
        token,
        index,
        ptr,
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
        ptr: std::ptr::null(),
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
                    ptr: h.ptr,
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
/// the same handle that was added for it.
///
/// Dropping it without completing it panics: the operation is half done (a buffer slot
/// claimed, or a peer waiting for the hand-off).
///
/// [`send`]: SelectedOperation::send
/// [`recv`]: SelectedOperation::recv
#[must_use = "a selected operation must be completed with `send` or `recv`"]
pub struct SelectedOperation<'a> {
    token: Token,
    index: usize,
    ptr: *const u8,
    _marker: PhantomData<&'a ()>,
}

impl SelectedOperation<'_> {
    /// The index of the chosen operation.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Completes the chosen send with `msg`. If the channel was closed, the message comes
    /// back in the error.
    ///
    /// # Panics
    ///
    /// If `s` is not the sender that was added for this operation.
    pub fn send<T>(mut self, s: &Sender<T>, msg: T) -> Result<(), SendError<T>> {
        assert!(
            std::ptr::eq(s as *const Sender<T> as *const u8, self.ptr),
            "passed a sender that was not selected"
        );
        let mut token = mem::take(&mut self.token);
        mem::forget(self);
        // SAFETY: the token was filled for this sender (checked above), and is used once.
        unsafe { channel::write(s, &mut token, msg) }.map_err(SendError)
    }

    /// Completes the chosen receive. Fails if the channel was closed and empty.
    ///
    /// # Panics
    ///
    /// If `r` is not the receiver that was added for this operation.
    pub fn recv<T>(mut self, r: &Receiver<T>) -> Result<T, RecvError> {
        assert!(
            std::ptr::eq(r as *const Receiver<T> as *const u8, self.ptr),
            "passed a receiver that was not selected"
        );
        let mut token = mem::take(&mut self.token);
        mem::forget(self);
        // SAFETY: the token was filled for this receiver (checked above), and is used once.
        unsafe { channel::read(r, &mut token) }.map_err(|()| RecvError)
    }
}

impl Drop for SelectedOperation<'_> {
    fn drop(&mut self) {
        // Not while unwinding already (a wrong handle passed to `send`/`recv`, a panicking
        // message expression): a second panic would abort.
        if self.index != NONE && !std::thread::panicking() {
            panic!("dropped a `SelectedOperation` without completing the operation");
        }
    }
}

impl std::fmt::Debug for SelectedOperation<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad("SelectedOperation { .. }")
    }
}
