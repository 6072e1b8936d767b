//! Blocking channel calls from a thread-local's destructor, after the channel crate's own
//! thread-locals may be gone: they must work, not abort the process.

use std::thread;
use std::time::Duration;

use gogreen_channel::{Select, bounded, select, unbounded};

struct BlocksOnDrop;

impl Drop for BlocksOnDrop {
    fn drop(&mut self) {
        let ms = Duration::from_millis(5);
        for cap in [None, Some(0), Some(1)] {
            let (s, r) = cap.map_or_else(unbounded::<i32>, bounded::<i32>);
            assert!(r.recv_timeout(ms).is_err());
            if cap.is_some() {
                if cap == Some(1) {
                    s.send(0).unwrap();
                }
                assert!(s.send_timeout(1, ms).is_err());
            }
            select! {
                recv(r) -> _ => {}
                default(ms) => {}
            }
            let mut sel = Select::new();
            sel.recv(&r);
            let _ = sel.ready_timeout(ms);
            // A wake-up from another thread reaches a waiter that has no thread-local.
            let (s2, r2) = bounded::<i32>(0);
            let t = thread::spawn(move || s2.send(3).unwrap());
            assert_eq!(r2.recv(), Ok(3));
            t.join().unwrap();
        }
    }
}

thread_local! {
    static BLOCKER: BlocksOnDrop = const { BlocksOnDrop };
}

#[test]
#[cfg_attr(miri, ignore = "spawns threads from a thread-local destructor")]
fn blocking_in_a_thread_local_destructor() {
    thread::spawn(|| {
        // Register our destructor before the crate's: destructors run in reverse order of
        // registration, so ours runs after the crate's thread-locals are gone.
        BLOCKER.with(|_| {});
        let (s, r) = bounded::<i32>(0);
        let t = thread::spawn(move || s.send(1).unwrap());
        assert_eq!(r.recv(), Ok(1));
        t.join().unwrap();
    })
    .join()
    .unwrap();
}
