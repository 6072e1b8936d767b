//! The G: one green thread's header — its status, saved stack pointer, stack, identity,
//! and the slot its closure and then its result live in.
//!
//! # Life of a G
//!
//! 1. **Born** (`spawn`): a stack is promised (`stack::pool`) and a pooled header taken
//!    from the processor's caches; the closure is moved into the header's payload
//!    (boxed if it does not fit); the status becomes `ACTIVE` with a new generation (the
//!    task id); the G is put at the tail of the spawner's run queue (not in `runnext`,
//!    as Go does: see `ready::submit_new`). No stack is taken yet.
//! 2. **First run**: an M pops it, takes the promised stack from its P's cache, sees a
//!    null saved stack pointer, and *starts* it on its stack (`arch::start`): the entry
//!    function moves the closure out of the payload and calls it. The first page fault
//!    on the stack happens here.
//! 3. **Parks and runs**: see `state.rs` for the park protocol; each switch away saves
//!    the stack pointer in `sp`.
//! 4. **Finishes**: the result (or the panic payload) is stored in the payload, the
//!    join word gets `COMPLETE`, a waiting joiner is unparked. The G switches away for
//!    the last time; the M it lands on returns the stack to its cache.
//! 5. **Recycled**: when both the task has exited and its `JoinHandle` is gone (the
//!    `RUNNING` and `HANDLE` bits), the header goes back to a free list, never to the
//!    allocator: its address stays valid for stale unparkers, whose generation no longer
//!    matches.
//!
//! # Who owns what
//!
//! Fields in `UnsafeCell` are owned by whoever holds the G per its status (`state.rs`):
//! the M running it, or the queue holding it — except `join_waker` (owned per the join
//! word) and `payload` (the spawner until the first run, the G while it runs, the
//! joiner — or the handle's drop — once `COMPLETE` is seen while `HANDLE` is set).
//!
//! # Observers
//!
//! `gogreen::stats` and `gogreen::dump` read every header, from any thread, while the
//! tasks run. What they read without holding the G is atomic: the status word, the
//! join word, the wait reason and its time. To read the identity — id, name, spawn
//! location, written by the spawner — a dump *pins* the task first ([`G::observe`]): an
//! observer count in the join word keeps the header from being recycled (and so those
//! fields from being rewritten) until [`G::unobserve`]; whichever of the task, its
//! handle and its observers lets go last recycles it.

use super::state::State;
use crate::loom::{AtomicU32, Ordering};
use crate::stack::{Bounds, Stack};
use gogreen_channel::park::Unparker;
use gogreen_channel::park::WaitReason;
use std::any::Any;
use std::cell::UnsafeCell;
use std::mem::{self, MaybeUninit};
use std::panic::{AssertUnwindSafe, Location, catch_unwind};
use std::ptr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64};

/// A JoinHandle exists.
pub(crate) const HANDLE: u32 = 1;
/// The task has not finished exiting: its stack may still be in use.
pub(crate) const RUNNING: u32 = 2;
/// The result is in the payload.
pub(crate) const COMPLETE: u32 = 4;
/// `join_waker` holds the unparker of a joiner.
pub(crate) const WAITER: u32 = 8;
/// One observer pinning the task (see "Observers" above); the count takes the upper
/// half of the join word.
const OBSERVER: u32 = 1 << 16;
/// Whatever keeps a header from being recycled besides the task's run.
const NOT_RUN: u32 = HANDLE | !(OBSERVER - 1);
/// Whatever keeps a header from being recycled besides its handle.
const NOT_HANDLE: u32 = RUNNING | !(OBSERVER - 1);

/// A task's name, shared with the `Task`s that name it. A thin pointer: the header has
/// one word for it.
pub(crate) type TaskName = Arc<String>;

/// Bits of [`G`]'s `flags`: things said about a task once.
pub(crate) mod flag {
    /// `GOGREEN_WARN` reported it for running on its P too long without a runtime call.
    pub(crate) const WARNED_HOG: u8 = 1;
    /// `GOGREEN_WARN` reported it for blocking its thread while holding its P.
    pub(crate) const WARNED_BLOCKED: u8 = 2;
}

/// Bytes at the top of a G's stack slot kept out of its frames: the task-local map's
/// pointer, and padding that keeps the first frame 16-byte aligned.
const TOP_RESERVE: usize = 16;

