//! `select!` and `select_biased!`: arms, default and timeout arms, closed channels, send-arm values.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use gogreen_channel::{
    RecvError, SendError, after, bounded, never, select, select_biased, tick, unbounded,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn ready_recv_arm_is_chosen() {
    let (s1, r1) = unbounded::<i32>();
    let (_s2, r2) = unbounded::<i32>();
    s1.send(1).unwrap();
    select! {
        recv(r1) -> v => assert_eq!(v, Ok(1)),
        recv(r2) -> _ => panic!("r2 is empty"),
    }
}

#[test]
fn ready_send_arm_is_chosen() {
    let (s1, r1) = bounded::<i32>(1);
    let (s2, _r2) = bounded::<i32>(1);
    s2.send(0).unwrap(); // full
    select! {
        send(s1, 5) -> res => assert_eq!(res, Ok(())),
        send(s2, 6) -> _ => panic!("s2 is full"),
    }
    assert_eq!(r1.try_recv(), Ok(5));
}

#[test]
fn default_runs_when_nothing_is_ready() {
    let (_s, r) = bounded::<i32>(0);
    let hit = select! {
        recv(r) -> _ => false,
        default => true,
    };
    assert!(hit);
    // A default arm alone.
    let v = select! { default => 3 };
    assert_eq!(v, 3);
}

#[test]
fn default_timeout_fires_after_the_timeout() {
    let (_s, r) = unbounded::<i32>();
    let start = Instant::now();
    let out = select! {
        recv(r) -> _ => "recv",
        default(ms(50)) => "timeout",
    };
    assert_eq!(out, "timeout");
    assert!(start.elapsed() >= ms(50));
}

#[test]
fn default_timeout_does_not_fire_when_an_arm_becomes_ready() {
    let (s, r) = bounded::<i32>(0);
    let t = thread::spawn(move || {
        thread::sleep(ms(20));
        s.send(9).unwrap();
    });
    select! {
        recv(r) -> v => assert_eq!(v, Ok(9)),
        default(Duration::from_secs(10)) => panic!("timed out"),
    }
    t.join().unwrap();
}

#[test]
fn closed_channel_makes_recv_arm_ready_with_error() {
    let (s, r) = bounded::<i32>(0);
    drop(s);
    select! {
        recv(r) -> v => assert_eq!(v, Err(RecvError)),
        default(Duration::from_secs(10)) => panic!("closed channel blocked"),
    }
}

#[test]
fn send_arm_on_closed_channel_gives_the_value_back() {
    for cap in [0, 1] {
        let (s, r) = bounded::<String>(cap);
        drop(r);
        select! {
            send(s, String::from("mine")) -> res => {
                assert_eq!(res, Err(SendError(String::from("mine"))));
            }
        }
    }
}

#[test]
fn send_value_is_evaluated_only_when_its_arm_wins() {
    let made = Cell::new(0);
    let make = |v: i32| {
        made.set(made.get() + 1);
        v
    };
    let (s, _r) = bounded::<i32>(0); // nobody receives
    let (s2, r2) = unbounded::<i32>();
    s2.send(1).unwrap();
    for _ in 0..20 {
        select! {
            send(s, make(1)) -> _ => panic!("no receiver"),
            recv(r2) -> v => { assert_eq!(v, Ok(1)); s2.send(1).unwrap(); }
        }
    }
    assert_eq!(made.get(), 0);
    let (s3, r3) = unbounded::<i32>();
    select! {
        send(s3, make(7)) -> res => res.unwrap(),
    }
    assert_eq!(made.get(), 1);
    assert_eq!(r3.recv(), Ok(7));
}

#[test]
fn select_never_meets_itself() {
    // Go's select3: a select with a send and a receive on the same unbuffered channel blocks.
    let (s, r) = bounded::<i32>(0);
    let out = select! {
        send(s, 1) -> _ => "sent",
        recv(r) -> _ => "received",
        default(ms(50)) => "blocked",
    };
    assert_eq!(out, "blocked");
}

#[test]
fn never_arm_never_fires_and_after_arm_does() {
    let start = Instant::now();
    select! {
        recv(never::<i32>()) -> _ => panic!("never fired"),
        recv(after(ms(30))) -> t => assert!(t.unwrap() >= start + ms(30)),
    }
    assert!(start.elapsed() >= ms(30));
}

#[test]
fn tick_arm_fires_repeatedly() {
    let ticker = tick(ms(5));
    let mut n = 0;
    while n < 3 {
        select! {
            recv(ticker) -> t => { assert!(t.is_ok()); n += 1; }
            default(Duration::from_secs(10)) => panic!("no tick"),
        }
    }
}

#[test]
fn random_choice_among_ready_arms() {
    let (s1, r1) = unbounded::<()>();
    let (s2, r2) = unbounded::<()>();
    let (mut a, mut b) = (0, 0);
    let rounds = if cfg!(miri) { 200 } else { 2000 };
    for _ in 0..rounds {
        s1.send(()).unwrap();
        s2.send(()).unwrap();
        select! {
            recv(r1) -> _ => { a += 1; r2.recv().unwrap(); }
            recv(r2) -> _ => { b += 1; r1.recv().unwrap(); }
        }
    }
    assert!(a > rounds / 3 && b > rounds / 3, "unfair: {a} vs {b}");
}

#[test]
fn biased_select_prefers_the_first_ready_arm() {
    let (s1, r1) = unbounded::<()>();
    let (s2, r2) = unbounded::<()>();
    for _ in 0..100 {
        s1.send(()).unwrap();
        s2.send(()).unwrap();
        select_biased! {
            recv(r1) -> _ => {}
            recv(r2) -> _ => panic!("the first arm was ready"),
        }
        r2.recv().unwrap();
    }
}

