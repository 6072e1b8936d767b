//! Every G header, for observers: the slabs headers are carved from.
//!
//! (The Ms whose threads run are `Runtime::live_ms`.)
//!
//! G headers are never freed (`p.rs`), so a list of the slabs they came from names
//! every header that ever held a task; an observer walks it and reads each header's
//! status and join words (`g.rs`, "Observers"). Appending a slab is the cold path of a
//! header allocation — once per 64 headers — and takes a lock; walking takes it too,
//! copies the list of slabs, and lets go before reading any header.

use super::g::G;
use parking_lot::Mutex;

/// Every slab of G headers, oldest first.
static SLABS: Mutex<Vec<&'static [G]>> = Mutex::new(Vec::new());

/// Records a new slab of headers: called once per slab, before any of its headers is
/// handed out.
pub(crate) fn add_slab(slab: &'static [G]) {
    SLABS.lock().push(slab);
}

/// Calls `f` on every G header ever allocated, pooled ones included (their join word
/// says so: `G::join_bits`). A header allocated while this runs may be missed.
pub(crate) fn for_each_g(mut f: impl FnMut(&'static G)) {
    let slabs = SLABS.lock().clone();
    for slab in slabs {
        slab.iter().for_each(&mut f);
    }
}
