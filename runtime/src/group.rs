//! A task group in the spirit of Go's `errgroup`: spawn many green threads under one
//! context, wait for all; the first error cancels the rest and is returned.
//!
//! Each member runs under `catch_unwind`. The first member to fail (an `Err`, or a
//! panic) records its failure and cancels the group's context; the other members see
//! `done()` close and are expected to stop. `wait` waits for every member (a
//! `WaitGroup`), cancels the context (Go's errgroup does too: the group's work is
//! over), then re-raises the first panic, or returns the first error.
//!
//! A member's count in the `WaitGroup` is given back by a guard that lives in the
//! member's closure, so it comes back even if the member never runs (the spawn failed,
//! or no stack could be had at its first run) and `wait` never hangs on it. A member
//! that never ran counts itself in `never_ran`; the spawner takes its own back when the
//! spawn returns an error, so what is left at `wait` are members lost after a
//! successful spawn, and `wait` reports them as a panic.

use crate::context::{CancelHandle, Context};
use crate::sync::WaitGroup;
use crate::task::Builder;
use parking_lot::Mutex;
use std::any::Any;
use std::fmt;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Spawns green threads that share a [`Context`], and waits for them all; the first
/// member to fail cancels the others.
///
/// Members are closures `FnOnce(Context) -> Result<(), E>` given the group's context.
/// When one returns `Err` or panics, the context is cancelled, so the members that
/// watch it (`done()` in a `select!`, `err()` in a loop) stop early. [`wait`](Group::wait)
/// returns once every member has returned: `Ok` if all succeeded, else the first error;
/// a member's panic continues in the waiter.
///
/// ```
/// use gogreen::{Group, select};
///
/// let group = Group::new();
/// for i in 0..10u32 {
///     group.spawn(move |ctx| {
///         if i == 7 {
///             return Err(format!("member {i} failed"));
///         }
///         // The others wait for work that never comes, or for the group to give up.
///         let work = gogreen::chan::never::<u32>();
///         select! {
///             recv(work) -> _ => Ok(()),
///             recv(ctx.done()) -> _ => Err(format!("member {i} stopped: {}", ctx.err().unwrap())),
///         }
///     });
/// }
/// assert_eq!(group.wait(), Err("member 7 failed".to_string()));
/// ```
///
/// Dropping a group without waiting cancels its context, and leaves its members to
/// finish by themselves.
pub struct Group<E> {
    ctx: Context,
    cancel: CancelHandle,
    shared: Arc<Shared<E>>,
}

struct Shared<E> {
    members: WaitGroup,
    /// The first failure; later ones are dropped. Written by members, taken by `wait`
    /// after every member is done.
    failure: Mutex<Failure<E>>,
    /// Members dropped without running, less those whose spawn returned an error.
    /// Relaxed: read by `wait` after `members.wait()`, which orders it after every
    /// member's `done`.
    never_ran: AtomicUsize,
}

/// What went wrong first: an error, or a panic (which outranks any error: it is
/// re-raised even if an error came first).
struct Failure<E> {
    error: Option<E>,
    panic: Option<Box<dyn Any + Send>>,
}

impl<E: Send + 'static> Group<E> {
    /// A group whose context is a child of the background context: cancelled only by
    /// its own members' failures (or when it is dropped or waited for).
    pub fn new() -> Self {
        Self::with_context(&Context::background())
    }

    /// A group whose context is a child of `parent`: it is also cancelled when
    /// `parent` ends.
    pub fn with_context(parent: &Context) -> Self {
        let (ctx, cancel) = parent.with_cancel();
        Group {
            ctx,
            cancel,
            shared: Arc::new(Shared {
                members: WaitGroup::new(),
                failure: Mutex::new(Failure {
                    error: None,
                    panic: None,
                }),
                never_ran: AtomicUsize::new(0),
            }),
        }
    }

    /// The context the members get: cancelled at the first failure.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// Starts a member: a green thread running `f` with the group's context.
    ///
    /// # Panics
    ///
    /// If no stack can be had; use [`spawn_with`](Group::spawn_with) to get that as an
    /// error.
    #[track_caller]
    pub fn spawn<F>(&self, f: F)
    where
        F: FnOnce(Context) -> Result<(), E> + Send + 'static,
    {
        self.spawn_with(Builder::new(), f)
            .unwrap_or_else(|e| panic!("gogreen: failed to spawn a group member: {e}"));
    }

    /// [`spawn`](Group::spawn) with the settings of `builder` (a name, a stack size).
    ///
    /// # Errors
    ///
    /// As [`Builder::spawn`]; the member then does not count in the group.
    #[track_caller]
    pub fn spawn_with<F>(&self, builder: Builder, f: F) -> io::Result<()>
    where
        F: FnOnce(Context) -> Result<(), E> + Send + 'static,
    {
        // Counted before the spawn: the member may finish before `spawn` returns.
        self.shared.members.add(1);
        let member = Member {
            shared: Arc::clone(&self.shared),
            cancel: self.cancel.clone(),
            ran: false,
        };
        let ctx = self.ctx.clone();
        match builder.spawn(move || member.run(f, ctx)) {
            Ok(_detached) => Ok(()),
            Err(e) => {
                // The closure, and with it the member's guard, was dropped unrun: it
                // counted itself out, and in `never_ran`, which is not for this case.
                self.shared.never_ran.fetch_sub(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// Waits for every member, cancels the context, and returns the first error.
    /// Parks only the green thread when called in one; blocks an OS thread otherwise.
    ///
    /// # Panics
    ///
    /// With the first member's panic, if one panicked (after all have returned).
    pub fn wait(self) -> Result<(), E> {
        self.shared.members.wait();
        self.cancel.cancel();
        let failure = std::mem::replace(
            &mut *self.shared.failure.lock(),
            Failure {
                error: None,
                panic: None,
            },
        );
        if let Some(payload) = failure.panic {
            resume_unwind(payload);
        }
        let lost = self.shared.never_ran.load(Ordering::Relaxed);
        if lost > 0 {
            panic!("gogreen: {lost} group member(s) could not start (no stack could be had)");
        }
        failure.error.map_or(Ok(()), Err)
    }
}

impl<E: Send + 'static> Default for Group<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> Drop for Group<E> {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl<E> fmt::Debug for Group<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group")
            .field("context", &self.ctx)
            .field("members", &self.shared.members.count())
            .finish()
    }
}

/// A member's share of the group: counts the member out when dropped, run or not.
struct Member<E> {
    shared: Arc<Shared<E>>,
    cancel: CancelHandle,
    ran: bool,
}

impl<E> Member<E> {
    fn run<F>(mut self, f: F, ctx: Context)
    where
        F: FnOnce(Context) -> Result<(), E>,
    {
        self.ran = true;
        match catch_unwind(AssertUnwindSafe(|| f(ctx))) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.fail(Some(e), None),
            Err(payload) => self.fail(None, Some(payload)),
        }
    }

    /// Records the first error and the first panic, and cancels the group.
    fn fail(&self, error: Option<E>, panic: Option<Box<dyn Any + Send>>) {
        {
            let mut failure = self.shared.failure.lock();
            if failure.error.is_none() {
                failure.error = error;
            }
            if failure.panic.is_none() {
                failure.panic = panic;
            }
        }
        self.cancel.cancel();
    }
}

impl<E> Drop for Member<E> {
    fn drop(&mut self) {
        if !self.ran {
            self.shared.never_ran.fetch_add(1, Ordering::Relaxed);
        }
        self.shared.members.done();
    }
}