#[test]
fn control_flow_in_arms() {
    let (s, r) = unbounded::<i32>();
    for i in 0..5 {
        s.send(i).unwrap();
    }
    drop(s);
    let mut sum = 0;
    loop {
        select! {
            recv(r) -> v => match v {
                Ok(1) => continue,
                Ok(v) => sum += v,
                Err(_) => break,
            },
            recv(never::<i32>()) -> _ => unreachable!(),
        }
    }
    assert_eq!(sum, 9);
}

#[test]
fn channel_expressions_by_reference_and_temporaries() {
    let (s, r) = unbounded::<i32>();
    s.send(1).unwrap();
    let rr = &r;
    select! {
        recv(rr) -> v => assert_eq!(v, Ok(1)),
        recv(&never::<i32>()) -> _ => unreachable!(),
    }
    let ss = &s;
    select! {
        send(ss, 2) -> res => res.unwrap(),
    }
    assert_eq!(r.recv(), Ok(2));
    // Bodies of any form, with or without trailing commas.
    s.send(3).unwrap();
    let x = select! {
        recv(r) -> v => { v.unwrap() * 2 }
        default => 0
    };
    assert_eq!(x, 6);
}

#[test]
fn select_across_threads_on_rendezvous_channels() {
    const N: usize = if cfg!(miri) { 20 } else { 10_000 };
    let (s1, r1) = bounded::<usize>(0);
    let (s2, r2) = bounded::<usize>(0);
    let t1 = thread::spawn(move || (0..N).for_each(|i| s1.send(i).unwrap()));
    let t2 = thread::spawn(move || (0..N).for_each(|i| s2.send(i).unwrap()));
    let (mut a, mut b) = (0, 0);
    // A closed channel is always ready; swap it for `never()` so the loop blocks.
    let (mut r1, mut r2) = (r1, r2);
    loop {
        select! {
            recv(r1) -> v => match v {
                Ok(v) => { assert_eq!(v, a); a += 1; }
                Err(_) => r1 = never(),
            },
            recv(r2) -> v => match v {
                Ok(v) => { assert_eq!(v, b); b += 1; }
                Err(_) => r2 = never(),
            },
        }
        if a == N && b == N {
            break;
        }
    }
    t1.join().unwrap();
    t2.join().unwrap();
}

#[test]
fn select_send_arms_across_threads_on_rendezvous_channels() {
    const N: usize = if cfg!(miri) { 20 } else { 10_000 };
    let (s1, r1) = bounded::<usize>(0);
    let (s2, r2) = bounded::<usize>(0);
    let got = Arc::new(AtomicUsize::new(0));
    let receivers: Vec<_> = [r1, r2]
        .into_iter()
        .map(|r| {
            let got = got.clone();
            thread::spawn(move || {
                for v in r.iter() {
                    got.fetch_add(v, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for i in 0..N {
        select! {
            send(s1, i) -> res => res.unwrap(),
            send(s2, i) -> res => res.unwrap(),
        }
    }
    drop((s1, s2));
    for t in receivers {
        t.join().unwrap();
    }
    assert_eq!(got.load(Ordering::Relaxed), N * (N - 1) / 2);
}

#[test]
fn select_with_many_arms_uses_the_heap_path() {
    let chans: Vec<_> = (0..6).map(|_| bounded::<usize>(0)).collect();
    let senders: Vec<_> = chans.iter().map(|(s, _)| s.clone()).collect();
    let t = thread::spawn(move || {
        for (i, s) in senders.iter().enumerate().rev() {
            s.send(i).unwrap();
        }
    });
    let r: Vec<_> = chans.iter().map(|(_, r)| r).collect();
    let mut seen = [false; 6];
    for _ in 0..6 {
        select! {
            recv(r[0]) -> v => seen[v.unwrap()] = true,
            recv(r[1]) -> v => seen[v.unwrap()] = true,
            recv(r[2]) -> v => seen[v.unwrap()] = true,
            recv(r[3]) -> v => seen[v.unwrap()] = true,
            recv(r[4]) -> v => seen[v.unwrap()] = true,
            recv(r[5]) -> v => seen[v.unwrap()] = true,
        }
    }
    assert!(seen.iter().all(|&s| s));
    t.join().unwrap();
}

#[test]
fn empty_select_with_timeout_waits_it_out() {
    let start = Instant::now();
    select! {
        default(ms(20)) => {}
    }
    assert!(start.elapsed() >= ms(20));
}

#[test]
fn arm_and_default_bodies_may_replace_the_channels() {
    let (s, r) = bounded::<i32>(1);
    let (mut s, mut r) = (s, r);
    s.send(1).unwrap();
    select! {
        recv(r) -> v => { assert_eq!(v, Ok(1)); r = never(); }
        default => unreachable!(),
    }
    select! {
        recv(r) -> _ => unreachable!(),
        default => { let (s2, r2) = bounded(1); s = s2; r = r2; }
    }
    select! {
        send(s, 2) -> res => { res.unwrap(); s = bounded(0).0; }
        default(ms(10)) => unreachable!(),
    }
    assert_eq!(r.recv(), Ok(2));
    let _ = s;
}

/// crossbeam-channel's syntax: `default()` and trailing commas inside an arm's parentheses.
#[test]
fn default_with_empty_parentheses_and_trailing_commas() {
    let (s, r) = bounded::<i32>(1);
    let hit = select! {
        recv(r,) -> _ => 1,
        default() => 2,
    };
    assert_eq!(hit, 2);
    select! {
        send(s, 7,) -> res => res.unwrap(),
        default(ms(1000),) => panic!("there was room"),
    }
    select_biased! {
        recv(r,) -> v => assert_eq!(v, Ok(7)),
        default() => panic!("a message was ready"),
    }
    select! {
        default() => {}
    }
}
