//! The panic hook runs on a segment of its own when the stack is short: printing a
//! backtrace needs about 20 KiB, most of a small green thread's stack.
//!
//! Measured (`examples/stack_budget.rs`, table in `docs/stacks.md`): a panic's
//! unwinding takes 2.4–5.5 KiB of the panicking stack, the default hook another 0.5 KiB
//! without a backtrace — and 15 KiB with one (`RUST_BACKTRACE=1` or `full`), to
//! symbolise it, the first time in a process. Raising every stack's size for the sake of
//! the rare backtrace would cost address space and page tables for a million stacks, so
//! the runtime wraps whatever hook is installed when it starts: when fewer than
//! [`RED_ZONE`] bytes remain, the hook runs on a [`SEGMENT`]-byte `grow` segment. The
//! segment's bottom frame links back to the panicking stack (`arch::start_linked`), so
//! the backtrace still shows where the panic happened.
//!
//! A hook set after the runtime started replaces this one and runs where the panic
//! happened; wrap it in `gogreen::stack::grow` to keep the room.

use super::grow::grow_if_possible;
use std::sync::Once;

/// Less room than this left when a panic starts, and its hook moves to a segment: the
/// deepest hook measured (a first backtrace, 15 KiB) with room to spare.
pub(crate) const RED_ZONE: usize = 32 * 1024;
/// The segment's size.
pub(crate) const SEGMENT: usize = 256 * 1024;

/// Wraps the current panic hook, once per process.
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    // The hook cannot be changed while this thread panics (the runtime may be started
    // by a `Drop` during unwinding): the panic hook then stays as it is.
    if std::thread::panicking() {
        return;
    }
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            grow_if_possible(RED_ZONE, SEGMENT, || previous(info))
        }));
    });
}
