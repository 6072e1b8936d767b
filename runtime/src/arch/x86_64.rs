//! The context switch for x86_64 (System V ABI), in assembly.
//!
//! A suspended context is nothing but a stack pointer: everything the ABI says a callee
//! must preserve is pushed onto the context's own stack before the switch and popped
//! after it. Caller-saved registers need no saving: `switch` is an ordinary call, so the
//! compiler has already spilled whatever it needs across it.
//!
//! What is saved: rbx, rbp, r12–r15 (callee-saved general registers), the return
//! address (pushed by the `call` into `switch`), MXCSR (SSE rounding mode and exception
//! masks) and the x87 control word — the two floating-point control registers the ABI
//! also makes callee-saved. Boost.Context saves both; a green thread that changes its
//! rounding mode must not change it for the next green thread on the same OS thread.
//!
//! The stack of a suspended context, as `switch` leaves it (addresses grow upwards,
//! the saved stack pointer points at the lowest line):
//!
//! ```text
//!            +------------------------+
//!            | caller's frame         |
//!            +------------------------+
//!  sp + 56   | return address         |  pushed by `call switch`
//!  sp + 48   | rbp                    |
//!  sp + 40   | rbx                    |
//!  sp + 32   | r12                    |
//!  sp + 24   | r13                    |
//!  sp + 16   | r14                    |
//!  sp +  8   | r15                    |
//!  sp +  4   | x87 control word (16b) |
//!  sp +  0   | MXCSR (32b)            |  <- saved stack pointer
//!            +------------------------+
//! ```
//!
//! A fresh stack holds nothing at all until its context starts: [`start`] moves the
//! stack pointer to the (16-byte aligned) top and calls the entry function from
//! [`trampoline`], so the first write to a new stack — and the page fault that brings
//! its top page in — happens on the thread that runs the new context, not on the one
//! that created it. The stack of a running fresh context:
//!
//! ```text
//!  top       +------------------------+  16-byte aligned, end of the slot
//!  top -  8  | return into trampoline |  pushed by `call r13`; its CFI says "no caller"
//!            +------------------------+
//!            | entry's frame ...      |
//! ```
//!
//! [`start_linked`] starts a context the same way for `stack::grow` segments, leaving
//! its starter's stack pointer at the top of the new stack, where the unwind info of its
//! bottom frame finds it: backtraces cross from the segment into the starter's frames.

use core::arch::naked_asm;

/// The instructions that suspend the running context, shared by [`switch`] and
/// [`start`]: push the callee-saved state in the layout drawn above and store the stack
/// pointer in `[rdi]`. The two FP control registers share one 8-byte slot, keeping rsp
/// 16-aligned relative to the call site: 8 (return address) + 6 * 8 + 8 = 64.
macro_rules! save_context {
    () => {
        concat!(
            "push rbp\n",
            "push rbx\n",
            "push r12\n",
            "push r13\n",
            "push r14\n",
            "push r15\n",
            "sub rsp, 8\n",
            "stmxcsr [rsp]\n",
            "fnstcw [rsp + 4]\n",
            "mov [rdi], rsp\n",
        )
    };
}

/// Suspends the running context and resumes another, handing it `arg`.
///
/// Saves the callee-saved state on the current stack, stores the stack pointer into
/// `*save`, then loads `load` — a stack pointer that `switch` stored earlier — restores
/// that context's state and returns into it, where the `switch` call returns `arg`.
/// Returns when some later `switch` loads the pointer stored in `*save`, with that
/// switch's `arg`. (The scheduler passes the resuming M: a G that resumed on another
/// OS thread learns which without reading a thread-local.)
///
/// # Safety
///
/// `load` must be a stack pointer saved by `switch` (or [`start`]) whose context has not
/// been resumed since, on a stack that is still mapped; `save` must be valid for a write.
/// No Rust panic may unwind through a switch.
#[unsafe(naked)]
pub unsafe extern "C" fn switch(save: *mut *mut u8, load: *mut u8, arg: *mut ()) -> *mut () {
    naked_asm!(
        // rdi = save, rsi = load, rdx = arg (System V argument registers).
        save_context!(),
        // The return value of the other context's `switch` call. rax is caller-saved:
        // nothing below touches it.
        "mov rax, rdx",
        // From here on we run on the other context's stack.
        "mov rsp, rsi",
        "ldmxcsr [rsp]",
        "fldcw [rsp + 4]",
        "add rsp, 8",
        "pop r15",
        "pop r14",
        "pop r13",
        "pop r12",
        "pop rbx",
        "pop rbp",
        // Returns to whoever called `switch` (or `start`) in that context.
        "ret",
    )
}

