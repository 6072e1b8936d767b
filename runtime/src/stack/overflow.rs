//! Reporting a stack overflow: a SIGSEGV handler that recognises a guard-page hit.
//!
//! A green thread that runs past the end of its stack touches its guard page, and the
//! kernel raises SIGSEGV (`SEGV_MAPERR` for a `MADV_GUARD_INSTALL` guard, `SEGV_ACCERR`
//! for an `mprotect` one — so the handler matches the faulting address, not the code).
//! The handler runs on an alternate signal stack (the faulting stack has no room left),
//! asks the scheduler which green thread runs on this OS thread and where its guard
//! is, and if the address is in that guard writes
//!
//! ```text
//! gogreen: green thread '<name>' (id N) overflowed its stack of K KiB
//! ```
//!
//! with `write(2)` and aborts. Anything else — a null dereference, a guard hit on an
//! OS thread's own stack — goes to the handler that was installed before ours (Rust's
//! standard library has one for thread stacks), or to the default action: a real
//! segfault still looks like one.
//!
//! Everything the handler does is async-signal-safe: atomic loads, a read of a
//! thread-local pointer, plain memory reads, `write`, `sigaction` and `abort`. It never
//! unwinds and never switches contexts.

use super::Bounds;
use std::io;
use std::mem::MaybeUninit;
use std::sync::Once;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// What the handler needs to know about the context running on the faulting thread.
pub(crate) struct Current {
    pub(crate) bounds: Bounds,
    pub(crate) id: u64,
    /// The task's name, borrowed for the duration of the report.
    pub(crate) name: Option<&'static str>,
}

/// Tells the handler which context runs on the calling thread. Must be
/// async-signal-safe. Installed by the scheduler.
pub(crate) type Lookup = fn() -> Option<Current>;

static LOOKUP: AtomicPtr<()> = AtomicPtr::new(std::ptr::null_mut());
static PREVIOUS: AtomicUsize = AtomicUsize::new(0);
static INSTALL: Once = Once::new();

/// Installs the SIGSEGV handler, once per process.
pub(crate) fn install(lookup: Lookup) {
    LOOKUP.store(lookup as *mut (), Ordering::Release);
    INSTALL.call_once(|| {
        // SAFETY: `sigaction` with a zeroed, then filled, struct; the previous action is
        // written to memory we own and kept for chaining.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = handler as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            let previous = Box::into_raw(Box::new(MaybeUninit::<libc::sigaction>::zeroed()));
            if libc::sigaction(libc::SIGSEGV, &action, (*previous).as_mut_ptr()) == 0 {
                PREVIOUS.store(previous as usize, Ordering::Release);
            }
        }
    });
}

/// Gives the calling thread an alternate signal stack unless it has one (threads made
/// by `std::thread` usually do). Called by every OS thread that runs green threads.
pub(crate) fn ensure_altstack() -> io::Result<()> {
    // SAFETY: querying the current altstack writes only into `old`.
    unsafe {
        let mut old: libc::stack_t = std::mem::zeroed();
        if libc::sigaltstack(std::ptr::null(), &mut old) == 0
            && old.ss_flags & libc::SS_DISABLE == 0
        {
            return Ok(());
        }
    }
    let size = (libc::SIGSTKSZ * 4).max(64 * 1024);
    // SAFETY: a fresh anonymous mapping, owned by this thread for its lifetime
    // (`AltStack` unmaps it when the thread exits).
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    let stack = libc::stack_t {
        ss_sp: p,
        ss_flags: 0,
        ss_size: size,
    };
    // SAFETY: the mapping is ours and stays mapped while it is installed: `AltStack`
    // uninstalls it before unmapping it.
    if unsafe { libc::sigaltstack(&stack, std::ptr::null_mut()) } != 0 {
        let e = io::Error::last_os_error();
        // SAFETY: nobody else knows of the fresh mapping.
        unsafe { libc::munmap(p, size) };
        return Err(e);
    }
    // Ms exit (the M of a locked green thread that ends goes with it): the stack must go
    // with the thread, or each M that comes and goes leaks it. If the thread's locals
    // are already being torn down, keep the mapping: a leak, not a fault.
    let _ = ALTSTACK.try_with(|a| a.set(Some(AltStack { base: p, size })));
    Ok(())
}

