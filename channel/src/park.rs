//! The park seam: the one place where a blocked operation waits, and where it is woken.
//!
//! The channel crate knows nothing of the scheduler. Every blocking operation goes
//! through three calls — [`current`] ("give me a handle that wakes me"), [`park_for`]
//! ("sleep until woken or until a deadline, waiting for this", [`park`] when the
//! caller does not say what for) and [`snooze`] ("let someone else run for a moment")
//! — and this module decides who "me" is. (A fourth, [`park_unlocking`], is for a waiter
//! whose only real waker must take a lock the waiter holds: it parks holding it.)
//!
//! - inside a green thread, the runtime that installed its [`Hooks`] parks the green
//!   thread (only the G sleeps; its OS thread runs other Gs);
//! - on a plain OS thread, the thread itself parks;
//! - under `cfg(loom)`, loom's threads park, so models explore every interleaving.
//!
//! # Token semantics
//!
//! An [`Unparker::unpark`] that arrives before the matching [`park`] is not lost: it
//! leaves a token, and the next `park` of that context consumes it and returns at once
//! (the semantics of `std::thread::park`). In exchange, `park` may return spuriously —
//! because of a token left by an older wake-up, or a deadline — so a waiter always parks
//! in a loop that re-checks its own condition:
//!
//! ```ignore
//! let me = park::current();
//! publish_waiter(me);              // e.g. push onto a channel's wait list
//! while !woken() {                 // an atomic written by the waker before unpark()
//!     park::park(deadline);
//!     if deadline_passed() { unregister(); break; }
//! }
//! ```
//!
//! A waker must copy (clone) the waiter's [`Unparker`] *before* it publishes the
//! wake-up condition: once the waiter can observe the condition it may return and
//! free the record the unparker lived in.
//!
//! # What a waiter waits for
//!
//! Each park may say why it waits ([`WaitReason`]): a runtime keeps it with the green
//! thread, for its task dumps and counts. It costs the park one byte in a register.
//!
//! # OS threads blocked here
//!
//! A runtime that wants to prove a deadlock must know which OS threads can never act
//! again. [`blocked_os_threads`] lists the OS threads parked in this seam with no
//! deadline and no wake-up pending, by kernel thread id, each with a word that changes
//! whenever the thread parks again or is woken — so that two identical lists taken one
//! after the other prove that each of those threads stayed parked in between. And a
//! thread that is about to sleep here calls [`Hooks::os_thread_parked`] after it is
//! listed, so that the runtime can look again when the last thread blocks.

use std::fmt;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::time::Instant;

/// A handle that wakes one waiting context: a green thread, an OS thread or a loom thread.
///
/// Two words and a vtable, like [`std::task::Waker`]; cloning a green thread's
/// unparker costs nothing, cloning an OS thread's bumps a reference count.
pub struct Unparker {
    data: *const (),
    tag: usize,
    vtable: &'static UnparkerVTable,
}

/// [`UnparkerVTable::clone`]: the `(data, tag)` of a new handle from those of another.
pub type CloneFn = unsafe fn(*const (), usize) -> (*const (), usize);

/// The functions behind an [`Unparker`]; see [`Unparker::from_raw`].
///
/// `clone` and `drop` are both given or both `None`. `None` says that a handle owns
/// nothing (a green thread's: its header is never freed), so that a copy of its parts is
/// another handle and dropping one does nothing: every rendezvous clones the waiter's
/// handle and drops the clone, and an indirect call each way would be a tenth of the
/// wait list's work.
pub struct UnparkerVTable {
    /// Returns the `(data, tag)` of a new handle to the same context.
    pub clone: Option<CloneFn>,
    /// Wakes the context, or leaves it a token if it is not parked.
    pub unpark: unsafe fn(*const (), usize),
    /// Releases whatever the handle owns.
    pub drop: Option<unsafe fn(*const (), usize)>,
}

