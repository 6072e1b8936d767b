//! `fatal!`: a broken runtime invariant ends the process with a fixed, prefixed message
//! (Go's `throw`).
//!
//! Unwinding would be worse than useless here: a panic on an M's own stack kills that
//! OS thread with its P held, and every G queued there hangs for ever. So the message
//! goes straight to stderr — formatted into a buffer on the stack, no allocation, since
//! allocation may be what failed — and the process aborts.

use std::fmt::{self, Write};

/// Writes `gogreen: fatal: <message>` to stderr and aborts. Never allocates.
#[macro_export]
#[doc(hidden)]
macro_rules! fatal {
    ($($arg:tt)*) => {
        $crate::__fatal(::core::format_args!($($arg)*))
    };
}

/// What `fatal!` expands to.
#[doc(hidden)]
#[cold]
#[inline(never)]
pub fn __fatal(args: fmt::Arguments<'_>) -> ! {
    let mut buf = StackBuf {
        bytes: [0; 512],
        len: 0,
    };
    let _ = buf.write_str("gogreen: fatal: ");
    let _ = buf.write_fmt(args);
    if buf.len == buf.bytes.len() {
        buf.bytes[buf.len - 4..buf.len - 1].copy_from_slice(b"...");
        buf.len -= 1;
    }
    let _ = buf.write_str("\n");
    write_stderr(&buf.bytes[..buf.len]);
    std::process::abort()
}

/// Writes all of `bytes` to file descriptor 2, retrying on interruption. Allocation-
/// free and async-signal-safe.
pub(crate) fn write_stderr(mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: writes from a live buffer of the given length.
        let n = unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
        if n > 0 {
            bytes = &bytes[n as usize..];
        } else if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
        {
            continue;
        } else {
            return;
        }
    }
}

/// A fixed buffer that keeps what fits and drops the rest.
struct StackBuf {
    bytes: [u8; 512],
    len: usize,
}

impl Write for StackBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.bytes.len() - self.len;
        let n = s.len().min(room);
        self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}
