//! Green threads as the public API sees them: `spawn`, `Builder`, `JoinHandle`, `Task`,
//! and the calls a green thread makes about itself.

use crate::sched::{
    self,
    g::{G, TaskName},
};
use gogreen_channel::park::{self, WaitReason};
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Spawns a green thread running `f`, and returns a handle to join it.
///
/// Works from anywhere: inside a green thread the new one goes to the tail of this
/// processor's run queue (it runs after what is already queued there, or on another
/// processor that steals it); from a plain OS thread it goes to the global queue. The
/// runtime starts on first use.
///
/// A green thread that spawns faster than the spawned ones run is held back: when more
/// than 512 green threads wait on the global queue, the spawning one lets them run
/// before it returns from `spawn` (as if it called [`yield_now`], but behind all of
/// them), so a loop that spawns millions never has millions queued at once.
///
/// ```
/// // From `main` (a plain OS thread) or from another green thread alike.
/// let handles: Vec<_> = (0..10u64).map(|i| gogreen::spawn(move || i * i)).collect();
/// let squares: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
/// assert_eq!(squares[9], 81);
/// ```
///
/// # Panics
///
/// If no stack can be had (address space or mapping limit exhausted); use
/// [`Builder::spawn`] to get that as an error.
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Builder::new()
        .spawn(f)
        .unwrap_or_else(|e| panic!("gogreen: failed to spawn a green thread: {e}"))
}

/// Green-thread settings: a name, a stack size, and whether it keeps one OS thread.
///
/// ```
/// let h = gogreen::Builder::new()
///     .name("parser")
///     .stack_size(256 * 1024) // deep recursion ahead
///     .spawn(|| gogreen::current().unwrap().name().map(str::to_owned))
///     .expect("a stack could be had");
/// assert_eq!(h.join().unwrap().as_deref(), Some("parser"));
///
/// // Bad input is an error, not a panic.
/// let err = gogreen::Builder::new().stack_size(1).spawn(|| ()).unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
/// ```
#[derive(Debug, Default)]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
    locked: bool,
}

impl Builder {
    pub fn new() -> Self {
        Builder::default()
    }

    /// Names the task; the name appears in [`Task::name`] and in overflow reports.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Stack address space in bytes, instead of the runtime's default.
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Locks the green thread to the OS thread it first runs on, for its whole life, as
    /// if its first act were [`lock_os_thread`]. When it ends, so does that thread (its
    /// `thread_local!` values are dropped then).
    pub fn locked(mut self, locked: bool) -> Self {
        self.locked = locked;
        self
    }

    /// Spawns the green thread.
    ///
    /// A spawn that returns `Ok` runs: its stack is promised now and taken when it
    /// first runs. A spawn fails only when no stack is free anywhere and no more can
    /// be made.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a stack size outside
    /// [`MIN_STACK_SIZE`](crate::stack::MIN_STACK_SIZE)..=[`MAX_STACK_SIZE`](crate::stack::MAX_STACK_SIZE);
    /// `OutOfMemory` when no address space can be reserved or the mapping limit is
    /// reached (the message names the limit to raise; without memory even for the
    /// message, a bare `OutOfMemory`).
    ///
    /// The caller's location is the task's spawn location, which `gogreen::dump`
    /// shows.
    #[track_caller]
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let name: Option<TaskName> = self.name.map(Arc::new);
        let g = if self.locked {
            let f = move || {
                lock_os_thread();
                f()
            };
            sched::spawn(f, name.clone(), self.stack_size)?
        } else {
            sched::spawn(f, name.clone(), self.stack_size)?
        };
        Ok(JoinHandle {
            task: Task { id: g.id(), name },
            g,
            _result: PhantomData,
        })
    }
}

/// An owned permission to join a green thread (wait for it and take its result).
///
/// Dropping the handle detaches the task: it runs to the end and its result is dropped.
///
/// ```
/// let ok = gogreen::spawn(|| "done");
/// let failed = gogreen::spawn(|| -> u32 { panic!("no luck") });
/// assert_eq!(ok.join().unwrap(), "done");
/// // A panic comes back as `Err` with its payload, as with `std::thread`.
/// let payload = failed.join().unwrap_err();
/// assert_eq!(payload.downcast_ref::<&str>(), Some(&"no luck"));
/// ```
pub struct JoinHandle<T> {
    g: &'static G,
    task: Task,
    _result: PhantomData<T>,
}

