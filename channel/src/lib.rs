//! Go's channels and `select` for Rust, for OS threads and green threads alike.
//!
//! The flavors, operations and `select!` arrive with the channels issue; the park seam
//! they block through is here first, because the runtime plugs into it.

pub mod park;
