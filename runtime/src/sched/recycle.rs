//! Where a finished task's header goes once its task, its handle and its observers have
//! all let go: the free list of the P this M holds, or the central one.

use super::g::G;
use super::m::current_m;
use super::runtime::runtime;

/// Returns a header whose task and handle are both gone to a free list.
pub(crate) fn free_g(g: &'static G) {
    let rt = runtime();
    let p = current_m().and_then(|m| m.p());
    // SAFETY: the caller saw both release bits go (`G::release_*` returned `true`);
    // the caller's M holds `p`.
    unsafe { rt.central.free_g(g, p) };
}