/// Bytes of closure or result stored inline in the header.
const PAYLOAD: usize = 64;

/// `sp` of a G that never ran. Saved stack pointers are 8-byte aligned, so a set low bit
/// marks the two states where `sp` is not one: this (first run), and "pinned to the M
/// at this address" (`pin_to`). `switch::begin_run` tests the bit once, on the hot path.
pub(crate) const FRESH: *mut u8 = ptr::without_provenance_mut(1);
/// The low bit of `sp` that says "not a saved stack pointer".
const NOT_SAVED: usize = 1;

/// The closure before the first run, the result after the last.
#[repr(C, align(16))]
pub(crate) struct Payload([MaybeUninit<u8>; PAYLOAD]);

/// The typed half of a task, behind two function pointers.
pub(crate) struct TaskVTable {
    /// Moves the closure out of the payload, runs it (catching a panic) and stores the
    /// result in the payload.
    pub(crate) run: unsafe fn(&G),
    /// Drops a stored result that nobody will join.
    pub(crate) drop_result: unsafe fn(&G),
    /// Replaces a stored `Ok` result by `Err(payload)`: a panic after the closure
    /// returned (a task-local's `Drop`). A stored `Err` stays; `payload` is dropped.
    pub(crate) fail_after_run: unsafe fn(&G, Box<dyn Any + Send>),
}

/// The result a joiner takes.
pub(crate) type Outcome<T> = Result<T, Box<dyn Any + Send + 'static>>;

#[repr(C, align(64))]
pub(crate) struct G {
    // The order is the cache-line layout: a spawn writes the first two lines only (the
    // header was last used on the core where its previous task exited, so each line it
    // writes has to travel); the third belongs to the M that runs the G.
    //
    // Line 0: identity and what the spawn sets, and what a park writes.
    /// Status and wake-up token (`state.rs`). Shared.
    pub(crate) state: State,
    /// Join protocol bits (`HANDLE`, `RUNNING`, `COMPLETE`, `WAITER`) and the observer
    /// count. Shared.
    join: AtomicU32,
    /// What the G waits for (a `WaitReason`), written by the G itself when it parks (or
    /// enters a blocking call); meaningful while it is `WAITING` (or in that call).
    /// Read by observers as a snapshot.
    why: AtomicU8,
    /// `flag` bits, set once each by whoever says the thing (`fetch_or`); cleared by the
    /// spawner.
    flags: AtomicU8,
    /// Saved stack pointer while not running; `FRESH` before the first run; the
    /// address of an M, tagged, while pinned to it (`pinned.rs`). Owned by the G's
    /// holder.
    pub(crate) sp: UnsafeCell<*mut u8>,
    /// The size of stack this task asked for (at most `MAX_STACK_SIZE`, 1 GiB).
    stack_size: UnsafeCell<u32>,
    /// When the wait in `why` began: the coarse clock (`clock.rs`), milliseconds.
    /// Written with `why`.
    since: AtomicU32,
    /// The task id. Atomic only so that observers may read it without pinning the task
    /// (`Relaxed`: the same `mov` as a plain field); written once per task, by the
    /// spawner.
    id: AtomicU64,
    name: UnsafeCell<Option<TaskName>>,
    vtable: UnsafeCell<&'static TaskVTable>,
    /// Where the task was spawned (the caller of `spawn`).
    spawned_at: UnsafeCell<&'static Location<'static>>,
    // Line 1: the closure, then the result.
    payload: UnsafeCell<Payload>,
    // Line 2: what the running side sets.
    /// Bumped by each timed park, so a timer left from an earlier park does not wake a
    /// later one (`timer.rs`). Written by the G, read by whoever runs timers.
    pub(crate) park_seq: AtomicU32,
    /// While tracing: the flow arrow from whoever last spawned or woke the G, for the
    /// run it leads to (`traced.rs`). Written by the waker before it queues the G,
    /// taken by the M that next runs it; 0 when none. (It fills the hole after
    /// `park_seq`: the header stays three lines.)
    pub(crate) trace_flow: AtomicU32,
    /// The stack slot: given by the M that first runs the G, taken back by the exit
    /// action.
    stack: UnsafeCell<Option<Stack>>,
    /// The stack in use right now: the slot, or a `stack::grow` segment.
    bounds: UnsafeCell<Bounds>,
    /// A joiner's unparker; owned by the joiner until it sets `WAITER`, then by the
    /// finishing task.
    join_waker: UnsafeCell<Option<Unparker>>,
}

