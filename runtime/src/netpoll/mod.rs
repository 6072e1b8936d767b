//! The netpoller: green threads waiting for sockets, pipes and other fds without
//! holding an OS thread, in Go's shape — one epoll instance, edge-triggered; a poll
//! descriptor per fd with a slot per direction; polling as part of finding work.
//!
//! - `slot.rs`: one direction's readiness epoch and waiters — the protocol that loses no
//!   wake-up (steps R1–R6, P1–P3).
//! - `desc.rs`: a poll descriptor, its two slots and its generation; `cache.rs`, the
//!   table descriptors come from and go back to.
//! - `epoll.rs`: the epoll instance and the eventfd that interrupts a blocked wait.
//! - `poller.rs`: what the runtime holds, and a poll.
//! - `wait.rs`: a green thread parking on a slot.
//!
//! `docs/netpoll.md` tells the whole story, with the scheduler's side.

mod cache;
pub(crate) mod desc;
mod epoll;
pub(crate) mod poller;
pub(crate) mod slot;
pub(crate) mod wait;