// SAFETY: `from_raw` requires the vtable's functions to be callable from any thread
// on data that any thread may hold.
unsafe impl Send for Unparker {}
// SAFETY: as above; `unpark` takes `&self` and the vtable promises it is thread-safe.
unsafe impl Sync for Unparker {}

impl Unparker {
    /// Builds an unparker from raw parts.
    ///
    /// # Safety
    ///
    /// The vtable's functions must be safe to call from any thread, any number of times
    /// (`drop` once per handle), with this `data` and `tag`; `clone` must return parts
    /// valid for the same vtable. Without `clone` and `drop`, copies of `data` and `tag`
    /// must stay valid for as long as anyone holds them.
    pub unsafe fn from_raw(data: *const (), tag: usize, vtable: &'static UnparkerVTable) -> Self {
        debug_assert_eq!(
            vtable.clone.is_some(),
            vtable.drop.is_some(),
            "gogreen: fatal: an unparker vtable with only one of clone and drop"
        );
        Unparker { data, tag, vtable }
    }

    /// Wakes the context this handle belongs to, or leaves it a token.
    #[inline]
    pub fn unpark(&self) {
        // SAFETY: `from_raw`'s contract.
        unsafe { (self.vtable.unpark)(self.data, self.tag) }
    }

    /// Whether this handle wakes a plain OS thread (or a loom thread), rather than a
    /// green thread of an installed runtime.
    #[inline]
    pub fn wakes_os_thread(&self) -> bool {
        std::ptr::eq(self.vtable, &os::VTABLE)
    }

    /// Whether both handles wake the same context. Waiters are identified by this,
    /// never by `ThreadId`: two green threads share an OS thread, and one green
    /// thread moves between OS threads.
    #[inline]
    pub fn will_wake(&self, other: &Unparker) -> bool {
        self.data == other.data && self.tag == other.tag && std::ptr::eq(self.vtable, other.vtable)
    }
}

impl Clone for Unparker {
    #[inline]
    fn clone(&self) -> Self {
        let (data, tag) = match self.vtable.clone {
            // SAFETY: `from_raw`'s contract.
            Some(clone) => unsafe { clone(self.data, self.tag) },
            // A handle that owns nothing: the copy is a handle too (`from_raw`).
            None => (self.data, self.tag),
        };
        Unparker {
            data,
            tag,
            vtable: self.vtable,
        }
    }
}

impl Drop for Unparker {
    #[inline]
    fn drop(&mut self) {
        if let Some(drop) = self.vtable.drop {
            // SAFETY: `from_raw`'s contract; each handle is dropped once.
            unsafe { drop(self.data, self.tag) }
        }
    }
}

impl fmt::Debug for Unparker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unparker")
            .field("data", &self.data)
            .field("tag", &self.tag)
            .finish()
    }
}

/// What a blocked context waits for. Runtimes show it in task dumps (`gogreen::dump`)
/// and count waiting green threads by it; it changes nothing in how the wait works.
///
/// The list covers every wait of gogreen, not only the channels': it is the one
/// vocabulary the seam and the runtime share.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
#[non_exhaustive]
pub enum WaitReason {
    /// Not said: a plain [`park`].
    Other = 0,
    /// A channel send.
    Send,
    /// A channel receive.
    Recv,
    /// A `select` over channels.
    Select,
    /// A wait nothing ends but a deadline: a receive from `never()`, a `select` with no
    /// operations.
    Never,
    /// A receive from a timer channel (`after`, `at`, `tick`).
    Timer,
    /// `sleep`.
    Sleep,
    /// `JoinHandle::join` (and `run`).
    Join,
    /// A scope waiting for the green threads it started.
    Scope,
    /// `WaitGroup::wait`.
    WaitGroup,
    /// `Mutex::lock`.
    Mutex,
    /// `RwLock::read`.
    RwLockRead,
    /// `RwLock::write`.
    RwLockWrite,
    /// `Condvar::wait`.
    Condvar,
    /// `Semaphore::acquire`.
    Semaphore,
    /// `Barrier::wait`.
    Barrier,
    /// `Once` or `OnceLock`, while another thread runs the initialiser.
    Once,
    /// A socket or another file descriptor that is not ready (the netpoller).
    Io,
    /// Inside `gogreen::blocking`: a call that blocks the OS thread. No park: the runtime
    /// sets it itself.
    Blocking,
    /// A green thread of the runtime's own, waiting for work (the contexts' deadline timer).
    Idle,
}