// SAFETY: G headers are shared between Ms; every field is either atomic or owned by one
// party at a time per the protocols above.
unsafe impl Sync for G {}
// SAFETY: as above.
unsafe impl Send for G {}

static EMPTY_VTABLE: TaskVTable = TaskVTable {
    run: |_| {},
    drop_result: |_| {},
    fail_after_run: |_, _| {},
};

impl G {
    pub(crate) fn new() -> Self {
        G {
            state: State::new(),
            join: AtomicU32::new(0),
            why: AtomicU8::new(0),
            flags: AtomicU8::new(0),
            park_seq: AtomicU32::new(0),
            sp: UnsafeCell::new(FRESH),
            stack: UnsafeCell::new(None),
            stack_size: UnsafeCell::new(0),
            since: AtomicU32::new(0),
            bounds: UnsafeCell::new(Bounds::default()),
            id: AtomicU64::new(0),
            name: UnsafeCell::new(None),
            vtable: UnsafeCell::new(&EMPTY_VTABLE),
            spawned_at: UnsafeCell::new(Location::caller()),
            join_waker: UnsafeCell::new(None),
            trace_flow: AtomicU32::new(0),
            payload: UnsafeCell::new(Payload([MaybeUninit::uninit(); PAYLOAD])),
        }
    }

