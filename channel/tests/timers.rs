//! `after`, `at`, `tick` and `never`: readiness from the clock, no timer thread.

use std::thread;
use std::time::{Duration, Instant};

use gogreen_channel::{RecvTimeoutError, TryRecvError, after, at, never, tick};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn after_delivers_once_at_the_deadline() {
    let start = Instant::now();
    let r = after(ms(30));
    assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    assert!(r.is_empty());
    assert_eq!(r.len(), 0);
    assert_eq!(r.capacity(), Some(1));
    let t = r.recv().unwrap();
    assert!(t >= start + ms(30));
    assert!(Instant::now() >= t);
    // Delivered: nothing more, and the channel never closes.
    assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(r.recv_timeout(ms(10)), Err(RecvTimeoutError::Timeout));
    assert!(!r.is_closed());
}

#[test]
fn after_timeout_before_delivery() {
    let r = after(Duration::from_secs(60));
    let start = Instant::now();
    assert_eq!(r.recv_timeout(ms(20)), Err(RecvTimeoutError::Timeout));
    let waited = start.elapsed();
    assert!(waited >= ms(20) && waited < Duration::from_secs(30));
}

#[test]
fn after_is_shared_by_clones_and_delivered_once() {
    let r = after(ms(10));
    let r2 = r.clone();
    thread::sleep(ms(20));
    assert_eq!(r.len(), 1);
    let a = r.try_recv().is_ok();
    let b = r2.try_recv().is_ok();
    assert!(a ^ b);
}

#[test]
fn at_a_past_instant_is_ready_now() {
    let when = Instant::now();
    let r = at(when);
    assert_eq!(r.try_recv(), Ok(when));
}

#[test]
fn after_with_a_huge_duration_never_fires() {
    let r = after(Duration::MAX);
    assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(r.recv_timeout(ms(5)), Err(RecvTimeoutError::Timeout));
}

#[test]
fn tick_delivers_periodically_and_drops_missed_ticks() {
    let start = Instant::now();
    let r = tick(ms(10));
    let t1 = r.recv().unwrap();
    let t2 = r.recv().unwrap();
    assert!(t1 >= start + ms(10));
    assert!(t2 >= t1 + ms(10));
    // Missed ticks do not pile up: after a long pause one tick is ready, not five.
    thread::sleep(ms(50));
    assert!(r.try_recv().is_ok());
    assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(r.capacity(), Some(1));
}

#[test]
fn never_never_delivers() {
    let r = never::<String>();
    assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    let start = Instant::now();
    assert_eq!(r.recv_timeout(ms(20)), Err(RecvTimeoutError::Timeout));
    assert!(start.elapsed() >= ms(20));
    assert!(!r.is_closed());
    assert_eq!(r.capacity(), Some(0));
    assert!(r.same_channel(&never()));
}
