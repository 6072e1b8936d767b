//! The M: an OS thread that runs Gs — its per-thread state, and how the runtime finds
//! the M it runs on.
//!
//! # Thread-locals
//!
//! A G can resume on another M. LLVM assumes the thread pointer is constant within a
//! function and may keep a thread-local's address across a call, so a thread-local
//! read before a switch may name the wrong M after it. The runtime reads the current
//! M only through [`current_m`], which is never inlined, when it enters from user code;
//! across a switch the M travels in a register instead: whoever resumes a context
//! passes its own M as the return value of that context's `switch` (or as `task_main`'s
//! argument; see `switch.rs`).

use super::g::G;
use super::owned::{OwnedBool, OwnedPtr, OwnedU32};
use super::p::P;
use super::parker::Parker;
use super::queue::Local;
use std::cell::{Cell, UnsafeCell};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};

/// Work a switching context leaves for the one it switches to (`switch.rs`).
#[derive(Clone, Copy)]
pub(crate) enum Pending {
    None,
    /// Commit the park of this G (`State::commit_park`), or requeue it if woken.
    Park(*const G),
    /// Commit the park of this G with a store (`State::commit_park_held`), then release
    /// the lock it held across the switch (`M::held_lock`,
    /// `calls::park_current_unlocking`).
    ParkUnlock(*const G),
    /// Queue this G at the tail of the local run queue.
    Yield(*const G),
    /// This G has exited: free its stack, release its run reference.
    Exit(*const G),
    /// This G came back from a blocking call and found no P (`blocking.rs`), or spawns
    /// faster than its Gs run (`spawn.rs`): queue it on the global queue, where any M
    /// may pick it up.
    Inject(*const G),
}

/// A lock a parking G holds across its switch: the function that releases it, and its
/// argument (`calls::park_current_unlocking`).
pub(crate) type HeldLock = (unsafe fn(*const ()), *const ());

/// An OS thread that runs Gs.
pub(crate) struct M {
    pub(crate) id: usize,
    /// Where the M sleeps without a P; whoever hands it one unparks it.
    pub(crate) parker: Parker,
    /// A P handed over by whoever woke this M (index + 1), or 0.
    pub(crate) nextp: AtomicUsize,
    /// Whether to spin once woken with `nextp`.
    pub(crate) nextspin: AtomicBool,
    /// The OS thread's id (`gettid`), set when the thread starts: for `GOGREEN_WARN`'s
    /// look at the thread's state in `/proc`, and for the dump.
    pub(crate) tid: AtomicI32,
    // Written only by the M's own thread; others read these three as snapshots
    // (`gogreen::stats`, the dump, the deadlock check).
    /// The P held, or null.
    pub(crate) p: OwnedPtr<P>,
    /// The G running, or null on g0.
    pub(crate) curg: OwnedPtr<G>,
    pub(crate) spinning: OwnedBool,
    /// `lock_os_thread` nesting of the running G (`pinned.rs`): while non-zero, the G
    /// never leaves this M.
    pub(crate) locked: OwnedU32,
    // Everything below is touched only by the M's own thread.
    /// g0's saved stack pointer while a G runs.
    pub(crate) g0_sp: UnsafeCell<*mut u8>,
    pub(crate) pending: Cell<Pending>,
    /// The P a blocking call left in its syscall word, to take back on return (null
    /// outside a blocking call, or when the call handed its P off at once).
    pub(crate) oldp: Cell<*const P>,
    /// The sequence number the blocking call left in `oldp`'s syscall word.
    pub(crate) syscall_seq: Cell<u32>,
    /// A G pinned to another M that this M popped: g0 hands this M's P to that M
    /// (`pinned.rs`, "Handing a P back").
    pub(crate) handback: Cell<*const G>,
    /// How to release the lock a G parking with `Pending::ParkUnlock` holds: a function
    /// and its argument. Beside `pending`, not in it: a larger `Pending` is copied
    /// through memory on every switch.
    pub(crate) held_lock: Cell<Option<HeldLock>>,
    /// The G that ran here exited while locked: the M ends its thread.
    pub(crate) exiting: Cell<bool>,
    rng: Cell<u64>,
    /// This M's timeline buffer (`crate::trace`); its own lock says who touches it.
    pub(crate) trace: crate::trace::MTrace,
}