    /// Fills a pooled header for a new task and makes it `ACTIVE`. Returns the
    /// generation.
    ///
    /// # Safety
    ///
    /// The caller owns the header (took it from a free list) and nobody else can reach
    /// it until the caller queues it.
    pub(crate) unsafe fn prepare<F, T>(
        &self,
        f: F,
        stack_size: usize,
        id: u64,
        name: Option<TaskName>,
        spawned_at: &'static Location<'static>,
    ) -> u32
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        // SAFETY: the caller owns the header.
        unsafe {
            *self.sp.get() = FRESH;
            // Validated sizes are at most `MAX_STACK_SIZE` (1 GiB).
            *self.stack_size.get() = stack_size as u32;
            self.id.store(id, Ordering::Relaxed);
            // A plain write: `reset` left `None`, and reading the field first would wait
            // for a cache line that is still on the core where the last task exited.
            ptr::write(self.name.get(), name);
            *self.vtable.get() = &Typed::<F, T>::VTABLE;
            *self.spawned_at.get() = spawned_at;
            store(self.payload.get(), f);
        }
        self.flags.store(0, Ordering::Relaxed);
        // Release: an observer that pins the task (`observe`, Acquire) sees the fields
        // above. (A plain store on x86, as Relaxed would be.)
        self.join.store(HANDLE | RUNNING, Ordering::Release);
        // Release: everything above is visible to whoever sees the new generation and
        // to the M that pops the G (the queue push also orders it). The task id serves
        // as the generation: unique per spawn.
        let generation = id as u32;
        self.state.activate(generation);
        generation
    }

    /// The task id. Read without holding the G (an observer), it may be a later
    /// task's, if this one has ended and its header has been reused since.
    #[inline]
    pub(crate) fn id(&self) -> u64 {
        self.id.load(Ordering::Relaxed)
    }

    /// The task's name, borrowed: valid until the header is recycled.
    #[inline]
    pub(crate) fn name(&self) -> Option<&TaskName> {
        // SAFETY: written once per task by the spawner; dropped only at recycling.
        unsafe { (*self.name.get()).as_ref() }
    }

    /// The task's name as text, borrowed like [`G::name`].
    #[inline]
    pub(crate) fn name_str(&self) -> Option<&str> {
        self.name().map(|n| n.as_str())
    }

    /// Where the task was spawned.
    #[inline]
    pub(crate) fn spawned_at(&self) -> &'static Location<'static> {
        // SAFETY: written once per task by the spawner, before the G is shared.
        unsafe { *self.spawned_at.get() }
    }

    /// Records what the running G is about to wait for, and since when (the coarse
    /// clock, ms). Called by the G itself; published to whoever takes the G `WAITING`
    /// by the park's Release, and read by observers as a snapshot.
    #[inline]
    pub(crate) fn set_wait(&self, why: WaitReason, since: u32) {
        self.why.store(why as u8, Ordering::Relaxed);
        self.since.store(since, Ordering::Relaxed);
    }

    /// What the G last waited for (see `set_wait`), and since when (coarse ms).
    #[inline]
    pub(crate) fn wait(&self) -> (WaitReason, u32) {
        (
            WaitReason::from_u8(self.why.load(Ordering::Relaxed)),
            self.since.load(Ordering::Relaxed),
        )
    }

    /// Sets flag bit `bit` (`flag`); returns whether it was clear: the caller is the
    /// one to say the thing.
    #[inline]
    #[allow(dead_code)] // Used by GOGREEN_WARN (branch `obs`).
    pub(crate) fn flag_once(&self, bit: u8) -> bool {
        self.flags.fetch_or(bit, Ordering::Relaxed) & bit == 0
    }

    /// The join word, as an observer sees it (a snapshot): `HANDLE`, `RUNNING`,
    /// `COMPLETE` bits; both of the first two clear means a pooled header.
    #[inline]
    pub(crate) fn join_bits(&self) -> u32 {
        self.join.load(Ordering::Acquire)
    }

    /// Pins the task in this header for an observer: until [`G::unobserve`], the header
    /// is not recycled, and its identity fields may be read. Returns `false` (pinning
    /// nothing) if the header holds no task: it is pooled.
    pub(crate) fn observe(&self) -> bool {
        let mut word = self.join.load(Ordering::Relaxed);
        loop {
            if word & (HANDLE | RUNNING) == 0 && word & !(OBSERVER - 1) == 0 {
                return false;
            }
            // Acquire pairs with `prepare`'s Release store of the word (later RMWs
            // continue its release sequence): the identity fields are visible.
            match self.join.compare_exchange_weak(
                word,
                word + OBSERVER,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(w) => word = w,
            }
        }
    }

    /// Lets go of a pin. Returns `true` if the header may be recycled now: the task
    /// and its handle are gone, and this was the last observer.
    pub(crate) fn unobserve(&self) -> bool {
        let prev = self.join.fetch_sub(OBSERVER, Ordering::AcqRel);
        prev & (HANDLE | RUNNING) == 0 && prev & !(OBSERVER - 1) == OBSERVER
    }

    /// The stack currently in use. Only the G itself (or the M running it) calls this.
    #[inline]
    pub(crate) fn bounds(&self) -> Bounds {
        // SAFETY: written only by the G itself (`set_bounds`) and by the spawner.
        unsafe { *self.bounds.get() }
    }

    /// # Safety
    /// Only the running G itself may change its bounds.
    #[inline]
    pub(crate) unsafe fn set_bounds(&self, b: Bounds) {
        // SAFETY: the caller is the running G.
        unsafe { *self.bounds.get() = b }
    }

    /// Whether `sp` is not a saved stack pointer: the G never ran, or it is pinned to
    /// an M. The one test on the switch's hot path.
    ///
    /// # Safety
    /// The caller holds the G.
    #[inline]
    pub(crate) unsafe fn needs_attention(&self) -> bool {
        // SAFETY: the holder owns `sp`.
        unsafe { *self.sp.get() as usize & NOT_SAVED != 0 }
    }

    /// The address of the M this G is pinned to and waits on, if it is (`pinned.rs`).
    ///
    /// # Safety
    /// The caller holds the G.
    #[inline]
    pub(crate) unsafe fn pinned_to(&self) -> Option<usize> {
        // SAFETY: the holder owns `sp`.
        let sp = unsafe { *self.sp.get() } as usize;
        (sp & NOT_SAVED != 0 && sp != FRESH as usize).then_some(sp & !NOT_SAVED)
    }

    /// P1 of `pinned.rs`: marks the running G as waiting on the M at `m`, so that
    /// whoever pops it hands that M a P instead of switching to its stack. Called by
    /// the G itself; published by whatever queues it next (the park's CAS, a queue).
    pub(crate) fn pin_to(&self, m: usize) {
        debug_assert!(m & NOT_SAVED == 0 && m != 0);
        // SAFETY: the running G owns `sp` (it is not saved while the G runs).
        unsafe { *self.sp.get() = (m | NOT_SAVED) as *mut u8 }
    }

    /// Clears the pin once the G runs again (P5 of `pinned.rs`).
    pub(crate) fn unpin(&self) {
        // SAFETY: as in `pin_to`. Any value with the bit clear would do until the next
        // switch saves the real one; null says plainly that nothing is saved.
        unsafe { *self.sp.get() = ptr::null_mut() }
    }

    /// Whether the G still needs a stack for its first run.
    ///
    /// # Safety
    /// The caller holds the G.
    #[inline]
    pub(crate) unsafe fn needs_stack(&self) -> bool {
        // SAFETY: the holder owns `stack`.
        unsafe { (*self.stack.get()).is_none() }
    }

    /// The stack size the task asked for.
    #[inline]
    pub(crate) fn stack_size(&self) -> usize {
        // SAFETY: written once per task by the spawner.
        unsafe { *self.stack_size.get() as usize }
    }

    /// Gives the G its stack, before its first run.
    ///
    /// # Safety
    /// The caller holds the G, which has no stack.
    pub(crate) unsafe fn give_stack(&self, stack: Stack) {
        // SAFETY: the holder owns `stack` and `bounds`.
        unsafe {
            debug_assert!((*self.stack.get()).is_none());
            *self.bounds.get() = stack.bounds();
            *self.stack.get() = Some(stack);
        }
    }

    /// Turns a task's stored result into `Err(payload)`: its closure returned, then
    /// something of the task's panicked before the result was published.
    ///
    /// # Safety
    /// The caller is the G itself, after `run` and before `complete`.
    pub(crate) unsafe fn fail_after_run(&self, payload: Box<dyn Any + Send>) {
        // SAFETY: `run` stored an Outcome<T>; the vtable matches it.
        unsafe { ((*self.vtable.get()).fail_after_run)(self, payload) };
    }

    /// Takes the stack back if there is one (an exit).
    ///
    /// # Safety
    /// Nobody runs on the G's stack any more.
    pub(crate) unsafe fn take_stack_if_any(&self) -> Option<Stack> {
        // SAFETY: per the contract.
        unsafe { (*self.stack.get()).take() }
    }

    /// Where the G's first frame starts: below the top of its slot, which keeps the
    /// task-local map's pointer (`task_local.rs`).
    ///
    /// # Safety
    /// The caller holds the G (it is `ACTIVE` and popped from a queue).
    #[inline]
    pub(crate) unsafe fn entry_sp(&self) -> *mut u8 {
        // SAFETY: per the contract; the slot is far larger than the reserve.
        unsafe { self.stack_top().sub(TOP_RESERVE) }
    }

    /// The word at the top of the G's slot that holds its task-local map (null until
    /// the first task-local is used).
    ///
    /// # Safety
    /// Only the running G itself may use it.
    #[inline]
    pub(crate) unsafe fn locals_slot(&self) -> *mut *mut () {
        // SAFETY: per the contract; the word lies in the reserve above `entry_sp`.
        unsafe { self.stack_top().sub(8).cast() }
    }

    /// Top of the G's stack slot, for its first run.
    ///
    /// # Safety
    /// The caller holds the G (it is `ACTIVE` and popped from a queue).
    #[inline]
    pub(crate) unsafe fn stack_top(&self) -> *mut u8 {
        // SAFETY: the caller holds the G; the slot is set from spawn to exit.
        unsafe {
            match (*self.stack.get()).as_ref() {
                Some(stack) => stack.top(),
                None => crate::fatal!("a G (id {}) without a stack", self.id()),
            }
        }
    }

    /// Runs the task's closure and stores its result. Called once, on the G's stack.
    ///
    /// # Safety
    /// The caller is the G's entry function.
    pub(crate) unsafe fn run(&self) {
        // SAFETY: set by `prepare`; the vtable's `run` matches the payload's type.
        unsafe { ((*self.vtable.get()).run)(self) }
    }

    /// The task finished: publishes the result and wakes a joiner. Called on the G's
    /// stack after `run`.
    pub(crate) fn complete(&self) {
        // AcqRel: Release publishes the result to the joiner's Acquire load; Acquire
        // takes ownership of `join_waker` if WAITER is set.
        let prev = self.join.fetch_or(COMPLETE, Ordering::AcqRel);
        if prev & HANDLE == 0 {
            // Nobody will ever join: drop the result now.
            // SAFETY: the result was stored by `run`; no handle can read it.
            unsafe { ((*self.vtable.get()).drop_result)(self) };
        }
        if prev & WAITER != 0 {
            // SAFETY: WAITER was set before COMPLETE, so the joiner stored its unparker
            // and no longer touches the slot.
            if let Some(u) = unsafe { (*self.join_waker.get()).take() } {
                u.unpark();
            }
        }
    }

    /// The task has left its stack for good. Returns `true` if the header may be
    /// recycled now (the handle is gone too).
    pub(crate) fn release_run(&self) -> bool {
        let prev = self.join.fetch_and(!RUNNING, Ordering::AcqRel);
        prev & NOT_RUN == 0
    }

    /// Whether the task's result is available.
    #[inline]
    pub(crate) fn is_complete(&self) -> bool {
        self.join.load(Ordering::Acquire) & COMPLETE != 0
    }

    /// Registers the joiner's unparker. Returns `false` if the task completed first:
    /// then nothing is registered and the caller reads the result.
    ///
    /// # Safety
    /// Only the handle's owner calls this, once per wait.
    pub(crate) unsafe fn register_joiner(&self, u: Unparker) -> bool {
        let word = self.join.load(Ordering::Acquire);
        if word & COMPLETE != 0 {
            return false;
        }
        debug_assert!(word & WAITER == 0);
        // SAFETY: without WAITER the slot belongs to the handle's owner.
        unsafe { *self.join_waker.get() = Some(u) };
        // AcqRel: Release hands the slot to the finishing task.
        let prev = self.join.fetch_or(WAITER, Ordering::AcqRel);
        if prev & COMPLETE != 0 {
            // The task completed without seeing WAITER: the slot is still ours.
            // SAFETY: `complete` saw no WAITER and left the slot alone.
            drop(unsafe { (*self.join_waker.get()).take() });
            return false;
        }
        true
    }

    /// Moves the result out.
    ///
    /// # Safety
    /// `is_complete()` was observed, `T` is the task's result type, and the result is
    /// taken at most once.
    pub(crate) unsafe fn take_result<T>(&self) -> Outcome<T> {
        // SAFETY: per the contract; COMPLETE (acquired) means `run` stored an Outcome<T>.
        unsafe { take(self.payload.get()) }
    }

    /// The handle is gone. `result_taken` says whether `join` took the result; if not
    /// and the task completed, the result is dropped here. Returns `true` if the header
    /// may be recycled now (the task has exited too).
    ///
    /// The result is dropped *before* `HANDLE` goes: once it has gone, the task's exit
    /// (`release_run`) may recycle the header — vtable, name, payload — and a new task
    /// may take it. (Dropping after the `fetch_and`, as this once did, raced with that:
    /// the result of a task that had just finished was leaked when the vtable was
    /// reset first, or its name read as gone.)
    pub(crate) fn release_handle(&self, result_taken: bool) -> bool {
        if !result_taken {
            // Acquire pairs with `complete`'s Release: a stored result is visible.
            let mut word = self.join.load(Ordering::Acquire);
            loop {
                if word & COMPLETE != 0 {
                    // `complete` saw HANDLE set and left the result to us; HANDLE,
                    // still set, keeps the header from being recycled meanwhile.
                    // SAFETY: the result is stored and nobody else will read it.
                    unsafe { ((*self.vtable.get()).drop_result)(self) };
                    break;
                }
                // Not complete: clear HANDLE only while that holds, and `complete`
                // drops the result itself. AcqRel as the `fetch_and` below.
                match self.join.compare_exchange_weak(
                    word,
                    word & !HANDLE,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return word & NOT_HANDLE == 0,
                    Err(now) => word = now,
                }
            }
        }
        // AcqRel: Acquire pairs with `release_run`'s Release (the task is off its
        // stack); Release hands whoever recycles the header our last use of it.
        let prev = self.join.fetch_and(!HANDLE, Ordering::AcqRel);
        prev & NOT_HANDLE == 0
    }

    /// Clears what a finished task left behind, before the header is pooled.
    ///
    /// # Safety
    /// Both the task and its handle are gone (`release_*` returned `true`).
    pub(crate) unsafe fn reset(&self) {
        // SAFETY: nobody else references the task's fields any more.
        unsafe {
            *self.name.get() = None;
            *self.join_waker.get() = None;
            *self.vtable.get() = &EMPTY_VTABLE;
            debug_assert!(
                (*self.stack.get()).is_none(),
                "gogreen: fatal: recycling a G that still has a stack"
            );
        }
    }
}

