//! Scoped green threads: `scope(|s| ..)` spawns green threads that borrow from the
//! caller, and joins every one of them before it returns.
//!
//! # The protocol
//!
//! 1. `scope` keeps a [`Scope`] on its own stack: the count of running threads
//!    (`count.rs`, one word with the owner's `WAITING` bit), a flag for a panic
//!    nobody joined, and an unparker for itself (the *owner*).
//! 2. `Scope::spawn` counts the thread (+1) *before* spawning it, then spawns a green
//!    thread whose [`Job`] points to a shared [`Packet`]: the closure, a slot for its
//!    result, and a reference to the `Scope`. The handle keeps the other reference to
//!    the packet.
//! 3. The thread takes the closure, runs it under `catch_unwind`, stores the result,
//!    and drops its reference to the packet. If the handle was dropped already, that
//!    drops the result (a panic nobody will join raises the scope's flag). Last, it
//!    copies the owner's unparker and counts itself out (-1); if it was the last and
//!    the word had `WAITING`, it unparks the owner. After counting itself out it
//!    touches nothing the scope owns: the owner may already have returned.
//! 4. `scope` runs the body under `catch_unwind`, then sets `WAITING`; if the count
//!    was not zero, it parks until it is. Then it re-raises the body's panic, or
//!    panics if the flag is up, or returns the body's value.
//!
//! Every step that can end a thread goes through step 3's tail (a guard whose `Drop`
//! counts out): a panicking result destructor, or a task dropped without running (the
//! spawn failed, or no stack could be had at its first run). So the count always comes
//! back to zero, and `scope` never returns while a thread still uses a borrow.
//!
//! Why a count and not a join of every handle: handles may be dropped (detached inside
//! the scope), and a scoped thread may spawn more threads through `&Scope`, so the
//! owner does not know all the handles. Why the thread counts out *after* dropping its
//! packet reference: the result may borrow too, and whoever drops the packet last
//! drops the result; a thread that counted out first could leave the scope's owner
//! running past a result destructor that still reads borrowed data.
//!
//! A handle is joined by joining the green thread (its result is `()`: the real one is
//! in the packet) and then taking the packet's result.

mod count;

use crate::job::{self, AbortOnUnwind, Job};
use crate::task::{Builder, JoinHandle, Task};
use count::Count;
use gogreen_channel::park::{self, Unparker};
use std::cell::UnsafeCell;
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Runs `f` with a [`Scope`] on which it can spawn green threads that borrow from the
/// caller, and waits for all of them before returning.
///
/// Shaped like [`std::thread::scope`]: the threads spawned through `s` (by `f`, or by
/// one another) are all joined before `scope` returns, whether `f` returns or panics.
/// Then, if `f` panicked, its panic continues; else, if a thread panicked and its
/// handle was not joined, `scope` panics; else it returns what `f` returned.
///
/// Works from a green thread (it parks only that green thread while it waits) and from
/// a plain OS thread (it blocks it).
///
/// ```
/// let mut words = vec!["green", "thread"];
/// let mut lengths = Vec::new();
/// gogreen::scope(|s| {
///     let handles: Vec<_> = words.iter().map(|w| s.spawn(move || w.len())).collect();
///     let shout = s.spawn(|| words[0].to_uppercase());
///     lengths = handles.into_iter().map(|h| h.join().unwrap()).collect();
///     assert_eq!(shout.join().unwrap(), "GREEN");
/// });
/// assert_eq!(lengths, [5, 6]);
/// words.push("scope"); // the borrows ended with the scope
/// ```
///
/// The borrow checker sees the threads' borrows as it sees the body's: a thread that
/// mutates a variable excludes every other use of it in the scope,
///
/// ```compile_fail
/// let mut n = 0;
/// gogreen::scope(|s| {
///     s.spawn(|| n += 1);
///     n += 1; // error: `n` is borrowed mutably by the thread until the scope ends
/// });
/// ```
///
/// and a handle cannot leave its scope:
///
/// ```compile_fail
/// let handle = gogreen::scope(|s| s.spawn(|| 1));
/// ```
///
/// # Panics
///
/// As described above, and if a green thread cannot be spawned (no stack can be had;
/// [`Builder::spawn_scoped`] returns that as an error).
#[track_caller]
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let scope = Scope {
        running: Count::new(),
        unjoined_panic: AtomicBool::new(false),
        owner: park::current(),
        scope: PhantomData,
        env: PhantomData,
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| f(&scope)));
    let waiting = AbortOnUnwind("the wait for the green threads of a scope");
    scope.running.wait();
    waiting.disarm();
    match outcome {
        Err(payload) => resume_unwind(payload),
        // Relaxed: ordered by `Count::wait`'s Acquire read of the count, which the raising
        // thread's Release decrement came after.
        Ok(_) if scope.unjoined_panic.load(Ordering::Relaxed) => {
            panic!("a scoped green thread panicked and was not joined")
        }
        Ok(value) => value,
    }
}