impl<T> JoinHandle<T> {
    /// Waits for the task to finish and returns its result, or `Err` with the panic
    /// payload if it panicked. Parks only the green thread when called in one; blocks
    /// the OS thread otherwise.
    ///
    /// # Panics
    ///
    /// If called by the task it joins, which would wait for itself forever (std's
    /// `join` panics there too, with `EDEADLK`). The handle is dropped: the task is
    /// detached.
    pub fn join(self) -> std::thread::Result<T> {
        if sched::current_g().is_some_and(|me| std::ptr::eq(me, self.g)) {
            // The header is ours while the handle lives, so the running G being it means
            // the running task is the one joined: nobody else can complete it.
            self_join(&self.task);
        }
        let this = ManuallyDrop::new(self);
        let g = this.g;
        if !g.is_complete() {
            // SAFETY: this handle is the only joiner, and joins once.
            if unsafe { g.register_joiner(park::current()) } {
                while !g.is_complete() {
                    park::park_for(None, WaitReason::Join);
                }
            }
        }
        // SAFETY: COMPLETE was observed; T is the task's result type; taken once.
        let result = unsafe { g.take_result::<T>() };
        // SAFETY: `task` is dropped once, here, since `this` is never dropped.
        drop(unsafe { std::ptr::read(&this.task) });
        release(g, true);
        result
    }

    /// Whether the task has finished (its result is ready).
    pub fn is_finished(&self) -> bool {
        self.g.is_complete()
    }

    /// The task this handle joins.
    pub fn task(&self) -> &Task {
        &self.task
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        release(self.g, false);
    }
}

#[cold]
#[inline(never)]
fn self_join(task: &Task) -> ! {
    panic!(
        "gogreen: green thread '{}' (id {}) called join on its own JoinHandle, which would \
         wait forever; join it from another thread",
        task.name().unwrap_or("<unnamed>"),
        task.id()
    )
}

fn release(g: &'static G, result_taken: bool) {
    if g.release_handle(result_taken) {
        sched::free_g(g);
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("task", &self.task)
            .finish_non_exhaustive()
    }
}

/// A green thread's identity: a unique id and an optional name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Task {
    id: u64,
    name: Option<TaskName>,
}

impl Task {
    /// Unique among all tasks of the process, never reused.
    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn name(&self) -> Option<&str> {
        self.name.as_deref().map(String::as_str)
    }
}

/// The task the caller runs in, or `None` on a plain OS thread.
pub fn current() -> Option<Task> {
    sched::current_g().map(|g| Task {
        id: g.id(),
        name: g.name().cloned(),
    })
}

/// Lets the other runnable green threads of this processor run first. On a plain OS
/// thread, yields to the OS scheduler.
pub fn yield_now() {
    if !sched::yield_current() {
        std::thread::yield_now();
    }
}

/// Sleeps for `d`: parks only the green thread when called in one (its OS thread runs
/// others meanwhile); sleeps the OS thread otherwise.
///
/// ```
/// use std::time::{Duration, Instant};
/// // A thousand sleepers share the runtime's few OS threads: about 10 ms in all, not
/// // a thousand times that.
/// let start = Instant::now();
/// let sleepers: Vec<_> = (0..1000)
///     .map(|_| gogreen::spawn(|| gogreen::sleep(Duration::from_millis(10))))
///     .collect();
/// for s in sleepers {
///     s.join().unwrap();
/// }
/// assert!(start.elapsed() >= Duration::from_millis(10));
/// ```
pub fn sleep(d: Duration) {
    if !sched::in_green_thread() {
        std::thread::sleep(d);
        return;
    }
    let deadline = Instant::now().checked_add(d);
    loop {
        // Spurious returns (a stale wake-up token) park again.
        sched::park_current(deadline, WaitReason::Sleep);
        if deadline.is_some_and(|dl| Instant::now() >= dl) {
            return;
        }
    }
}

/// Locks the calling green thread to its OS thread until a matching
/// [`unlock_os_thread`] (Go's `runtime.LockOSThread`; calls nest, each lock needs an
/// unlock).
///
/// While locked, no other green thread runs on that OS thread and this one never moves
/// to another: when it waits (a channel operation, a join, [`sleep`], [`yield_now`]),
/// its OS thread waits with it and its processor goes to another OS thread, so the
/// other green threads keep running. Waiting costs a thread wake-up each way then.
///
/// This is how to hold what std ties to the OS thread across runtime calls: a
/// `thread_local!` reference, `std::thread::current()`, a reentrant lock such as
/// `std::io::stdout().lock()`, an FFI handle that must stay on its thread.
///
/// A green thread that ends while locked ends its OS thread too, so that no other green
/// thread inherits the thread's state (Go does the same): its `thread_local!` values are
/// dropped then.
///
/// On a plain OS thread this does nothing: the thread is its own already.
pub fn lock_os_thread() {
    sched::lock_current();
}

/// Undoes one [`lock_os_thread`]. When none is left the green thread may run on any OS
/// thread again. Unlocking an unlocked green thread, or a plain OS thread, does nothing.
pub fn unlock_os_thread() {
    sched::unlock_current();
}

/// Whether the calling green thread is locked to its OS thread ([`lock_os_thread`]).
/// `false` on a plain OS thread.
pub fn is_os_thread_locked() -> bool {
    sched::is_locked()
}

/// A cheap check for long loops: yields if this green thread has held its processor
/// for more than about 10 ms (sysmon raises the flag). gogreen never interrupts a
/// green thread by itself; call this in CPU-bound loops to keep others on the same
/// processor running.
#[inline]
pub fn preempt_point() {
    sched::preempt_point();
}
