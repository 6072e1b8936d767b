//! `SIGQUIT` (Ctrl-\): print the task dump to stderr and exit with status 2, as a Go
//! program does — installed at start only if the program left the signal's disposition
//! at its default.
//!
//! # Only async-signal-safe work in the handler
//!
//! A dump allocates, takes locks and symbolises: none of that may run in a signal
//! handler, which may have interrupted `malloc` or a lock holder on its own thread. So:
//!
//! 1. At start, the runtime starts a thread, `gogreen-sigquit`, that waits on a futex
//!    word, [`QUIT`] (and records its thread id, so that the deadlock check knows it
//!    for the runtime's own).
//! 2. The handler only stores 1 in the word and makes the `futex` wake-up system call
//!    (an atomic store and a raw system call: async-signal-safe), keeping `errno` as it
//!    found it.
//! 3. The reader wakes, prints `SIGQUIT: quit` and the dump (`dump.rs`) to stderr, and
//!    ends the process with status 2.
//!
//! Rejected: the dump in the handler (not async-signal-safe); sysmon waiting for it —
//! it sleeps on a futex of its own when everything is idle, which is exactly when a
//! stuck program gets its `SIGQUIT`; a pipe (or an eventfd, or `signalfd`) — file
//! descriptors taken at start, from under a program that may be reusing a number it
//! just closed; `signalfd` also needs the signal blocked in every thread, and threads
//! the program starts itself would not have it blocked.
//!
//! A program that installs its own `SIGQUIT` handler (before the runtime starts) keeps
//! it; one that sets it later replaces ours, and the reader then simply never wakes.

use super::dump;
use super::runtime::Runtime;
use std::io::Write as _;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

/// 1 once a `SIGQUIT` came: the futex word the reader waits on.
static QUIT: AtomicU32 = AtomicU32::new(0);

/// The reader thread's kernel id; 0 until it runs.
static READER_TID: AtomicI32 = AtomicI32::new(0);

/// The reader thread's kernel id, or 0 if there is none.
pub(crate) fn reader_tid() -> i32 {
    READER_TID.load(Ordering::Acquire)
}

/// Whether `tid` is the reader thread (for the deadlock check).
pub(crate) fn is_reader(tid: i32) -> bool {
    tid != 0 && READER_TID.load(Ordering::Acquire) == tid
}

/// Steps 1 and 2's installation, if `SIGQUIT` still has its default disposition.
/// Returns once the reader thread has recorded its id. If the thread cannot be
/// started, the default (a core dump) stays in place: the runtime works on without it.
pub(crate) fn install(rt: &'static Runtime) {
    // SAFETY: a zeroed sigaction is a valid out-parameter; querying changes nothing.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers; a null new action only reads the current one.
    if unsafe { libc::sigaction(libc::SIGQUIT, std::ptr::null(), &mut old) } != 0
        || old.sa_sigaction != libc::SIG_DFL
    {
        return;
    }
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let reader = std::thread::Builder::new()
        .name("gogreen-sigquit".into())
        .spawn(move || {
            // SAFETY: gettid has no preconditions.
            READER_TID.store(unsafe { libc::gettid() }, Ordering::Release);
            let _ = started_tx.send(());
            wait_and_dump(rt)
        });
    if reader.is_err() || started_rx.recv().is_err() {
        return;
    }
    // SAFETY: a zeroed sigaction with a handler and an empty mask is valid.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = handler as *const () as libc::sighandler_t;
    action.sa_flags = libc::SA_RESTART;
    // SAFETY: `action` is initialised; the handler is async-signal-safe (step 2).
    unsafe {
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGQUIT, &action, std::ptr::null_mut());
    }
}

/// Step 2: async-signal-safe — an atomic store, the `futex` system call, and `errno`
/// saved and restored.
extern "C" fn handler(_: libc::c_int) {
    // Release pairs with the reader's Acquire load (nothing else to publish, but the
    // word must be seen before the wake-up's effect).
    QUIT.store(1, Ordering::Release);
    // SAFETY: `__errno_location` returns this thread's errno; FUTEX_WAKE on a static
    // word reads nothing else.
    unsafe {
        let errno = libc::__errno_location();
        let saved = *errno;
        libc::syscall(
            libc::SYS_futex,
            QUIT.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            1,
        );
        *errno = saved;
    }
}

/// Step 3, on the reader thread.
fn wait_and_dump(rt: &'static Runtime) -> ! {
    while QUIT.load(Ordering::Acquire) == 0 {
        // SAFETY: FUTEX_WAIT on a static word, no timeout: returns when woken, on a
        // signal, or at once if the word is no longer 0.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                QUIT.as_ptr(),
                libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                0u32,
                std::ptr::null::<libc::timespec>(),
            );
        }
    }
    let text = format!("SIGQUIT: quit\n\n{}", dump::write(rt));
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
    std::process::exit(2)
}
