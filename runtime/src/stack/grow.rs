//! Growing a stack on demand: run a closure on a fresh segment when the current one runs low.
//!
//! Rust code holds pointers into its stack, so Go's trick of copying a stack to a bigger
//! one is impossible. Instead, code that may recurse deeply calls
//! [`grow`]`(red_zone, size, f)` at the top of its recursion: when less than `red_zone`
//! bytes remain, `f` runs on a new segment of `size` bytes, switched to with the same
//! assembly as the scheduler's, and the old stack resumes when `f` returns (or panics —
//! the panic continues on the old stack). The segment has its own guard page and is
//! reported like any green-thread stack if it overflows.

use super::{Bounds, PAGE, pool, validate_size};
use crate::arch;
use std::any::Any;
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicPtr, Ordering};

/// How `grow` learns and changes the stack bounds of the running green thread. The
/// scheduler installs these; `get` returns `None` and `set` returns `false` when the
/// caller is not a green thread.
pub(crate) struct BoundsHooks {
    pub(crate) get: fn() -> Option<Bounds>,
    pub(crate) set: fn(Bounds) -> bool,
}

static HOOKS: AtomicPtr<BoundsHooks> = AtomicPtr::new(std::ptr::null_mut());

thread_local! {
    /// The bounds of the stack an OS thread (not a green thread) runs on: its own
    /// stack, read lazily, or a segment `grow` switched it to.
    static OS_BOUNDS: Cell<Bounds> = const { Cell::new(Bounds { guard: 0, size: 0 }) };
    /// Whether the OS thread currently runs on a segment made by `grow`.
    static OS_ON_SEGMENT: Cell<bool> = const { Cell::new(false) };
}

pub(crate) fn install(hooks: &'static BoundsHooks) {
    HOOKS.store(hooks as *const _ as *mut _, Ordering::Release);
}

fn hooks() -> Option<&'static BoundsHooks> {
    // SAFETY: only `&'static BoundsHooks` are stored.
    unsafe { HOOKS.load(Ordering::Acquire).as_ref() }
}

/// Where the calling context's stack lies; `size == 0` if unknown.
fn current_bounds() -> Bounds {
    if let Some(b) = hooks().and_then(|h| (h.get)()) {
        return b;
    }
    let b = OS_BOUNDS.with(Cell::get);
    if b.size != 0 {
        return b;
    }
    let b = os_thread_bounds();
    OS_BOUNDS.with(|c| c.set(b));
    b
}

fn set_bounds(b: Bounds, segment: bool) {
    if hooks().is_some_and(|h| (h.set)(b)) {
        return;
    }
    OS_BOUNDS.with(|c| c.set(b));
    OS_ON_SEGMENT.with(|c| c.set(segment));
}

/// The segment an OS thread runs on, if `grow` put it on one: for the overflow report.
/// Async-signal-safe (a const-initialised thread-local without destructor).
pub(crate) fn os_segment() -> Option<Bounds> {
    if OS_ON_SEGMENT.with(Cell::get) {
        Some(OS_BOUNDS.with(Cell::get))
    } else {
        None
    }
}

fn os_thread_bounds() -> Bounds {
    // SAFETY: pthread_getattr_np fills `attr`, which is destroyed after use; the
    // getters only write into the locals.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return Bounds::default();
        }
        let mut addr: *mut libc::c_void = std::ptr::null_mut();
        let mut size = 0usize;
        let mut guard = 0usize;
        let ok = libc::pthread_attr_getstack(&attr, &mut addr, &mut size) == 0;
        libc::pthread_attr_getguardsize(&attr, &mut guard);
        libc::pthread_attr_destroy(&mut attr);
        if !ok {
            return Bounds::default();
        }
        // `Bounds` knows one guard page, just below the usable stack: the last page of
        // a larger guard area.
        let guard = guard.max(PAGE);
        Bounds {
            guard: addr as usize + guard - PAGE,
            size,
        }
    }
}

#[inline(always)]
fn stack_pointer() -> usize {
    let sp: usize;
    // SAFETY: reads rsp into a register; no memory is touched.
    unsafe {
        std::arch::asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack, preserves_flags))
    };
    sp
}

/// Bytes left between the stack pointer and the guard page of the stack the caller runs
/// on — a green thread's slot, a [`grow`] segment, or an OS thread's stack — or `None`
/// if that stack's bounds are unknown.
///
/// ```
/// let left = gogreen::run(|| gogreen::stack::remaining().unwrap());
/// assert!(left > 0 && left < gogreen::stack::DEFAULT_STACK_SIZE);
/// ```
#[inline]
pub fn remaining() -> Option<usize> {
    let b = current_bounds();
    if b.size == 0 {
        return None;
    }
    Some(stack_pointer().saturating_sub(b.limit()))
}

