//! The park seam: the one place where a blocked operation waits, and where it is woken.
//!
//! The channel crate knows nothing of the scheduler. Every blocking operation goes
//! through three calls — [`current`] ("give me a handle that wakes me"), [`park`]
//! ("sleep until woken or until a deadline") and [`snooze`] ("let someone else run
//! for a moment") — and this module decides who "me" is:
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

use std::fmt;
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

/// The functions behind an [`Unparker`]; see [`Unparker::from_raw`].
pub struct UnparkerVTable {
    /// Returns the `(data, tag)` of a new handle to the same context.
    pub clone: unsafe fn(*const (), usize) -> (*const (), usize),
    /// Wakes the context, or leaves it a token if it is not parked.
    pub unpark: unsafe fn(*const (), usize),
    /// Releases whatever the handle owns.
    pub drop: unsafe fn(*const (), usize),
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
    /// valid for the same vtable.
    pub unsafe fn from_raw(data: *const (), tag: usize, vtable: &'static UnparkerVTable) -> Self {
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
        // SAFETY: `from_raw`'s contract.
        let (data, tag) = unsafe { (self.vtable.clone)(self.data, self.tag) };
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
        // SAFETY: `from_raw`'s contract; each handle is dropped once.
        unsafe { (self.vtable.drop)(self.data, self.tag) }
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

/// What a green-thread runtime plugs into the seam; see [`install`].
///
/// Each function answers for the *calling* context: `current` returns `None` and
/// `park`/`snooze` return `false` when the caller is not a green thread, and the seam
/// then falls back to the OS thread.
pub struct Hooks {
    /// An unparker for the calling green thread.
    pub current: fn() -> Option<Unparker>,
    /// Parks the calling green thread until it is unparked (or holds a token), or
    /// until the deadline passes.
    pub park: fn(Option<Instant>) -> bool,
    /// Lets other green threads run before the caller continues.
    pub snooze: fn() -> bool,
}

static HOOKS: AtomicPtr<Hooks> = AtomicPtr::new(std::ptr::null_mut());

/// Plugs a green-thread runtime into the seam. One runtime per process: a second call
/// with other hooks returns `Err` and leaves the first in place.
pub fn install(hooks: &'static Hooks) -> Result<(), &'static Hooks> {
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
    if let Some(u) = hooks().and_then(|h| (h.current)()) {
        return u;
    }
    os::current()
}

/// Parks the caller until unparked or until `deadline`; may return spuriously.
#[inline]
pub fn park(deadline: Option<Instant>) {
    if let Some(h) = hooks()
        && (h.park)(deadline)
    {
        return;
    }
    os::park(deadline)
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
    //! OS threads park through `std::thread::park`. Under loom each thread parks on its own
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
    use std::{thread, thread::Thread as Parker, thread_local};

    thread_local! {
        // One allocation per thread; every unparker for it shares the Arc, so
        // `will_wake` can compare pointers (except in thread-local destructors, see
        // `current`).
        #[cfg(not(loom))]
        static ME: Arc<Parker> = Arc::new(thread::current());
        #[cfg(loom)]
        static ME: Arc<Parker> = Arc::new(Parker::new());
    }

    pub(super) static VTABLE: UnparkerVTable = UnparkerVTable {
        clone,
        unpark,
        drop,
    };

    pub(super) fn current() -> Unparker {
        // `try_with`: a channel may block in a thread-local's destructor, after `ME` is
        // gone; that thread then gets a fresh handle per call (it parks through
        // `thread::park`, which needs no thread-local, so the handle still wakes it).
        // Under loom the handle *is* the parker, so there is no such fallback.
        #[cfg(not(loom))]
        let me = ME
            .try_with(Arc::clone)
            .unwrap_or_else(|_| Arc::new(thread::current()));
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

    #[cfg(not(loom))]
    pub(super) fn park(deadline: Option<Instant>) {
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
}