impl WaitReason {
    /// Every reason, in order of their values.
    pub const ALL: [WaitReason; 20] = [
        WaitReason::Other,
        WaitReason::Send,
        WaitReason::Recv,
        WaitReason::Select,
        WaitReason::Never,
        WaitReason::Timer,
        WaitReason::Sleep,
        WaitReason::Join,
        WaitReason::Scope,
        WaitReason::WaitGroup,
        WaitReason::Mutex,
        WaitReason::RwLockRead,
        WaitReason::RwLockWrite,
        WaitReason::Condvar,
        WaitReason::Semaphore,
        WaitReason::Barrier,
        WaitReason::Once,
        WaitReason::Io,
        WaitReason::Blocking,
        WaitReason::Idle,
    ];

    /// The reason stored as `v` (`reason as u8`); `Other` for a value no reason has.
    #[inline]
    pub fn from_u8(v: u8) -> WaitReason {
        WaitReason::ALL
            .get(usize::from(v))
            .copied()
            .unwrap_or(WaitReason::Other)
    }

    /// A short description, in the words of Go's goroutine dumps where Go has one.
    pub fn as_str(self) -> &'static str {
        match self {
            WaitReason::Other => "waiting",
            WaitReason::Send => "chan send",
            WaitReason::Recv => "chan receive",
            WaitReason::Select => "select",
            WaitReason::Never => "waiting forever (never() or an empty select)",
            WaitReason::Timer => "timer channel",
            WaitReason::Sleep => "sleep",
            WaitReason::Join => "join",
            WaitReason::Scope => "scope",
            WaitReason::WaitGroup => "WaitGroup.wait",
            WaitReason::Mutex => "Mutex.lock",
            WaitReason::RwLockRead => "RwLock.read",
            WaitReason::RwLockWrite => "RwLock.write",
            WaitReason::Condvar => "Condvar.wait",
            WaitReason::Semaphore => "Semaphore.acquire",
            WaitReason::Barrier => "Barrier.wait",
            WaitReason::Once => "Once",
            WaitReason::Io => "IO wait",
            WaitReason::Blocking => "blocking call",
            WaitReason::Idle => "idle",
        }
    }
}

impl fmt::Display for WaitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a green-thread runtime plugs into the seam; see [`install`].
///
/// Each function answers for the *calling* context: `current` returns `None` and
/// `park`/`snooze` return `false` when the caller is not a green thread, and the seam
/// then falls back to the OS thread.
pub struct Hooks {
    /// An unparker for the calling green thread, as the `data` and `tag` of an
    /// [`Unparker`] whose vtable is [`Hooks::unparker`]. Two words and not an `Unparker`,
    /// so that they come back in registers: a three-word `Unparker` comes back through
    /// memory, and the caller's copy of it, one wide load over the callee's narrower
    /// stores, stalled on store forwarding — about a tenth of a blocking rendezvous's time
    /// (`perf annotate`, `ping_pong`).
    pub current: fn() -> Option<(NonNull<()>, usize)>,
    /// The vtable of the unparkers that `current` describes.
    pub unparker: &'static UnparkerVTable,
    /// Parks the calling green thread until it is unparked (or holds a token), or
    /// until the deadline passes; the reason says what it waits for.
    pub park: fn(Option<Instant>, WaitReason) -> bool,
    /// Parks the calling green thread, which holds the lock its only real waker must
    /// take, and releases it — `unlock(lock)` — once the park is committed, so that the
    /// waker finds it parked and no wake-up token is needed (see [`park_unlocking`]).
    /// Returns `false`, doing nothing, if it cannot (not a green thread, or one that
    /// must stay on its thread): the seam then unlocks, and the caller waits as usual.
    ///
    /// # Safety
    ///
    /// As for [`park_unlocking`].
    pub park_unlocking: unsafe fn(WaitReason, unsafe fn(*const ()), *const ()) -> bool,
    /// Lets other green threads run before the caller continues.
    pub snooze: fn() -> bool,
    /// Called on an OS thread (not a green thread) that parks here with no deadline,
    /// after [`blocked_os_threads`] lists it and before it sleeps, with a SeqCst fence in
    /// between: a runtime that read the list before this call and found the thread
    /// running learns that it has blocked since (its deadlock check looks again).
    pub os_thread_parked: fn(),
}

