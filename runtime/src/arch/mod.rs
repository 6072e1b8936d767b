//! The machine-specific context switch: one file per architecture.

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub(crate) use x86_64::{start, start_linked, switch};

#[cfg(not(target_arch = "x86_64"))]
compile_error!(
    "gogreen: the context switch is written and tested only for x86_64 so far; \
     an aarch64 port needs runtime/src/arch/aarch64.rs (x19-x30, sp, d8-d15, FPCR)"
);

#[cfg(not(target_os = "linux"))]
compile_error!("gogreen: stacks and guard pages are implemented only for Linux so far");
