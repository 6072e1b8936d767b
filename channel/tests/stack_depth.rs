//! How much stack a blocked `recv` uses, measured at the park seam.
//!
//! A green thread parked in `recv` keeps this much of its stack; with a million of them
//! it decides how many pages each one touches. The test installs `park::Hooks` whose
//! `park` records the address of its own frame and then falls back to the OS thread, so
//! the distance from the top of the test's closure to that frame is the depth of a
//! blocked receive (including the hook's small frame). This binary holds only this test:
//! hooks are process-wide.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use gogreen_channel::park::{self, Hooks, UnparkerVTable, WaitReason};
use gogreen_channel::{Receiver, Sender, bounded, select, unbounded};
use std::ptr::NonNull;

static DEEPEST: AtomicUsize = AtomicUsize::new(usize::MAX);

fn no_green_thread() -> Option<(NonNull<()>, usize)> {
    None
}

#[inline(never)]
fn record_depth(_deadline: Option<Instant>, _why: WaitReason) -> bool {
    let marker = 0u8;
    let addr = std::hint::black_box(&marker) as *const u8 as usize;
    DEEPEST.fetch_min(addr, Ordering::Relaxed);
    false // fall back to parking the OS thread
}

/// Declines: the seam unlocks, and the receive waits through `record_depth`.
unsafe fn no_park_unlocking(
    _why: WaitReason,
    _unlock: unsafe fn(*const ()),
    _lock: *const (),
) -> bool {
    false
}

fn no_snooze() -> bool {
    false
}

/// Never used: `current` never describes an unparker.
static NO_UNPARKER: UnparkerVTable = UnparkerVTable {
    clone: None,
    unpark: |_, _| {},
    drop: None,
};

static HOOKS: Hooks = Hooks {
    current: no_green_thread,
    unparker: &NO_UNPARKER,
    park: record_depth,
    park_unlocking: no_park_unlocking,
    snooze: no_snooze,
    os_thread_parked: || {},
};

/// Runs `blocked` on a fresh thread until it returns, feeding it through `feed` once it
/// has parked; returns the deepest stack use seen at the park seam, in bytes.
fn depth(blocked: impl FnOnce() + Send + 'static, feed: impl FnOnce()) -> usize {
    DEEPEST.store(usize::MAX, Ordering::Relaxed);
    let t = thread::spawn(move || {
        let top = 0u8;
        let top = std::hint::black_box(&top) as *const u8 as usize;
        blocked();
        top
    });
    while DEEPEST.load(Ordering::Relaxed) == usize::MAX {
        thread::sleep(Duration::from_millis(1));
    }
    feed();
    let top = t.join().unwrap();
    top - DEEPEST.load(Ordering::Relaxed)
}

fn recv_depth(s: Sender<u64>, r: Receiver<u64>) -> usize {
    depth(
        move || {
            r.recv().unwrap();
        },
        move || s.send(1).unwrap(),
    )
}

#[test]
#[cfg_attr(miri, ignore = "Miri's stacks are not laid out like native ones")]
fn blocked_recv_stack_depth() {
    // SAFETY: `current` never returns parts.
    unsafe { park::install(&HOOKS) }
        .ok()
        .expect("first install");
    let (s, r) = bounded(0);
    let zero = recv_depth(s, r);
    let (s, r) = bounded(1);
    let array = recv_depth(s, r);
    let (s, r) = unbounded();
    let list = recv_depth(s, r);
    let (s1, r1) = bounded::<u64>(0);
    let (_s2, r2) = bounded::<u64>(0);
    let select2 = depth(
        move || {
            select! {
                recv(r1) -> v => { v.unwrap(); }
                recv(r2) -> v => { v.unwrap(); }
            }
        },
        move || s1.send(1).unwrap(),
    );
    println!(
        "stack used by a blocked receive, down to the park seam: \
         rendezvous {zero} B, bounded {array} B, unbounded {list} B, select! of 2 {select2} B"
    );
    // A plain receive must leave most of a green thread's first 4 KiB page to the task
    // and the runtime (debug builds use far more stack; the bound is for optimized code).
    if !cfg!(debug_assertions) {
        for (name, d) in [
            ("rendezvous", zero),
            ("bounded", array),
            ("unbounded", list),
        ] {
            assert!(d < 1024, "a blocked {name} recv uses {d} bytes of stack");
        }
        assert!(
            select2 < 2048,
            "a blocked select! uses {select2} bytes of stack"
        );
    }
}
