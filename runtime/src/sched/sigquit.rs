//! `SIGQUIT` (Ctrl-\): print the task dump to stderr and exit with status 2, as a Go
//! program does — installed at start only if the program left the signal's disposition
//! at its default.
//!
//! # Only async-signal-safe work in the handler
//!
//! A dump allocates, takes locks and symbolises: none of that may run in a signal
//! handler, which may have interrupted `malloc` or a lock holder on its own thread. So:
//!
//! 1. At start, the runtime makes a pipe and a reader thread, `gogreen-sigquit`, that
//!    blocks in `read` on it (and records its thread id, so that the deadlock check
//!    knows it for the runtime's own).
//! 2. The handler only `write`s one byte to the pipe (async-signal-safe), keeping
//!    `errno` as it found it.
//! 3. The reader wakes, prints `SIGQUIT: quit` and the dump (`dump.rs`) to stderr, and
//!    ends the process with status 2.
//!
//! Rejected: the dump in the handler (not async-signal-safe); sysmon reading the pipe —
//! it sleeps on a futex when everything is idle, which is exactly when a stuck program
//! gets its `SIGQUIT`; `signalfd` — it needs the signal blocked in every thread, and
//! threads the program starts itself would not have it blocked.
//!
//! A program that installs its own `SIGQUIT` handler (before the runtime starts) keeps
//! it; one that sets it later replaces ours, and the reader then simply never wakes.

use super::dump;
use super::runtime::Runtime;
use std::io::Write as _;
use std::sync::atomic::{AtomicI32, Ordering};

/// The pipe's write end, for the handler; -1 until installed.
static PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);

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
/// Returns once the reader thread has recorded its id. Failures leave the default
/// (core dump) in place, silently: the runtime works on without it.
pub(crate) fn install(rt: &'static Runtime) {
    // SAFETY: a zeroed sigaction is a valid out-parameter; querying changes nothing.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers; a null new action only reads the current one.
    if unsafe { libc::sigaction(libc::SIGQUIT, std::ptr::null(), &mut old) } != 0
        || old.sa_sigaction != libc::SIG_DFL
    {
        return;
    }
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return;
    }
    let (read_end, write_end) = (fds[0], fds[1]);
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let reader = std::thread::Builder::new()
        .name("gogreen-sigquit".into())
        .spawn(move || {
            // SAFETY: gettid has no preconditions.
            READER_TID.store(unsafe { libc::gettid() }, Ordering::Release);
            let _ = started_tx.send(());
            wait_and_dump(rt, read_end)
        });
    if reader.is_err() || started_rx.recv().is_err() {
        // SAFETY: our own descriptors, used by nobody else.
        unsafe {
            libc::close(read_end);
            libc::close(write_end);
        }
        return;
    }
    PIPE_WRITE.store(write_end, Ordering::Release);
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

/// Step 2: async-signal-safe — an atomic load, `write`, and `errno` saved and restored.
extern "C" fn handler(_: libc::c_int) {
    let fd = PIPE_WRITE.load(Ordering::Relaxed);
    if fd < 0 {
        return;
    }
    // SAFETY: `__errno_location` returns this thread's errno; `write` of one byte from
    // a static to our pipe's descriptor.
    unsafe {
        let errno = libc::__errno_location();
        let saved = *errno;
        libc::write(fd, b"q".as_ptr().cast(), 1);
        *errno = saved;
    }
}

/// Step 3, on the reader thread.
fn wait_and_dump(rt: &'static Runtime, fd: libc::c_int) -> ! {
    let mut byte = 0u8;
    loop {
        // SAFETY: reads one byte into `byte` from our pipe.
        let n = unsafe { libc::read(fd, (&raw mut byte).cast(), 1) };
        if n == 1 {
            break;
        }
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        // The write end is never closed once installed; should the read fail anyway,
        // this thread parks for good rather than spin.
        loop {
            std::thread::park();
        }
    }
    let text = format!("SIGQUIT: quit\n\n{}", dump::write(rt));
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
    std::process::exit(2)
}