/// Suspends the running context and starts a new one on a fresh stack.
///
/// Saves the current context exactly like [`switch`] (into `*save`), then moves the
/// stack pointer to `top` and calls `entry(arg, arg2)` through [`trampoline`]. `entry`
/// never returns; it ends by switching away for good. A later `switch` to the saved
/// context returns there its own `arg`, as from a `switch` call.
///
/// # Safety
///
/// `top` must be the 16-byte aligned upper end of a mapped, otherwise unused stack large
/// enough for `entry`; `save` must be valid for a write; `entry` must never return or
/// unwind.
#[unsafe(naked)]
pub unsafe extern "C" fn start(
    save: *mut *mut u8,
    top: *mut u8,
    arg: *mut (),
    entry: unsafe extern "C" fn(*mut (), *mut ()) -> !,
    arg2: *mut (),
) -> *mut () {
    naked_asm!(
        // rdi = save, rsi = top, rdx = arg, rcx = entry, r8 = arg2.
        // Save the current context in the same layout as `switch`, so a later `switch`
        // resumes it by returning from this call.
        save_context!(),
        // Callee-saved registers carry the arguments across the jump: the trampoline
        // must read them after the stack is switched, and these survive anything.
        "mov r12, rdx",
        "mov r13, rcx",
        "mov r14, r8",
        "mov rsp, rsi",
        // A new context starts with the ABI's default floating-point environment
        // (round to nearest, all exceptions masked), not with its creator's. The stores
        // go below `top`, into the new stack's top page, on this thread.
        "mov dword ptr [rsp - 8], 0x1F80",
        "mov word ptr [rsp - 4], 0x037F",
        "ldmxcsr [rsp - 8]",
        "fldcw [rsp - 4]",
        // rbp = 0 ends the frame-pointer chain for debuggers and profilers.
        "xor ebp, ebp",
        "jmp {trampoline}",
        trampoline = sym trampoline,
    )
}

/// Like [`start`], but the new context's bottom frame names the suspended one as its
/// caller, so that a backtrace taken on the new stack — a panic's, a debugger's —
/// continues into the frames that started it. For `stack::grow` segments, whose
/// starter is suspended until the segment finishes; a green thread's stack has no
/// such caller and uses [`start`].
///
/// The word just below `top` holds the suspended context's saved stack pointer, which
/// the unwind info of [`linked_trampoline`] reads:
///
/// ```text
///  top       +------------------------+  16-byte aligned, end of the stack
///  top -  8  | starter's saved sp     |  what `*save` also receives
///  top - 16  | (padding)              |
///  top - 24  | return into trampoline |  pushed by `call r13`
///            +------------------------+
///            | entry's frame ...      |
/// ```
///
/// # Safety
///
/// As for [`start`]; in addition the suspended context must stay suspended, and its
/// stack mapped, for as long as the new context runs.
#[unsafe(naked)]
pub unsafe extern "C" fn start_linked(
    save: *mut *mut u8,
    top: *mut u8,
    arg: *mut (),
    entry: unsafe extern "C" fn(*mut (), *mut ()) -> !,
    arg2: *mut (),
) -> *mut () {
    naked_asm!(
        // As in `start`, up to the move to the new stack.
        save_context!(),
        "mov r12, rdx",
        "mov r13, rcx",
        "mov r14, r8",
        // Leave the saved stack pointer where the trampoline's unwind info looks.
        "mov [rsi - 8], rsp",
        "lea rsp, [rsi - 16]",
        "mov dword ptr [rsp - 8], 0x1F80",
        "mov word ptr [rsp - 4], 0x037F",
        "ldmxcsr [rsp - 8]",
        "fldcw [rsp - 4]",
        "xor ebp, ebp",
        "jmp {trampoline}",
        trampoline = sym linked_trampoline,
    )
}

/// The bottom frame of a context made by [`start_linked`]: calls `r13(r12, r14)`, like
/// [`trampoline`], with unwind info that describes the suspended starter as its caller.
///
/// The canonical frame address (the caller's stack pointer) is computed from the word
/// above this frame, the starter's saved stack pointer `ssp`: `ssp + 64`, just past the
/// return address that the starter's call pushed. Its registers lie in the layout
/// `save_context!` drew at the top of this file, each at a fixed distance below that
/// address.
///
/// # Safety
///
/// Only [`start_linked`] may jump here.
#[unsafe(naked)]
unsafe extern "C" fn linked_trampoline() {
    naked_asm!(
        ".cfi_startproc",
        // DW_CFA_def_cfa_expression, 5 bytes: DW_OP_breg7 (rsp) 8; DW_OP_deref;
        // DW_OP_plus_uconst 64. That is: CFA = [rsp + 8] + 64.
        ".cfi_escape 0x0f, 0x05, 0x77, 0x08, 0x06, 0x23, 0x40",
        // Must match `save_context!`: CFA - 8 is ssp + 56, and so on down.
        ".cfi_offset rip, -8",
        ".cfi_offset rbp, -16",
        ".cfi_offset rbx, -24",
        ".cfi_offset r12, -32",
        ".cfi_offset r13, -40",
        ".cfi_offset r14, -48",
        ".cfi_offset r15, -56",
        "mov rdi, r12",
        "mov rsi, r14",
        // rsp = top - 16: 16-byte aligned, as the ABI requires at a call.
        "call r13",
        "ud2",
        ".cfi_endproc",
    )
}

/// The bottom frame of every fresh context: calls `r13(r12, r14)`.
///
/// Its unwind info marks the return address as undefined, so a backtrace taken inside a
/// green thread ends here instead of wandering into whatever memory lies above the top
/// of the stack. It is only ever entered by the `jmp` in [`start`], with rsp at the
/// aligned top of the stack, r12 and r14 = the arguments, r13 = the entry function.
///
/// # Safety
///
/// Only [`start`] may jump here.
#[unsafe(naked)]
unsafe extern "C" fn trampoline() {
    naked_asm!(
        // Naked functions get no unwind info of their own: describe this frame by hand.
        ".cfi_startproc",
        ".cfi_undefined rip",
        // Must match the registers loaded in `start`.
        "mov rdi, r12",
        "mov rsi, r14",
        // rsp is 16-byte aligned here, as the ABI requires at a call.
        "call r13",
        // `entry` never returns.
        "ud2",
        ".cfi_endproc",
    )
}
