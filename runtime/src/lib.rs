//! gogreen: an M:N green-thread runtime in the shape of Go's.
//!
//! The runtime core arrives with the runtime issue; the channels are re-exported here.

pub mod chan {
    //! Go's channels and `select`: see the `gogreen-channel` crate.
    pub use gogreen_channel::*;
}