static HOOKS: AtomicPtr<Hooks> = AtomicPtr::new(std::ptr::null_mut());

/// Plugs a green-thread runtime into the seam. One runtime per process: a second call
/// with other hooks returns `Err` and leaves the first in place.
///
/// # Safety
///
/// Every `(data, tag)` that `hooks.current` returns must meet [`Unparker::from_raw`]'s
/// contract with the vtable `hooks.unparker`: the seam makes unparkers of them.
pub unsafe fn install(hooks: &'static Hooks) -> Result<(), &'static Hooks> {
    let new = hooks as *const Hooks as *mut Hooks;
    // Release pairs with the Acquire in `hooks()`: whoever sees the pointer sees the table.
    match HOOKS.compare_exchange(
        std::ptr::null_mut(),
        new,
        Ordering::Release,
        Ordering::Acquire,
    ) {
        Ok(_) => Ok(()),
        Err(old) if old == new => Ok(()),
        // SAFETY: only `&'static Hooks` are ever stored.
        Err(old) => Err(unsafe { &*old }),
    }
}

#[inline]
fn hooks() -> Option<&'static Hooks> {
    // SAFETY: only `&'static Hooks` are ever stored (see `install`).
    unsafe { HOOKS.load(Ordering::Acquire).as_ref() }
}

/// An unparker for the caller: its green thread if it runs in one, else its OS thread.
#[inline]
pub fn current() -> Unparker {
    if let Some(h) = hooks()
        && let Some((data, tag)) = (h.current)()
    {
        // SAFETY: `install`'s contract.
        return unsafe { Unparker::from_raw(data.as_ptr(), tag, h.unparker) };
    }
    os::current()
}

/// Parks the caller until unparked or until `deadline`; may return spuriously. The
/// same as [`park_for`] with [`WaitReason::Other`].
#[inline]
pub fn park(deadline: Option<Instant>) {
    park_for(deadline, WaitReason::Other)
}

/// Parks the caller, waiting for `why`, until unparked or until `deadline`; may return
/// spuriously.
#[inline]
pub fn park_for(deadline: Option<Instant>, why: WaitReason) {
    if let Some(h) = hooks()
        && (h.park)(deadline, why)
    {
        return;
    }
    os::park(deadline)
}