/// The scope of [`scope`]: spawn green threads that may borrow anything that outlives
/// it (`'env`).
///
/// `'scope` is the scope itself, which spawned threads may also borrow (to spawn more).
/// Both lifetimes are invariant, as in `std::thread::Scope`, so the compiler cannot
/// shrink `'scope` to let a handle or a borrow escape.
pub struct Scope<'scope, 'env: 'scope> {
    /// Threads spawned and not yet counted out; see `count.rs`.
    running: Count,
    /// Raised when a thread's panic was dropped without being joined. Written before
    /// the raising thread's Release decrement; read by the owner after the count is 0.
    unjoined_panic: AtomicBool,
    /// Wakes the owner. Read by threads, which copy it before counting out.
    owner: Unparker,
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

impl<'scope, 'env> Scope<'scope, 'env> {
    /// Spawns a green thread that may borrow from outside the scope (and the scope
    /// itself), and returns a handle to join it. The scope joins it anyway if the
    /// handle is dropped.
    ///
    /// ```
    /// let mut hits = [0u32; 4];
    /// gogreen::scope(|s| {
    ///     for (i, h) in hits.iter_mut().enumerate() {
    ///         s.spawn(move || *h = i as u32 * 10);
    ///     }
    /// });
    /// assert_eq!(hits, [0, 10, 20, 30]);
    /// ```
    ///
    /// # Panics
    ///
    /// If no stack can be had; use [`Builder::spawn_scoped`] to get that as an error.
    #[track_caller]
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        Builder::new()
            .spawn_scoped(self, f)
            .unwrap_or_else(|e| panic!("gogreen: failed to spawn a scoped green thread: {e}"))
    }
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("running", &self.running.running())
            .field(
                "unjoined_panic",
                &self.unjoined_panic.load(Ordering::Relaxed),
            )
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// Spawns a scoped green thread with these settings: [`Scope::spawn`] with errors
    /// instead of panics.
    ///
    /// ```
    /// let name = String::from("borrowed");
    /// gogreen::scope(|s| {
    ///     let h = gogreen::Builder::new()
    ///         .name("reader")
    ///         .spawn_scoped(s, || name.len())
    ///         .unwrap();
    ///     assert_eq!(h.task().name(), Some("reader"));
    ///     assert_eq!(h.join().unwrap(), 8);
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Builder::spawn`]: `InvalidInput` for a stack size out of range,
    /// `OutOfMemory` when no stack can be had.
    #[track_caller]
    pub fn spawn_scoped<'scope, 'env, F, T>(
        self,
        scope: &'scope Scope<'scope, 'env>,
        f: F,
    ) -> io::Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let packet = Arc::new(Packet {
            scope: ScopeRef {
                running: &scope.running,
                unjoined_panic: &scope.unjoined_panic,
                owner: &scope.owner,
            },
            f: UnsafeCell::new(Some(f)),
            result: UnsafeCell::new(None),
        });
        scope.running.count_in();
        let theirs = Arc::into_raw(Arc::clone(&packet));
        // SAFETY: `packet_run` or `packet_abandon` is called once, each of which owns
        // the reference `theirs` and counts the thread out as its very last act. Until
        // then the count is above zero, so the scope's owner has not returned and
        // everything `'scope` and `'env` borrows is alive. The packet's `Sync`
        // argument covers the sharing of its cells; `F` and `T` are `Send`.
        let job = unsafe { Job::new(theirs.cast(), packet_run::<F, T>, packet_abandon::<F, T>) };
        match job::spawn(self, job) {
            Ok(inner) => Ok(ScopedJoinHandle {
                inner,
                packet,
                _scope: PhantomData,
            }),
            Err(e) => {
                // The spawn dropped the job: `packet_abandon` stored a failure (so a
                // joiner would see one) and counted out. The failure is returned here
                // instead; without this it would count as a panic nobody joined.
                // SAFETY: the job is gone, so this is the packet's last other user.
                drop(unsafe { (*packet.result.get()).take() });
                Err(e)
            }
        }
    }
}

/// The scope's fields a thread uses, without the scope's lifetimes (which would make
/// the packet invariant in them too). Copied out of the packet by the thread, so the
/// packet can go before the thread counts out.
#[derive(Clone, Copy)]
struct ScopeRef<'scope> {
    running: &'scope Count,
    unjoined_panic: &'scope AtomicBool,
    owner: &'scope Unparker,
}

/// What a scoped thread and its handle share: the closure (until the thread takes it),
/// and the result (from when the thread stores it until the handle takes it or the
/// last reference drops it).
struct Packet<'scope, F, T> {
    scope: ScopeRef<'scope>,
    /// Taken by the thread (or dropped with the packet if it never ran).
    f: UnsafeCell<Option<F>>,
    /// Written by the thread before its task completes; read by the handle after
    /// `join` saw it complete (the task's Release/Acquire join word orders the two).
    result: UnsafeCell<Option<std::thread::Result<T>>>,
}

// SAFETY: the cells are never used by two threads at once: `f` only by the thread (or
// by whoever drops the packet last, when nobody else holds it); `result` by the thread
// until its task completes, then by the handle's owner (see the field docs). `F` and
// `T` move between threads, hence `Send`.
unsafe impl<F: Send, T: Send> Sync for Packet<'_, F, T> {}

impl<F, T> Drop for Packet<'_, F, T> {
    fn drop(&mut self) {
        // A panic nobody joined. Relaxed: the dropper counts out (or is the owner or a
        // counted thread) after this, with Release.
        if matches!(self.result.get_mut(), Some(Err(_))) {
            self.scope.unjoined_panic.store(true, Ordering::Relaxed);
        }
    }
}

/// The handle's view of a packet: its result, whatever the closure type.
trait ResultSlot<T>: Send + Sync {
    fn slot(&self) -> &UnsafeCell<Option<std::thread::Result<T>>>;
}

impl<F: Send, T: Send> ResultSlot<T> for Packet<'_, F, T> {
    fn slot(&self) -> &UnsafeCell<Option<std::thread::Result<T>>> {
        &self.result
    }
}

/// Counts a thread out when dropped: the tail of step 3, also on unwinding.
struct CountOut<'a, 'scope>(&'a ScopeRef<'scope>);

impl Drop for CountOut<'_, '_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // A result destructor panicked: nobody can join that panic.
            self.0.unjoined_panic.store(true, Ordering::Relaxed);
        }
        self.0.running.count_out(self.0.owner);
    }
}

/// The job of a scoped green thread (step 3).
///
/// # Safety
///
/// `data` is the thread's reference to a `Packet<F, T>` (from `Arc::into_raw`), whose
/// scope still counts this thread; called once.
unsafe fn packet_run<F: FnOnce() -> T, T>(data: *const ()) {
    let data = data.cast::<Packet<'_, F, T>>();
    // Counted out last, on every path: declared before the packet, so dropped after it
    // even when unwinding.
    // SAFETY: the thread's reference keeps the packet alive.
    let scope = unsafe { (*data).scope };
    let _count_out = CountOut(&scope);
    // SAFETY: per the contract: this takes over the thread's reference.
    let packet = unsafe { Arc::from_raw(data) };
    // SAFETY: only this thread touches `f` while the packet is shared.
    let f =
        unsafe { (*packet.f.get()).take() }.expect("gogreen: fatal: a scoped closure ran twice");
    let result = catch_unwind(AssertUnwindSafe(f));
    // SAFETY: the handle reads `result` only after this task completes.
    unsafe { *packet.result.get() = Some(result) };
    drop(packet);
}

/// The scoped thread was dropped without running: record a failure for its joiner and
/// count it out.
///
/// # Safety
///
/// As `packet_run`.
unsafe fn packet_abandon<F, T>(data: *const ()) {
    let data = data.cast::<Packet<'_, F, T>>();
    // As in `packet_run`.
    // SAFETY: the thread's reference keeps the packet alive.
    let scope = unsafe { (*data).scope };
    let _count_out = CountOut(&scope);
    // SAFETY: per the contract: this takes over the thread's reference.
    let packet = unsafe { Arc::from_raw(data) };
    // SAFETY: the thread never ran, and nobody else touches the cells while it is
    // counted: the handle does not exist yet, or waits for the task to complete, or
    // only drops its reference. The failure goes in before the closure is dropped, so
    // a panicking destructor still leaves the joiner a result.
    unsafe {
        *packet.result.get() = Some(Err(Box::new(
            "gogreen: the scoped green thread could not start (no stack)",
        )));
        drop((*packet.f.get()).take());
    }
    drop(packet);
}

/// An owned permission to join a scoped green thread. Dropping it detaches the thread
/// until the end of the scope, which joins it anyway.
pub struct ScopedJoinHandle<'scope, T> {
    inner: JoinHandle<()>,
    packet: Arc<dyn ResultSlot<T> + 'scope>,
    _scope: PhantomData<&'scope ()>,
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Waits for the thread to finish and returns its result, or `Err` with the panic
    /// payload if it panicked (then the scope does not panic for it). Parks only the
    /// green thread when called in one; blocks the OS thread otherwise.
    pub fn join(self) -> std::thread::Result<T> {
        // Whatever the inner task says: the packet has the closure's own outcome, and a
        // task that never ran left a failure there (`packet_abandon`).
        let _ = self.inner.join();
        // SAFETY: the task completed (join returned), so its thread no longer touches
        // `result`, and its write is visible (the join word's Acquire).
        unsafe { (*self.packet.slot().get()).take() }
            .expect("gogreen: fatal: a scoped green thread completed without a result")
    }

    /// Whether the thread has finished (its result is ready).
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }

    /// The task this handle joins.
    pub fn task(&self) -> &Task {
        self.inner.task()
    }
}

impl<T> fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedJoinHandle")
            .field("task", self.task())
            .finish_non_exhaustive()
    }
}