/// Runs `f`, on a new stack segment of `stack_size` bytes if fewer than `red_zone`
/// bytes of the current stack remain.
///
/// Put it at the top of a recursive function, the way the `stacker` crate is used:
///
/// ```
/// fn depth(n: u64) -> u64 {
///     gogreen::stack::grow(32 * 1024, 1024 * 1024, || if n == 0 { 0 } else { 1 + depth(n - 1) })
/// }
/// assert_eq!(gogreen::run(|| depth(100_000)), 100_000);
/// ```
///
/// Works in green threads and on plain OS threads. A panic in `f` continues on the
/// original stack, after the segment is released.
///
/// # Panics
///
/// If `stack_size` is outside the accepted range (see
/// [`MIN_STACK_SIZE`](super::MIN_STACK_SIZE) and [`MAX_STACK_SIZE`](super::MAX_STACK_SIZE))
/// or the segment cannot be mapped.
#[inline]
pub fn grow<R, F: FnOnce() -> R>(red_zone: usize, stack_size: usize, f: F) -> R {
    let b = current_bounds();
    if b.size == 0 || stack_pointer().saturating_sub(b.limit()) >= red_zone {
        return f();
    }
    on_new_segment(stack_size, f)
}

struct Call<F, R> {
    f: Option<F>,
    result: Option<Result<R, Box<dyn Any + Send>>>,
    /// Where the original stack was suspended.
    back: *mut u8,
}

#[inline(never)]
fn on_new_segment<R, F: FnOnce() -> R>(stack_size: usize, f: F) -> R {
    let size = validate_size(stack_size).unwrap_or_else(|e| panic!("gogreen::stack::grow: {e}"));
    let segment = pool::POOL
        .get(size)
        .unwrap_or_else(|e| panic!("gogreen::stack::grow: cannot map a {size}-byte segment: {e}"));
    on_segment(segment, f)
}

/// Runs `f` on a segment of `size` bytes (validated) if fewer than `red_zone` bytes of
/// the current stack remain and a segment can be had without waiting; else runs it
/// where it is. Never panics by itself: for the panic hook (`panic.rs`).
pub(crate) fn grow_if_possible<R, F: FnOnce() -> R>(red_zone: usize, size: usize, f: F) -> R {
    let b = current_bounds();
    if b.size == 0 || stack_pointer().saturating_sub(b.limit()) >= red_zone {
        return f();
    }
    match pool::POOL.try_get(size) {
        Some(segment) => on_segment(segment, f),
        None => f(),
    }
}

/// Runs `f` on `segment`, then gives the segment back.
#[inline(never)]
fn on_segment<R, F: FnOnce() -> R>(segment: super::Stack, f: F) -> R {
    let before = (current_bounds(), OS_ON_SEGMENT.with(Cell::get));
    set_bounds(segment.bounds(), true);
    let mut call = Call {
        f: Some(f),
        result: None,
        back: std::ptr::null_mut(),
    };
    // SAFETY: (1) the segment is a mapped, unused stack owned by this frame until it is
    // put back below; (2) `entry` catches every panic and ends by switching back to
    // `call.back`, which `start_linked` fills before leaving this stack; (3) `call` and
    // this frame outlive the segment's whole run because this frame is suspended, not
    // returned, meanwhile — as `start_linked` requires.
    unsafe {
        arch::start_linked(
            &mut call.back,
            segment.top(),
            (&raw mut call).cast(),
            entry::<F, R>,
            std::ptr::null_mut(),
        );
    }
    set_bounds(before.0, before.1);
    pool::POOL.put(segment);
    match call.result.take() {
        Some(Ok(r)) => r,
        Some(Err(payload)) => resume_unwind(payload),
        None => crate::fatal!("a stack segment returned without a result"),
    }
}

unsafe extern "C" fn entry<F: FnOnce() -> R, R>(arg: *mut (), _: *mut ()) -> ! {
    // SAFETY: `arg` is the `Call` of the suspended `on_new_segment` frame.
    let call = unsafe { &mut *arg.cast::<Call<F, R>>() };
    let Some(f) = call.f.take() else {
        crate::fatal!("a stack segment was entered twice")
    };
    call.result = Some(catch_unwind(AssertUnwindSafe(f)));
    let mut abandoned = std::ptr::null_mut();
    // SAFETY: `call.back` is the suspended original stack; this segment is never
    // resumed, so its saved pointer goes nowhere.
    unsafe { arch::switch(&mut abandoned, call.back, std::ptr::null_mut()) };
    crate::fatal!("a finished stack segment was resumed");
}
