//! The table of poll descriptors: handed out on registration, taken back under a new
//! generation when the fd closes, and found by index when a report comes in.
//!
//! Descriptors are allocated in chunks and never freed, so a report that names one —
//! even one the poller picked up just before its fd closed — always points at a live
//! descriptor, which then ignores it by generation. (Go keeps `pollDesc`s in a
//! never-freed cache for the same reason.) The free list is behind one lock, taken
//! once per fd registered and once per fd closed, not per I/O.

use super::desc::Desc;
use parking_lot::Mutex;
use std::io;
use std::sync::atomic::{AtomicPtr, Ordering};

/// Descriptors per chunk.
const CHUNK: usize = 256;
/// Chunks at most: room for 4,194,304 fds registered at once.
const MAX_CHUNKS: usize = 1 << 14;

pub(crate) struct Descs {
    /// Chunk `i` holds descriptors `i * CHUNK ..`; null until first needed. Written
    /// under `free`'s lock, read without it.
    chunks: Box<[AtomicPtr<Desc>]>,
    free: Mutex<Free>,
}

struct Free {
    /// Indices of descriptors not in use.
    list: Vec<u32>,
    /// Descriptors handed out from the chunks so far.
    made: u32,
}

impl Descs {
    pub(crate) fn new() -> Self {
        Descs {
            // SAFETY: an all-zero `AtomicPtr` is a null pointer. A zeroed allocation this
            // large comes straight from `mmap`: its pages stay untouched until used.
            chunks: unsafe { Box::new_zeroed_slice(MAX_CHUNKS).assume_init() },
            free: Mutex::new(Free {
                list: Vec::new(),
                made: 0,
            }),
        }
    }

    /// A descriptor for a new registration.
    pub(crate) fn alloc(&self) -> io::Result<&'static Desc> {
        let mut free = self.free.lock();
        if let Some(index) = free.list.pop() {
            return Ok(self.get(index).unwrap_or_else(|| lost(index)));
        }
        let index = free.made;
        let chunk = index as usize / CHUNK;
        if chunk == MAX_CHUNKS {
            return Err(io::Error::other(format!(
                "gogreen: the netpoller holds {} fds already, its most; close some first",
                MAX_CHUNKS * CHUNK
            )));
        }
        if (index as usize).is_multiple_of(CHUNK) {
            let made: &'static mut [Desc] = Box::leak(
                (0..CHUNK)
                    .map(|i| Desc::new(index + i as u32))
                    .collect::<Box<[Desc]>>(),
            );
            // Release pairs with the Acquire in `get`: a poller that reads the pointer
            // sees initialised descriptors.
            self.chunks[chunk].store(made.as_mut_ptr(), Ordering::Release);
        }
        free.made += 1;
        drop(free);
        Ok(self.get(index).unwrap_or_else(|| lost(index)))
    }

    /// Takes a descriptor back; its fd is gone, or no longer registered.
    pub(crate) fn free(&self, desc: &'static Desc) {
        desc.retire();
        self.free.lock().list.push(desc.index);
    }

    /// The descriptor at `index`, if it was ever handed out.
    #[inline]
    pub(crate) fn get(&self, index: u32) -> Option<&'static Desc> {
        let chunk = self.chunks.get(index as usize / CHUNK)?;
        let base = chunk.load(Ordering::Acquire);
        if base.is_null() {
            return None;
        }
        // SAFETY: a non-null chunk pointer is a leaked array of CHUNK descriptors, never
        // freed; the offset is below CHUNK.
        Some(unsafe { &*base.add(index as usize % CHUNK) })
    }
}

#[cold]
fn lost(index: u32) -> ! {
    crate::fatal!("poll descriptor {index} is listed but was never made")
}
