//! Green-thread stacks: fixed slots carved from large reservations, each with a guard page.
//!
//! ```text
//!   one reservation (mmap MAP_NORESERVE, 1 GiB), carved into slots of `size` bytes:
//!
//!   low                                                                    high
//!   | guard | stack ........ ^top | guard | stack ........ ^top | guard | ...
//!   |<--------- slot 0 -------->| |<--------- slot 1 -------->|
//! ```
//!
//! A slot's stack grows down from its top towards its own guard page. Physical pages
//! appear only when touched, so a green thread that never goes deep costs one page.
//! Slots are reused through per-processor caches and a global pool, which also keeps
//! the promises that let a spawn fail at the call or never (`pool`, with `claim` for
//! reaching the caches); guard pages are installed once per slot lifetime
//! (`reserve`); a guard hit is reported by `overflow`; [`grow`] runs a closure on a
//! fresh segment when the current one runs low, and the panic hook on one when a
//! panic finds the stack short (`panic`).

pub(crate) mod backtrace;
pub(crate) mod claim;
pub(crate) mod grow;
pub(crate) mod overflow;
pub(crate) mod panic;
pub(crate) mod pool;
pub(crate) mod reserve;

use std::io;

/// The page size this module assumes (checked against the kernel's at start-up).
pub(crate) const PAGE: usize = 4096;

/// Address space per stack unless configured otherwise: 60 KiB usable above the guard
/// page. The operations measured in `docs/stacks.md` take at most 20 KiB (formatting a
/// backtrace), most under 2 KiB. Memory is spent only where touched — a parked task
/// costs one page at any size — but the page tables that map a million guarded slots
/// grow with the size: 129 bytes per task at 64 KiB, 514 at 256 KiB (measured).
pub const DEFAULT_STACK_SIZE: usize = 64 * 1024;

/// The smallest stack accepted: the guard page plus 12 KiB, which hold the runtime's
/// entry frames (under 0.5 KiB), a park and switch (under 2 KiB), and a panic's
/// unwinding (5.5 KiB at most, measured) with room to spare. The panic hook itself
/// moves to a bigger stack when this one is short (`stack::panic`), so a backtrace
/// (15 KiB more) fits too. See `docs/stacks.md` for the measurements.
pub const MIN_STACK_SIZE: usize = 16 * 1024;

/// The largest stack accepted: a larger request is almost surely a unit mistake.
pub const MAX_STACK_SIZE: usize = 1 << 30;

/// One stack slot: `[base, base + PAGE)` is its guard page, `(base + PAGE, base + size]`
/// its usable stack. The slot's owner is whoever holds this value.
#[derive(Debug)]
pub(crate) struct Stack {
    /// Never zero: `Option<Stack>` costs no extra word.
    base: std::num::NonZeroUsize,
    size: usize,
}

impl Stack {
    /// The slot's lowest address, where its guard page starts.
    #[inline]
    pub(crate) fn base(&self) -> usize {
        self.base.get()
    }

    /// The upper end of the stack, 16-byte aligned: where a fresh context starts.
    #[inline]
    pub(crate) fn top(&self) -> *mut u8 {
        (self.base() + self.size) as *mut u8
    }

    /// The slot's size in bytes, its guard page included.
    #[inline]
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// Where this stack lies, for overflow reports and `grow`.
    #[inline]
    pub(crate) fn bounds(&self) -> Bounds {
        Bounds {
            guard: self.base.get(),
            size: self.size,
        }
    }
}

/// Where the stack a context runs on lies: its guard page is `[guard, limit())`, and
/// `size` bytes of slot (guard included) start at `guard`. `size == 0`: unknown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Bounds {
    pub(crate) guard: usize,
    pub(crate) size: usize,
}

impl Bounds {
    /// The lowest usable address, just above the guard page.
    #[inline]
    pub(crate) fn limit(&self) -> usize {
        self.guard + PAGE
    }

    /// Whether a fault at `addr` is a hit on this stack's guard page.
    #[inline]
    pub(crate) fn is_guard_hit(&self, addr: usize) -> bool {
        self.size != 0 && addr >= self.guard && addr < self.limit()
    }
}

/// Checks a requested stack size and rounds it up to whole pages.
pub(crate) fn validate_size(size: usize) -> io::Result<usize> {
    if size < MIN_STACK_SIZE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "gogreen: stack size {size} bytes is below the minimum of {} KiB \
                 (one guard page plus room for the task's entry and a panic); ask for at least {MIN_STACK_SIZE}",
                MIN_STACK_SIZE / 1024
            ),
        ));
    }
    if size > MAX_STACK_SIZE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "gogreen: stack size {size} bytes is above the maximum of {} MiB; \
                 for deep recursion use gogreen::stack::grow, which adds segments on demand",
                MAX_STACK_SIZE >> 20
            ),
        ));
    }
    Ok(size.next_multiple_of(PAGE))
}

pub use grow::{grow, remaining};