/// Parks the caller, waiting for `why`, while it holds a lock that `unlock(lock)`
/// releases: a green thread keeps the lock across its switch, and its scheduler
/// releases it once the park is committed (a store where [`park_for`] needs a
/// read-modify-write: "Parking under the waker's lock" in the runtime's `state.rs`).
/// Anywhere else the lock is released at once and this returns: the caller then waits
/// as usual, re-checking its condition ([`park_for`] in a loop), which it must do after
/// this call anyway — a stale wake-up may end it early.
///
/// # Safety
///
/// The caller holds the lock, and `unlock(lock)` releases it from any thread; `lock`
/// (not on the caller's stack) outlives the wait. Every wake-up the caller waits for
/// comes from a thread that takes that lock first: no other thread may unpark it but
/// one holding an old, stale unparker (a deadline, for one, would break this).
#[inline]
pub unsafe fn park_unlocking(why: WaitReason, unlock: unsafe fn(*const ()), lock: *const ()) {
    if let Some(h) = hooks()
        // SAFETY: the caller's contract is the hook's.
        && unsafe { (h.park_unlocking)(why, unlock, lock) }
    {
        return;
    }
    // SAFETY: the caller's contract.
    unsafe { unlock(lock) }
}

/// The OS threads parked in this seam right now with no deadline and no wake-up
/// pending, as `(tid, word)` pairs: the kernel's thread id (`gettid`), and a word that
/// changes every time the thread parks or is woken. Appended to `out`. A snapshot of
/// each thread in turn: see the module docs for what two equal snapshots prove. The
/// other threads that have parked here before and still live — running now, or parked
/// with a deadline — go to `awake`, by thread id. Under loom, both stay empty.
pub fn blocked_os_threads(out: &mut Vec<(i32, u64)>, awake: &mut Vec<i32>) {
    os::blocked(out, awake)
}

/// Gives way for a moment while spinning: to other green threads inside one, to the OS
/// scheduler on a plain thread.
#[inline]
pub fn snooze() {
    if let Some(h) = hooks()
        && (h.snooze)()
    {
        return;
    }
    os::snooze()
}

/// Whether the caller runs inside a green thread.
#[inline]
pub fn in_green_thread() -> bool {
    hooks().and_then(|h| (h.current)()).is_some()
}

mod os {
    //! OS threads park through `std::thread::park`, behind a state word of their own that
    //! says whether the thread is parked and counts its parks (see "OS threads blocked
    //! here" in the module docs). Under loom each thread parks on its own
    //! `loom::sync::Notify`, which has the same token semantics (and explores spurious
    //! wake-ups) but, unlike `loom::thread::unpark`, wakes the thread only from *this*
    //! wait: a late unpark must not disturb a thread that has moved on and now blocks on a
    //! lock (loom would then fail with "expected to be able to acquire lock"), and stale
    //! unparks are part of the seam's contract. loom does not model time: there a timed
    //! park yields and returns, and the caller re-checks its clock.
    use super::{Unparker, UnparkerVTable};
    use std::sync::Arc;
    use std::time::Instant;

    #[cfg(loom)]
    use loom::{sync::Notify as Parker, thread, thread_local};
    #[cfg(not(loom))]
    use std::{thread, thread_local};

    thread_local! {
        // One allocation per thread; every unparker for it shares the Arc, so
        // `will_wake` can compare pointers (except in thread-local destructors, see
        // `current`).
        #[cfg(not(loom))]
        static ME: Arc<Parker> = Parker::registered();
        #[cfg(loom)]
        static ME: Arc<Parker> = Arc::new(Parker::new());
    }

    pub(super) static VTABLE: UnparkerVTable = UnparkerVTable {
        clone: Some(clone),
        unpark,
        drop: Some(drop),
    };

    pub(super) fn current() -> Unparker {
        // `try_with`: a channel may block in a thread-local's destructor, after `ME` is
        // gone; that thread then gets a fresh handle per call, which always wakes it
        // (it parks through `thread::park`, which needs no thread-local). Under loom the
        // handle *is* the parker, so there is no such fallback.
        #[cfg(not(loom))]
        let me = ME
            .try_with(Arc::clone)
            .unwrap_or_else(|_| Arc::new(Parker::detached()));
        #[cfg(loom)]
        let me = ME.with(Arc::clone);
        let data = Arc::into_raw(me) as *const ();
        // SAFETY: the vtable's functions treat `data` as the `Arc<Parker>` made here,
        // and waking a `Parker` is thread-safe.
        unsafe { Unparker::from_raw(data, 0, &VTABLE) }
    }

