//! Backtraces of suspended contexts: a parked green thread's frames, read from the
//! stack pointer its last switch saved.
//!
//! # How
//!
//! A suspended context is a stack pointer, under which `arch::switch` saved the
//! callee-saved registers and above which lies the return address into the code that
//! switched away (the picture at the top of `arch/x86_64.rs`). Unwinding from there
//! takes the DWARF call-frame information every Rust function has (release builds
//! keep it; frame pointers are off by default, so a frame-pointer walk would not do).
//!
//! Rather than unwind by hand, the runtime lets std's own unwinder do it, from a stack
//! that *leads* there: it starts a context on a fresh segment with `arch::start_linked`,
//! whose bottom frame's unwind information reads the caller's saved stack pointer from
//! the word at the top of the segment — the mechanism that lets a panic on a
//! `stack::grow` segment show the frames below it. Here that word is overwritten with
//! the parked context's saved stack pointer, and `std::backtrace::Backtrace` is
//! captured on the segment: the unwinder walks the capture's own frames, crosses the
//! linked bottom frame into the parked context's frames, and stops at its green
//! thread's entry (whose unwind information says "no caller").
//!
//! Rejected: a crate that unwinds from a set of registers (`framehop`), plus one that
//! symbolises (`addr2line`): two dependencies and a few hundred lines of glue to find
//! the loaded objects' unwind tables, for what std's unwinder and symboliser already do
//! once they are on the right stack.
//!
//! # Safety of the read
//!
//! The unwinder reads the parked stack. The caller must hold the context so that
//! nothing resumes it meanwhile: for a green thread, it has taken the G from `WAITING`
//! (`State::seize`), which is the lock on its stack.

use super::{Stack, pool};
use crate::arch;
use std::backtrace::Backtrace;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// The segment the capture runs on: the unwinder and its caches take a few KiB;
/// symbolising, which takes more, happens later, when the `Backtrace` is printed.
const SEGMENT: usize = 64 * 1024;

struct Call {
    /// The parked context's saved stack pointer.
    parked: *mut u8,
    /// The top of the segment: the word below it is what the linked frame reads.
    top: *mut u8,
    result: Option<Backtrace>,
    /// Where the caller's stack was suspended.
    back: *mut u8,
}

/// The frames of the context suspended at `saved_sp`, innermost first, preceded by the
/// capture's own (the caller trims them: everything up to `linked_trampoline`). `None`
/// if no segment could be had.
///
/// # Safety
///
/// `saved_sp` is the saved stack pointer of a context suspended by `arch::switch` (or
/// `arch::start`), on a mapped stack, and the caller holds that context: nothing
/// resumes it until this returns.
pub(crate) unsafe fn of_suspended(saved_sp: *mut u8) -> Option<Backtrace> {
    let segment: Stack = pool::POOL.try_get(SEGMENT)?;
    let mut call = Call {
        parked: saved_sp,
        top: segment.top(),
        result: None,
        back: std::ptr::null_mut(),
    };
    // SAFETY: (1) the segment is mapped and unused, owned by this frame until it is put
    // back below; (2) `entry` catches every panic and ends by switching back to
    // `call.back`, which `start_linked` fills before leaving this stack; (3) `call`
    // and this frame stay put while the segment runs: this frame is suspended, not
    // returned.
    unsafe {
        arch::start_linked(
            &mut call.back,
            segment.top(),
            (&raw mut call).cast(),
            entry,
            std::ptr::null_mut(),
        );
    }
    pool::POOL.put(segment);
    call.result
}

unsafe extern "C" fn entry(arg: *mut (), _: *mut ()) -> ! {
    // SAFETY: `arg` is the `Call` of the suspended `of_suspended` frame.
    let call = unsafe { &mut *arg.cast::<Call>() };
    // The linked bottom frame now names the parked context as its caller (see the
    // module docs). The switch back below uses `call.back`, not this word.
    // SAFETY: the word below the top is the segment's own, written by `start_linked`.
    unsafe { call.top.sub(8).cast::<*mut u8>().write(call.parked) };
    call.result = catch_unwind(AssertUnwindSafe(Backtrace::force_capture)).ok();
    let mut abandoned = std::ptr::null_mut();
    // SAFETY: `call.back` is the suspended caller; this segment is never resumed.
    unsafe { arch::switch(&mut abandoned, call.back, std::ptr::null_mut()) };
    crate::fatal!("a finished backtrace segment was resumed");
}
