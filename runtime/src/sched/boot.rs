//! Starting the runtime: once per process, on first use or by `Config::apply`.

use super::hooks;
use super::runtime::{RUNTIME, Runtime};
use super::settings::{Settings, from_env};
use super::sigquit;
use super::sysmon;
use super::worker::m_main;
use crate::stack;
use std::io;

/// The runtime, started on first use: for the entry points that may come first
/// (spawning from `main`). Everything that runs only once it exists uses
/// `runtime::runtime`.
#[inline]
pub(crate) fn runtime_or_start() -> &'static Runtime {
    match RUNTIME.get() {
        Some(rt) => rt,
        None => match start(None) {
            Ok(rt) => rt,
            Err(e) => crate::fatal!("the runtime could not start: {e}"),
        },
    }
}

/// Starts the runtime with `settings` (or the environment's and the defaults). Returns
/// `Err` if it was already started by someone else with other settings.
pub(crate) fn start(settings: Option<Settings>) -> io::Result<&'static Runtime> {
    let mut fresh = false;
    let rt = RUNTIME.get_or_init(|| {
        fresh = true;
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if page as usize != stack::PAGE {
            crate::fatal!("only 4 KiB pages are supported so far (this kernel uses {page})");
        }
        hooks::install();
        Runtime::new(settings.unwrap_or_else(from_env), m_main)
    });
    if !fresh {
        return match settings {
            Some(_) => Err(io::Error::other(
                "gogreen: the runtime is already running (it starts on first use: spawn, run, \
                 sleep, a channel wait inside a green thread); call Config::apply before anything else",
            )),
            None => Ok(rt),
        };
    }
    sysmon::start(rt);
    sigquit::install(rt);
    crate::trace::start_from_env();
    Ok(rt)
}