/// The alternate signal stack `ensure_altstack` made for this thread, unmapped when
/// the thread exits. Touched only by its own thread.
struct AltStack {
    base: *mut libc::c_void,
    size: usize,
}

thread_local! {
    static ALTSTACK: std::cell::Cell<Option<AltStack>> = const { std::cell::Cell::new(None) };
}

impl Drop for AltStack {
    fn drop(&mut self) {
        // Uninstall first: a signal delivered on an unmapped stack would kill the
        // process. A fault in a later thread-local destructor then gets the default
        // action, as on a thread that never had an alternate stack.
        let disable = libc::stack_t {
            ss_sp: std::ptr::null_mut(),
            ss_flags: libc::SS_DISABLE,
            ss_size: 0,
        };
        // SAFETY: disabling this thread's alternate stack, then unmapping the mapping
        // `ensure_altstack` made for it, which nothing else refers to.
        unsafe {
            if libc::sigaltstack(&disable, std::ptr::null_mut()) == 0 {
                libc::munmap(self.base, self.size);
            }
        }
    }
}

extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    let lookup = LOOKUP.load(Ordering::Acquire);
    if !lookup.is_null() {
        // SAFETY: only `Lookup` function pointers are stored in LOOKUP.
        let lookup: Lookup = unsafe { std::mem::transmute::<*mut (), Lookup>(lookup) };
        if let Some(cur) = lookup()
            && cur.bounds.is_guard_hit(addr)
        {
            report(&cur);
        }
    }
    if let Some(segment) = super::grow::os_segment()
        && segment.is_guard_hit(addr)
    {
        report(&Current {
            bounds: segment,
            id: 0,
            name: Some("<OS thread, on a gogreen::stack::grow segment>"),
        });
    }
    chain(sig, info, ctx);
}

fn report(cur: &Current) -> ! {
    let mut msg = Buf::new();
    msg.push(b"gogreen: green thread '");
    msg.push(cur.name.unwrap_or("<unnamed>").as_bytes());
    msg.push(b"' (id ");
    msg.push_u64(cur.id);
    msg.push(b") overflowed its stack of ");
    msg.push_u64((cur.bounds.size / 1024) as u64);
    msg.push(b" KiB\n");
    // SAFETY: write(2) and abort(3) are async-signal-safe; the buffer lives on this stack.
    unsafe {
        libc::write(2, msg.bytes.as_ptr().cast(), msg.len);
        libc::abort();
    }
}

/// Hands a fault that is not ours to whoever handled SIGSEGV before us.
fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let prev = PREVIOUS.load(Ordering::Acquire) as *const libc::sigaction;
    // SAFETY: PREVIOUS holds a leaked, initialised sigaction or null.
    let prev = unsafe { prev.as_ref() };
    match prev {
        Some(p) if p.sa_sigaction != libc::SIG_DFL && p.sa_sigaction != libc::SIG_IGN => {
            if p.sa_flags & libc::SA_SIGINFO != 0 {
                // SAFETY: the previous handler was registered with this signature.
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    unsafe { std::mem::transmute(p.sa_sigaction) };
                f(sig, info, ctx);
            } else {
                // SAFETY: as above, the one-argument form.
                let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(p.sa_sigaction) };
                f(sig);
            }
        }
        _ => {
            // Restore the default action and return: the faulting instruction runs
            // again and the process dies of SIGSEGV, as it would have without us.
            // SAFETY: sigaction with a zeroed struct (SIG_DFL) is async-signal-safe.
            unsafe {
                let mut dfl: libc::sigaction = std::mem::zeroed();
                dfl.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(libc::SIGSEGV, &dfl, std::ptr::null_mut());
            }
        }
    }
}

/// A fixed buffer for building the message without allocating.
struct Buf {
    bytes: [u8; 512],
    len: usize,
}

impl Buf {
    fn new() -> Self {
        Buf {
            bytes: [0; 512],
            len: 0,
        }
    }

    fn push(&mut self, s: &[u8]) {
        let n = s.len().min(self.bytes.len() - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&s[..n]);
        self.len += n;
    }

    fn push_u64(&mut self, mut v: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.push(&digits[i..]);
    }
}