    unsafe fn clone(data: *const (), tag: usize) -> (*const (), usize) {
        // SAFETY: `data` came from `Arc::into_raw` in `current` and is still owned by the caller.
        unsafe { Arc::increment_strong_count(data as *const Parker) };
        (data, tag)
    }

    unsafe fn unpark(data: *const (), _tag: usize) {
        // SAFETY: the caller's handle keeps the Arc alive.
        let parker = unsafe { &*(data as *const Parker) };
        #[cfg(not(loom))]
        parker.unpark();
        #[cfg(loom)]
        parker.notify();
    }

    unsafe fn drop(data: *const (), _tag: usize) {
        // SAFETY: each handle owns one strong count, released once.
        unsafe { Arc::decrement_strong_count(data as *const Parker) }
    }

    // Out of line: inlined into `park_for`, its thread-local address is computed ahead
    // of every green thread's park too.
    #[cfg(not(loom))]
    #[inline(never)]
    pub(super) fn park(deadline: Option<Instant>) {
        if ME.try_with(|me| me.park(deadline)).is_err() {
            // In a thread-local destructor: the handles are detached ones (`current`),
            // and wake the thread itself.
            match deadline {
                None => thread::park(),
                Some(d) => {
                    let now = Instant::now();
                    if d > now {
                        thread::park_timeout(d - now);
                    }
                }
            }
        }
    }

    #[cfg(loom)]
    pub(super) fn park(deadline: Option<Instant>) {
        match deadline {
            None => ME.with(|me| me.wait()),
            Some(_) => thread::yield_now(),
        }
    }

    pub(super) fn snooze() {
        thread::yield_now();
    }

    #[cfg(not(loom))]
    pub(super) use real::{Parker, blocked};

    #[cfg(loom)]
    pub(super) fn blocked(_out: &mut Vec<(i32, u64)>, _awake: &mut Vec<i32>) {}

    #[cfg(not(loom))]
    mod real {
        //! The OS thread's parker: `std::thread::park` behind a state word.
        //!
        //! The word is `parks << 2 | state`. The thread moves `EMPTY` to `PARKED` (or
        //! `PARKED_TIMED`), counting one park, with a CAS that fails if a token is there
        //! (`NOTIFIED`); an unpark sets `NOTIFIED` with a CAS and calls
        //! `Thread::unpark` only if it took a parked state out; the thread, woken, takes
        //! `NOTIFIED` back to `EMPTY`. So `PARKED` means exactly "parked without a
        //! deadline, and nothing has woken it since": a wake-up on its way is already
        //! `NOTIFIED`. Every state change is one read-modify-write of the word, so they
        //! are totally ordered; Release on the unpark pairs with the thread's Acquire:
        //! it sees what its waker wrote.

        use std::sync::atomic::{AtomicU64, Ordering, fence};
        use std::sync::{Arc, Mutex, Weak};
        use std::thread::{self, Thread};
        use std::time::Instant;

        const STATE: u64 = 0b11;
        const EMPTY: u64 = 0;
        const NOTIFIED: u64 = 1;
        const PARKED: u64 = 2;
        const PARKED_TIMED: u64 = 3;
        const ONE_PARK: u64 = 4;

        /// Every thread's parker, for [`blocked`]; dead threads' entries are pruned as
        /// new threads register.
        static REGISTRY: Mutex<Vec<Weak<Parker>>> = Mutex::new(Vec::new());

        pub(crate) struct Parker {
            thread: Thread,
            /// The kernel's id of the thread (`gettid`), for [`blocked`].
            tid: i32,
            word: AtomicU64,
            /// A handle made in a thread-local destructor, whose thread parks through
            /// `thread::park` directly: its unpark always wakes the thread.
            detached: bool,
        }