/// Where a green thread's own frames begin: short backtraces stop here, std's (which
/// look for this name, as they do at the bottom of every `std::thread`) and the
/// runtime's panic report alike (`panic_hook.rs`), so that the runtime's entry frames
/// do not show.
#[inline(never)]
fn __rust_begin_short_backtrace<T>(f: impl FnOnce() -> T) -> T {
    let result = f();
    // Keeps this frame on the stack while `f` runs: no tail call.
    std::hint::black_box(());
    result
}

/// Whether a value of type `V` is stored inline in a payload (else boxed).
const fn fits<V>() -> bool {
    mem::size_of::<V>() <= PAYLOAD && mem::align_of::<V>() <= 16
}

/// Moves `v` into the payload, boxing it if it does not fit.
///
/// # Safety
/// The payload is owned by the caller and holds nothing that needs dropping.
unsafe fn store<V>(payload: *mut Payload, v: V) {
    if fits::<V>() {
        // SAFETY: size and alignment checked by `fits`.
        unsafe { payload.cast::<V>().write(v) }
    } else {
        // SAFETY: a pointer always fits.
        unsafe { payload.cast::<*mut V>().write(Box::into_raw(Box::new(v))) }
    }
}

/// Moves a `V` stored by `store` out of the payload.
///
/// # Safety
/// The payload holds a `V` stored by `store`, taken at most once.
unsafe fn take<V>(payload: *mut Payload) -> V {
    if fits::<V>() {
        // SAFETY: stored inline by `store`.
        unsafe { payload.cast::<V>().read() }
    } else {
        // SAFETY: stored boxed by `store`.
        unsafe { *Box::from_raw(payload.cast::<*mut V>().read()) }
    }
}