// SAFETY: the Cells are touched only by the M's own thread (see the field comments);
// every other field is thread-safe.
unsafe impl Sync for M {}

impl PartialEq for &'static M {
    fn eq(&self, other: &Self) -> bool {
        ptr::eq(*self, *other)
    }
}

thread_local! {
    static CURRENT: Cell<*const M> = const { Cell::new(ptr::null()) };
}

/// The M this OS thread is, if it is one. Never inlined: see the module docs.
#[inline(never)]
pub(crate) fn current_m() -> Option<&'static M> {
    // SAFETY: Ms are leaked at creation and never freed.
    CURRENT.with(|c| unsafe { c.get().as_ref() })
}

/// The M this OS thread is, or null, for the SIGSEGV handler: a const-initialised
/// thread-local read, async-signal-safe.
pub(crate) fn current_m_raw() -> *const M {
    CURRENT.with(Cell::get)
}

impl M {
    pub(crate) fn new(id: usize) -> Self {
        M {
            id,
            parker: Parker::new(),
            nextp: AtomicUsize::new(0),
            nextspin: AtomicBool::new(false),
            tid: AtomicI32::new(0),
            p: OwnedPtr::new(ptr::null()),
            curg: OwnedPtr::new(ptr::null()),
            spinning: OwnedBool::new(false),
            locked: OwnedU32::new(0),
            g0_sp: UnsafeCell::new(ptr::null_mut()),
            pending: Cell::new(Pending::None),
            oldp: Cell::new(ptr::null()),
            syscall_seq: Cell::new(0),
            handback: Cell::new(ptr::null()),
            held_lock: Cell::new(None),
            exiting: Cell::new(false),
            rng: Cell::new(
                0x9E37_79B9_7F4A_7C15 ^ (id as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9),
            ),
            trace: crate::trace::MTrace::new(id as u32 + 1),
        }
    }

    /// Makes a dead M's struct as good as new, for a new thread.
    ///
    /// # Safety
    /// The M's thread has ended and nothing else refers to it.
    pub(crate) unsafe fn reset(&self) {
        self.nextp.store(0, Ordering::Relaxed);
        self.nextspin.store(false, Ordering::Relaxed);
        self.tid.store(0, Ordering::Relaxed);
        self.p.set(ptr::null());
        self.curg.set(ptr::null());
        self.pending.set(Pending::None);
        self.spinning.set(false);
        self.oldp.set(ptr::null());
        self.locked.set(0);
        self.handback.set(ptr::null());
        self.exiting.set(false);
    }

    /// Makes this OS thread `self`: called first thing on the M's own thread.
    pub(crate) fn bind_thread(&'static self) {
        CURRENT.with(|c| c.set(self));
        // SAFETY: gettid has no preconditions.
        self.tid.store(unsafe { libc::gettid() }, Ordering::Relaxed);
    }

    /// Makes this OS thread a plain one again: called last on an M's thread that ends.
    pub(crate) fn unbind_thread(&self) {
        CURRENT.with(|c| c.set(ptr::null()));
    }

    #[inline]
    pub(crate) fn p(&self) -> Option<&'static P> {
        // SAFETY: Ps live in the runtime, which is never dropped.
        unsafe { self.p.get().as_ref() }
    }

    #[inline]
    pub(crate) fn curg(&self) -> Option<&'static G> {
        // SAFETY: G headers are never freed.
        unsafe { self.curg.get().as_ref() }
    }

    pub(crate) fn rand(&self) -> u64 {
        // xorshift64*
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// The owner's handle on the held P's run queue.
    #[inline]
    pub(crate) fn runq(&self, p: &'static P) -> Local<'static, G> {
        debug_assert!(ptr::eq(self.p.get(), p));
        // SAFETY: this M holds `p`, and uses one Local at a time.
        unsafe { p.runq.local() }
    }
}