        impl Parker {
            /// The calling thread's parker, listed for [`blocked`].
            pub(crate) fn registered() -> Arc<Parker> {
                let me = Arc::new(Parker {
                    thread: thread::current(),
                    // SAFETY: gettid has no preconditions.
                    tid: unsafe { libc::gettid() },
                    word: AtomicU64::new(EMPTY),
                    detached: false,
                });
                let mut all = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
                all.retain(|w| w.strong_count() > 0);
                all.push(Arc::downgrade(&me));
                me
            }

            pub(crate) fn detached() -> Parker {
                Parker {
                    thread: thread::current(),
                    tid: 0,
                    word: AtomicU64::new(EMPTY),
                    detached: true,
                }
            }

            pub(crate) fn unpark(&self) {
                if self.detached {
                    self.thread.unpark();
                    return;
                }
                // Release pairs with the parked thread's Acquire loads.
                let prev = self
                    .word
                    .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |w| {
                        Some(w & !STATE | NOTIFIED)
                    })
                    .unwrap_or_else(|w| w);
                if prev & STATE >= PARKED {
                    self.thread.unpark();
                }
            }

            /// Consumes a token if there is one. Returns whether there was.
            fn take_token(&self) -> bool {
                let mut w = self.word.load(Ordering::Acquire);
                while w & STATE == NOTIFIED {
                    match self.word.compare_exchange_weak(
                        w,
                        w & !STATE,
                        Ordering::Acquire,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => return true,
                        Err(now) => w = now,
                    }
                }
                false
            }

            /// Called on the thread that owns the parker (only it parks).
            pub(crate) fn park(&self, deadline: Option<Instant>) {
                let parked = if deadline.is_none() {
                    PARKED
                } else {
                    PARKED_TIMED
                };
                let mut w = self.word.load(Ordering::Acquire);
                loop {
                    if w & STATE == NOTIFIED {
                        if self.take_token() {
                            return;
                        }
                        w = self.word.load(Ordering::Acquire);
                        continue;
                    }
                    // EMPTY (only this thread parks). Acquire: on failure a token came,
                    // which the next round takes.
                    match self.word.compare_exchange_weak(
                        w,
                        (w & !STATE).wrapping_add(ONE_PARK) | parked,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => break,
                        Err(now) => w = now,
                    }
                }
                if parked == PARKED
                    && let Some(h) = super::super::hooks()
                {
                    // Pairs with the fence of a runtime's deadlock check between its
                    // "I may sleep" flag and its read of this word: either it sees
                    // `PARKED`, or the hook sees the flag and wakes it.
                    fence(Ordering::SeqCst);
                    (h.os_thread_parked)();
                }
                loop {
                    match deadline {
                        None => thread::park(),
                        Some(d) => match d.checked_duration_since(Instant::now()) {
                            Some(left) if !left.is_zero() => thread::park_timeout(left),
                            _ => break,
                        },
                    }
                    if self.take_token() {
                        return;
                    }
                }
                // Timed out: back to EMPTY, unless a token just came (then take it).
                let w = self.word.load(Ordering::Relaxed);
                if w & STATE != PARKED_TIMED
                    || self
                        .word
                        .compare_exchange(w, w & !STATE, Ordering::Acquire, Ordering::Acquire)
                        .is_err()
                {
                    self.take_token();
                }
            }
        }

        /// See `super::super::blocked_os_threads`.
        pub(crate) fn blocked(out: &mut Vec<(i32, u64)>, awake: &mut Vec<i32>) {
            let all = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
            for p in all.iter().filter_map(Weak::upgrade) {
                // SeqCst: read after whatever the caller read before (the states of the
                // green threads that could have woken this one).
                let w = p.word.load(Ordering::SeqCst);
                if w & STATE == PARKED {
                    out.push((p.tid, w));
                } else {
                    awake.push(p.tid);
                }
            }
        }
    }
}