/// The vtable of a task with closure `F` and result `T`.
struct Typed<F, T>(F, T);

impl<F, T> Typed<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    const VTABLE: TaskVTable = TaskVTable {
        run: Self::run,
        drop_result: Self::drop_result,
        fail_after_run: Self::fail_after_run,
    };

    unsafe fn run(g: &G) {
        // SAFETY: `prepare` stored an F; the G runs once.
        let f: F = unsafe { take(g.payload.get()) };
        let outcome: Outcome<T> =
            catch_unwind(AssertUnwindSafe(|| __rust_begin_short_backtrace(f)));
        // SAFETY: the payload is empty again (F was moved out).
        unsafe { store(g.payload.get(), outcome) };
    }

    unsafe fn fail_after_run(g: &G, payload: Box<dyn Any + Send>) {
        // SAFETY: `run` stored an Outcome<T>, not yet published.
        let outcome = unsafe { take::<Outcome<T>>(g.payload.get()) };
        // A result the task returned is dropped here, on the task's own stack.
        let outcome: Outcome<T> = match outcome {
            Ok(_) => Err(payload),
            Err(first) => Err(first),
        };
        // SAFETY: the payload is empty again.
        unsafe { store(g.payload.get(), outcome) };
    }

    unsafe fn drop_result(g: &G) {
        // SAFETY: `run` stored an Outcome<T>; the caller takes it once.
        let outcome = unsafe { take::<Outcome<T>>(g.payload.get()) };
        // Nobody joined: the result (or panic payload) is dropped here, at the task's
        // end on its own stack, where a panic cannot unwind (it aborted with "panic in a
        // function that cannot unwind"), or in the handle's `drop`. std aborts with
        // "thread result panicked on drop" in both places; so do we, saying whose.
        if let Err(again) = catch_unwind(AssertUnwindSafe(|| drop(outcome))) {
            mem::forget(again); // its own drop could panic too
            crate::fatal!(
                "the result of green thread '{}' (id {}) panicked while being dropped \
                 (its handle was dropped unjoined); std aborts here too",
                g.name().map_or("<unnamed>", |n| &**n),
                g.id()
            );
        }
    }
}

// The layout the comments in `G` describe.
const _: () = {
    assert!(std::mem::offset_of!(G, vtable) < 64);
    assert!(std::mem::offset_of!(G, spawned_at) < 64);
    assert!(std::mem::offset_of!(G, why) < 64 && std::mem::offset_of!(G, since) < 64);
    assert!(std::mem::offset_of!(G, payload) >= 64);
    assert!(std::mem::offset_of!(G, park_seq) >= 128 && std::mem::offset_of!(G, stack) >= 128);
    assert!(std::mem::size_of::<G>() == 192);
};
