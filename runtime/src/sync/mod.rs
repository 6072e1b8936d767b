//! Synchronisation for green threads and OS threads alike.

mod wait_group;

pub use wait_group::WaitGroup;
