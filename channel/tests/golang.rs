//! Go's channel conformance programs from the Go tree's `test/chan/`, ported.
//!
//! One `mod` per Go file, headed with the file it came from. The programs are written
//! against [`GoRuntime`] — how to start a goroutine, yield, sleep — so that the same bodies
//! run on OS threads (instantiated at the bottom of this file) and on green threads.
//!
//! Where Go and this crate differ, the port uses the Rust clothes and says so:
//! - a nil channel is [`never()`] for receiving and [`nil_sender()`] for sending;
//! - a send on a closed channel returns `Err` instead of panicking, so "panics" becomes
//!   `.unwrap()` on that result;
//! - a receive on a closed channel returns `Err` instead of the zero value;
//! - goroutines that Go leaves blocked when `main` returns end here once the other side of
//!   their channel is dropped (a send then fails), so no thread is left behind.
//!
//! # Green threads
//!
//! The same bodies run on gogreen's green threads too (`Green` at the bottom of this
//! file, with `main` itself a green thread), through a dev-dependency on the gogreen
//! package.

#![allow(dead_code)]

use std::time::Duration;

use gogreen_channel::{Sender, bounded, park};

/// What the Go programs need from the runtime they run on.
pub trait GoRuntime {
    /// Go's `go f()`.
    fn go<F: FnOnce() + Send + 'static>(f: F);

    /// Go's `time.Sleep(d)`.
    fn sleep(d: Duration);

    /// Go's `runtime.Gosched()`.
    fn gosched() {
        park::snooze();
    }
}

/// Goroutines as OS threads.
pub struct OsThreads;

impl GoRuntime for OsThreads {
    fn go<F: FnOnce() + Send + 'static>(f: F) {
        std::thread::Builder::new()
            .stack_size(128 * 1024)
            .spawn(f)
            .expect("spawn a thread");
    }

    fn sleep(d: Duration) {
        std::thread::sleep(d);
    }
}

/// A sender on which nothing ever happens: Go's nil channel, for sending. Its receiver is
/// leaked, so the channel never closes and a send blocks forever.
pub fn nil_sender<T>() -> Sender<T> {
    let (s, r) = bounded(0);
    std::mem::forget(r);
    s
}

/// Instantiates every ported program as a `#[test]`, for one `GoRuntime`.
///
/// `$programs` is the path of the module that holds the program modules, `$rt` the
/// runtime type, and `$run` a function that runs a closure to completion on it (for OS
/// threads, just calls it).
#[macro_export]
macro_rules! go_tests {
    ($programs:path, $rt:ty, $run:path) => {
        use $programs as programs;

        #[test]
        fn fifo() {
            $run(|| programs::fifo::main::<$rt>())
        }

        #[test]
        fn nonblock() {
            $run(|| programs::nonblock::main::<$rt>())
        }

        #[test]
        fn select() {
            $run(|| programs::select::main::<$rt>())
        }

        #[test]
        fn select3() {
            $run(|| programs::select3::main::<$rt>())
        }

        #[test]
        fn select6() {
            $run(|| programs::select6::main::<$rt>())
        }

        #[test]
        fn select7() {
            $run(|| programs::select7::main::<$rt>())
        }

        #[test]
        fn sendstmt() {
            $run(|| programs::sendstmt::main::<$rt>())
        }

        #[test]
        fn sieve1() {
            $run(|| programs::sieve1::main::<$rt>())
        }

        #[test]
        fn zerosize() {
            $run(|| programs::zerosize::main::<$rt>())
        }

        #[test]
        fn doubleselect() {
            $run(|| programs::doubleselect::main::<$rt>())
        }

        #[test]
        fn goroutines() {
            $run(|| programs::goroutines::main::<$rt>())
        }
    };
}

pub mod fifo {
    //! Go: `test/chan/fifo.go` — Test that unbuffered channels act as pure fifos.

    use super::GoRuntime;
    use gogreen_channel::{Receiver, Sender, bounded};

    const N: i32 = 10;

    fn asynch_fifo() {
        let (ch, ch_r) = bounded(N as usize);
        for i in 0..N {
            ch.send(i).unwrap();
        }
        for i in 0..N {
            if ch_r.recv() != Ok(i) {
                panic!("bad receive");
            }
        }
    }

    fn chain(ch: Receiver<i32>, val: i32, in_: Receiver<i32>, out: Sender<i32>) {
        in_.recv().unwrap();
        if ch.recv() != Ok(val) {
            panic!("{val}");
        }
        out.send(1).unwrap();
    }

    /// Thread together a daisy chain to read the elements in sequence.
    fn synch_fifo<G: GoRuntime>() {
        let (ch, ch_r) = bounded(0);
        let (start, mut in_) = bounded(0);
        for i in 0..N {
            let (out, out_r) = bounded(0);
            let (ch_r, in_r) = (ch_r.clone(), in_);
            G::go(move || chain(ch_r, i, in_r, out));
            in_ = out_r;
        }
        start.send(0).unwrap();
        for i in 0..N {
            ch.send(i).unwrap();
        }
        in_.recv().unwrap();
    }

    pub fn main<G: GoRuntime>() {
        asynch_fifo();
        synch_fifo::<G>();
    }
}

pub mod nonblock {
    //! Go: `test/chan/nonblock.go` — Test channel operations that test for blocking.
    //! Use several sizes and types of operands.
    //!
    //! Go repeats one block per operand type; the port makes it generic over the type.

    use std::time::Duration;

    use super::GoRuntime;
    use gogreen_channel::{Receiver, Sender, bounded, select, tick};

    fn receiver<T: PartialEq + Send>(c: Receiver<T>, strobe: Sender<bool>, want: T, what: &str) {
        if c.recv().ok() != Some(want) {
            panic!("{what} value");
        }
        strobe.send(true).unwrap();
    }

    fn sender<T: Send>(c: Sender<T>, strobe: Sender<bool>, v: T) {
        c.send(v).unwrap();
        strobe.send(true).unwrap();
    }

    /// Up to 100ms per test.
    const MAX_TRIES: usize = 10000;

    /// `<-ticker; <-ticker; runtime.Gosched() ×3` with a 10 µs ticker.
    fn sleep<G: GoRuntime>(ticker: &Receiver<std::time::Instant>) {
        ticker.recv().unwrap();
        ticker.recv().unwrap();
        G::gosched();
        G::gosched();
        G::gosched();
    }

    #[allow(clippy::too_many_arguments)]
    fn one_type<G: GoRuntime, T: PartialEq + Clone + Send + 'static>(
        buffer: usize,
        sync: (&Sender<bool>, &Receiver<bool>),
        ticker: &Receiver<std::time::Instant>,
        to_receiver: T,
        from_sender: T,
        what: &'static str,
    ) {
        let (c, c_r) = bounded::<T>(buffer);
        select! {
            recv(c_r) -> _ => panic!("blocked {what}sender"),
            default => {}
        }

        let (r, strobe, want) = (c_r.clone(), sync.0.clone(), to_receiver.clone());
        G::go(move || receiver(r, strobe, want, what));
        let mut tries = 0;
        loop {
            select! {
                send(c, to_receiver.clone()) -> res => { res.unwrap(); break; }
                default => {
                    tries += 1;
                    if tries > MAX_TRIES {
                        panic!("{what}receiver buffer={buffer}: fail");
                    }
                    sleep::<G>(ticker);
                }
            }
        }
        sync.1.recv().unwrap();

        let (s, strobe, v) = (c.clone(), sync.0.clone(), from_sender.clone());
        G::go(move || sender(s, strobe, v));
        if buffer > 0 {
            sync.1.recv().unwrap();
        }
        let mut tries = 0;
        let got = loop {
            select! {
                recv(c_r) -> v => break v.unwrap(),
                default => {
                    tries += 1;
                    if tries > MAX_TRIES {
                        panic!("{what}sender buffer={buffer}: fail");
                    }
                    sleep::<G>(ticker);
                }
            }
        };
        if got != from_sender {
            panic!("{what}sender value");
        }
        if buffer == 0 {
            sync.1.recv().unwrap();
        }
    }

    pub fn main<G: GoRuntime>() {
        let ticker = tick(Duration::from_micros(10));
        let (sync, sync_r) = bounded::<bool>(0);
        for buffer in 0..2 {
            let s = (&sync, &sync_r);
            one_type::<G, i32>(buffer, s, &ticker, 123, 234, "i32");
            one_type::<G, i64>(buffer, s, &ticker, 123456, 234567, "i64");
            one_type::<G, bool>(buffer, s, &ticker, true, true, "b");
            one_type::<G, String>(
                buffer,
                s,
                &ticker,
                "hello".into(),
                "hello again".into(),
                "s",
            );
        }
    }
}

pub mod select {
    //! Go: `test/chan/select.go` — Test simple select.
    //!
    //! Go evaluates every send case's value on entering `select`, so its `counter` counts
    //! all cases of all rounds (10). `select!` evaluates a send arm's message only when
    //! the arm wins (crossbeam's rule), so here it counts the sends that happened (3).

    use std::cell::Cell;

    use super::{GoRuntime, nil_sender};
    use gogreen_channel::{Sender, bounded, select};

    struct State {
        counter: Cell<u32>,
        shift: Cell<u32>,
    }

    impl State {
        fn get_value(&self) -> u32 {
            self.counter.set(self.counter.get() + 1);
            1 << self.shift.get()
        }
    }

    fn send(st: &State, mut a: Sender<u32>, mut b: Sender<u32>) -> i32 {
        let mut i = 0;
        loop {
            select! {
                send(a, st.get_value()) -> res => { res.unwrap(); i += 1; a = nil_sender(); }
                send(b, st.get_value()) -> res => { res.unwrap(); i += 1; b = nil_sender(); }
                default => break,
            }
            st.shift.set(st.shift.get() + 1);
        }
        i
    }

    pub fn main<G: GoRuntime>() {
        let st = State {
            counter: Cell::new(0),
            shift: Cell::new(0),
        };
        let (a, a_r) = bounded(1);
        let (b, b_r) = bounded(1);
        let v = send(&st, a.clone(), b.clone());
        if v != 2 {
            panic!("Send returned {v} != 2");
        }
        let (av, bv) = (a_r.recv().unwrap(), b_r.recv().unwrap());
        if av | bv != 3 {
            panic!("bad values {av} {bv}");
        }
        let v = send(&st, a, nil_sender());
        if v != 1 {
            panic!("Send returned {v} != 1");
        }
        if st.counter.get() != 3 {
            panic!("counter is {} != 3", st.counter.get());
        }
    }
}

pub mod select3 {
    //! Go: `test/chan/select3.go` — Test the semantics of the select statement for basic
    //! empty/non-empty cases.

    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::time::Duration;

    use super::{GoRuntime, nil_sender};
    use gogreen_channel::{Receiver, TryRecvError, bounded, never, select};

    const ALWAYS: &str = "function did not";
    const NEVER: &str = "function did";

    fn unreachable() -> ! {
        panic!("control flow shouldn't reach here");
    }

    /// Calls `f` and verifies that it always/never panics depending on `signal`.
    fn test_panic(signal: &str, f: impl FnOnce()) {
        let s = if catch_unwind(AssertUnwindSafe(f)).is_err() {
            ALWAYS // f panicked
        } else {
            NEVER
        };
        if s != signal {
            panic!("{signal} panic");
        }
    }

    /// Calls `f` and empirically verifies that it always/never blocks depending on `signal`.
    fn test_block<G: GoRuntime>(signal: &'static str, f: impl FnOnce() + Send + 'static) {
        let (c, c_r) = bounded::<&'static str>(0);
        let c2 = c.clone();
        G::go(move || {
            f();
            let _ = c2.send(NEVER); // f didn't block
        });
        G::go(move || {
            if signal == NEVER {
                // Go waits 10 s "to make sure that we don't miss our window by accident
                // on a slow machine". A non-blocking f wins the race at once; the wait
                // only matters when the test fails, so a second is plenty.
                G::sleep(Duration::from_secs(1));
            } else {
                // Wait as short a time as we can without false negatives.
                G::sleep(Duration::from_millis(10));
            }
            let _ = c.send(ALWAYS); // f blocked always
        });
        if c_r.recv().unwrap() != signal {
            panic!("{signal} block");
        }
    }

    fn closed() -> Receiver<i32> {
        let (s, r) = bounded::<i32>(0);
        s.close();
        r
    }

    pub fn main<G: GoRuntime>() {
        const ASYNC: usize = 1; // asynchronous channels
        let (closed_s, closed_r) = bounded::<i32>(0);
        closed_s.close();

        // Sending/receiving from a nil channel blocks.
        test_block::<G>(ALWAYS, || {
            let _ = nil_sender::<i32>().send(7);
        });
        test_block::<G>(ALWAYS, || {
            let _ = never::<i32>().recv();
        });

        // Sending/receiving from a nil channel inside a select is never selected.
        test_panic(NEVER, || {
            let nilch = nil_sender::<i32>();
            select! {
                send(nilch, 7) -> _ => unreachable(),
                default => {}
            }
        });
        test_panic(NEVER, || {
            select! {
                recv(never::<i32>()) -> _ => unreachable(),
                default => {}
            }
        });

        // Sending to an async channel with free buffer space never blocks.
        test_block::<G>(NEVER, || {
            let (ch, _r) = bounded::<i32>(ASYNC);
            ch.send(7).unwrap();
        });

        // Receiving from a closed channel never blocks.
        let r = closed_r.clone();
        test_block::<G>(NEVER, move || {
            for _ in 0..10 {
                if r.recv().is_ok() {
                    panic!("expected an error when reading from closed channel");
                }
                if r.try_recv() != Err(TryRecvError::Disconnected) {
                    panic!("expected Disconnected from closed channel");
                }
            }
        });

        // Sending to a closed channel panics (here: returns an error we unwrap).
        let s = closed_s.clone();
        test_panic(ALWAYS, move || s.send(7).unwrap());

        // Receiving from a non-ready channel always blocks.
        test_block::<G>(ALWAYS, || {
            let (_ch, r) = bounded::<i32>(0);
            let _ = r.recv();
        });

        // Empty selects always block.
        test_block::<G>(ALWAYS, || {
            select! {}
        });

        // Selects with only nil channels always block.
        test_block::<G>(ALWAYS, || {
            select! {
                recv(never::<i32>()) -> _ => unreachable(),
            }
        });
        test_block::<G>(ALWAYS, || {
            let nilch = nil_sender::<i32>();
            select! {
                send(nilch, 7) -> _ => unreachable(),
            }
        });
        test_block::<G>(ALWAYS, || {
            let nilch = nil_sender::<i32>();
            select! {
                recv(never::<i32>()) -> _ => unreachable(),
                send(nilch, 7) -> _ => unreachable(),
            }
        });

        // Selects with non-ready non-nil channels always block.
        test_block::<G>(ALWAYS, || {
            let (_ch, r) = bounded::<i32>(0);
            select! {
                recv(r) -> _ => unreachable(),
            }
        });

        // Selects with default cases don't block.
        test_block::<G>(NEVER, || {
            select! {
                default => {}
            }
        });
        test_block::<G>(NEVER, || {
            select! {
                recv(never::<i32>()) -> _ => unreachable(),
                default => {}
            }
        });
        test_block::<G>(NEVER, || {
            let nilch = nil_sender::<i32>();
            select! {
                send(nilch, 7) -> _ => unreachable(),
                default => {}
            }
        });

        // Selects with ready channels don't block.
        test_block::<G>(NEVER, || {
            let (ch, _r) = bounded::<i32>(ASYNC);
            select! {
                send(ch, 7) -> res => res.unwrap(),
                default => unreachable(),
            }
        });
        test_block::<G>(NEVER, || {
            let (ch, r) = bounded::<i32>(ASYNC);
            ch.send(7).unwrap();
            select! {
                recv(r) -> v => assert_eq!(v, Ok(7)),
                default => unreachable(),
            }
        });

        // Selects with closed channels behave like ordinary operations.
        test_block::<G>(NEVER, || {
            select! {
                recv(closed()) -> _ => {}
            }
        });
        test_block::<G>(NEVER, || {
            select! {
                recv(closed()) -> x => { let _ = x; }
            }
        });
        test_block::<G>(NEVER, || {
            select! {
                recv(closed()) -> x => assert!(x.is_err()),
            }
        });
        let s = closed_s.clone();
        test_panic(ALWAYS, move || {
            select! {
                send(s, 7) -> res => res.unwrap(),
            }
        });

        // Select should not get confused if it sees itself.
        test_block::<G>(ALWAYS, || {
            let (c, r) = bounded::<i32>(0);
            select! {
                send(c, 1) -> _ => {}
                recv(r) -> _ => {}
            }
        });
    }
}

pub mod select6 {
    //! Go: `test/chan/select6.go` — Test for select: Issue 2075.
    //!
    //! A bug in select corrupts channel queues of failed cases if there are multiple
    //! waiters on those channels and the select is the last in the queue. If further waits
    //! are made on the channel without draining it first then those waiters will never
    //! wake up. In the code below c1 is such a channel.

    use super::GoRuntime;
    use gogreen_channel::{bounded, select};

    pub fn main<G: GoRuntime>() {
        let (c1, c1_r) = bounded::<bool>(0);
        let (c2, c2_r) = bounded::<bool>(0);
        let (c3, c3_r) = bounded::<bool>(0);
        let r = c1_r.clone();
        G::go(move || {
            let _ = r.recv();
        });
        let r = c1_r.clone();
        G::go(move || {
            select! {
                recv(r) -> _ => panic!("dummy"),
                recv(c2_r) -> _ => c3.send(true).unwrap(),
            }
            let _ = r.recv();
        });
        G::go(move || c2.send(true).unwrap());
        c3_r.recv().unwrap();
        c1.send(true).unwrap();
        c1.send(true).unwrap();
    }
}

pub mod select7 {
    //! Go: `test/chan/select7.go` — Test select when discarding a value.

    use super::GoRuntime;
    use gogreen_channel::{Receiver, bounded, select};

    fn recv1(c: Receiver<i32>) {
        let _ = c.recv();
    }

    fn recv2(c: Receiver<i32>) {
        select! {
            recv(c) -> _ => {}
        }
    }

    fn recv3(c: Receiver<i32>) {
        let (_c2, c2_r) = bounded::<i32>(0);
        select! {
            recv(c) -> _ => {}
            recv(c2_r) -> _ => {}
        }
    }

    fn send1<G: GoRuntime>(recv: fn(Receiver<i32>)) {
        let (c, r) = bounded(0);
        G::go(move || recv(r));
        G::gosched();
        c.send(1).unwrap();
    }

    fn send2<G: GoRuntime>(recv: fn(Receiver<i32>)) {
        let (c, r) = bounded(0);
        G::go(move || recv(r));
        G::gosched();
        select! {
            send(c, 1) -> res => res.unwrap(),
        }
    }

    fn send3<G: GoRuntime>(recv: fn(Receiver<i32>)) {
        let (c, r) = bounded(0);
        G::go(move || recv(r));
        G::gosched();
        let (c2, _c2_r) = bounded(0);
        select! {
            send(c, 1) -> res => res.unwrap(),
            send(c2, 1) -> res => res.unwrap(),
        }
    }

    pub fn main<G: GoRuntime>() {
        send1::<G>(recv1);
        send2::<G>(recv1);
        send3::<G>(recv1);
        send1::<G>(recv2);
        send2::<G>(recv2);
        send3::<G>(recv2);
        send1::<G>(recv3);
        send2::<G>(recv3);
        send3::<G>(recv3);
    }
}

pub mod sendstmt {
    //! Go: `test/chan/sendstmt.go` — Test various parsing cases that are a little
    //! different now that send is a statement, not an expression.
    //!
    //! Rust has no send syntax to parse; what remains is a channel of channels and sending
    //! the value of an expression.

    use super::GoRuntime;
    use gogreen_channel::{Receiver, Sender, bounded, select};

    fn chanchan() {
        let (cc, cc_r) = bounded::<Sender<i32>>(1);
        let (c, c_r): (Sender<i32>, Receiver<i32>) = bounded(1);
        cc.send(c).unwrap();
        let inner = cc_r.recv().unwrap(); // Go: `case <-cc <- 2`
        select! {
            send(inner, 2) -> res => res.unwrap(),
            default => panic!("nonblock"),
        }
        if c_r.recv() != Ok(2) {
            panic!("bad receive");
        }
    }

    fn sendprec() {
        let (c, r) = bounded::<bool>(1);
        #[allow(clippy::nonminimal_bool, clippy::overly_complex_bool_expr)]
        c.send(false || true).unwrap();
        if !r.recv().unwrap() {
            panic!("sent false");
        }
    }

    pub fn main<G: GoRuntime>() {
        chanchan();
        sendprec();
    }
}

pub mod sieve1 {
    //! Go: `test/chan/sieve1.go` — Test concurrency primitives: classical inefficient
    //! concurrent prime sieve.
    //!
    //! Generate primes up to 100 using channels, checking the results. This sieve
    //! consists of a linear chain of divisibility filters, equivalent to trial-dividing
    //! each n by all primes p ≤ n.

    use super::GoRuntime;
    use gogreen_channel::{Receiver, Sender, bounded};

    /// Send the sequence 2, 3, 4, ... to channel `ch`.
    fn generate(ch: Sender<i32>) {
        for i in 2.. {
            if ch.send(i).is_err() {
                return; // the sieve is done (Go leaves this goroutine blocked)
            }
        }
    }

    /// Copy the values from channel `in_` to channel `out`, removing those divisible by
    /// `prime`.
    fn filter(in_: Receiver<i32>, out: Sender<i32>, prime: i32) {
        for i in &in_ {
            if i % prime != 0 && out.send(i).is_err() {
                return;
            }
        }
    }

    /// The prime sieve: daisy-chain filter processes together.
    fn sieve<G: GoRuntime>(primes: Sender<i32>) {
        let (ch, mut ch_r) = bounded(0);
        G::go(move || generate(ch));
        loop {
            // Note that ch is different on each iteration.
            let Ok(prime) = ch_r.recv() else { return };
            if primes.send(prime).is_err() {
                return;
            }
            let (ch1, ch1_r) = bounded(0);
            G::go(move || filter(ch_r, ch1, prime));
            ch_r = ch1_r;
        }
    }

    pub fn main<G: GoRuntime>() {
        let (primes, primes_r) = bounded(0);
        G::go(move || sieve::<G>(primes));
        let a = [
            2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83,
            89, 97,
        ];
        for want in a {
            let x = primes_r.recv().unwrap();
            if x != want {
                panic!("{x} != {want}");
            }
        }
    }
}

pub mod zerosize {
    //! Go: `test/chan/zerosize.go` — Test making channels of a zero-sized type.

    use super::GoRuntime;
    use gogreen_channel::bounded;

    pub fn main<G: GoRuntime>() {
        let _ = bounded::<[u8; 0]>(0);
        let _ = bounded::<[u8; 0]>(1);
        let _ = bounded::<()>(0);
        let _ = bounded::<()>(1);
    }
}

pub mod doubleselect {
    //! Go: `test/chan/doubleselect.go` — Test the situation in which two cases of a select
    //! can both end up running. See http://codereview.appspot.com/180068.

    use std::collections::HashSet;

    use super::GoRuntime;
    use gogreen_channel::{Receiver, Sender, bounded, select};

    /// Go's `-n` flag default.
    const ITERATIONS: i32 = if cfg!(miri) { 100 } else { 100_000 };

    /// Sends a counter to one of four different channels. If two cases both end up running
    /// in the same iteration, the same value will be sent to two different channels.
    fn sender(n: i32, c1: Sender<i32>, c2: Sender<i32>, c3: Sender<i32>, c4: Sender<i32>) {
        for i in 0..n {
            select! {
                send(c1, i) -> res => res.unwrap(),
                send(c2, i) -> res => res.unwrap(),
                send(c3, i) -> res => res.unwrap(),
                send(c4, i) -> res => res.unwrap(),
            }
        }
        // Go: `defer close(c1)` and friends; dropping the senders closes the channels.
    }

    /// Receives the values from sender and forwards them onto another channel. It would
    /// be simpler to just have sender's four cases all be the same channel, but this
    /// doesn't actually trigger the bug.
    fn mux(out: Sender<i32>, in_: Receiver<i32>, done: Sender<bool>) {
        for v in &in_ {
            out.send(v).unwrap();
        }
        done.send(true).unwrap();
    }

    /// Gets a stream of values from the four muxes and checks for duplicates.
    fn recver(in_: Receiver<i32>) -> usize {
        let mut seen = HashSet::new();
        for v in &in_ {
            if !seen.insert(v) {
                panic!("got duplicate value: {v}");
            }
        }
        seen.len()
    }

    pub fn main<G: GoRuntime>() {
        let (c1, c1_r) = bounded(0);
        let (c2, c2_r) = bounded(0);
        let (c3, c3_r) = bounded(0);
        let (c4, c4_r) = bounded(0);
        let (done, done_r) = bounded(0);
        let (cmux, cmux_r) = bounded(0);
        G::go(move || sender(ITERATIONS, c1, c2, c3, c4));
        for c in [c1_r, c2_r, c3_r, c4_r] {
            let (cmux, done) = (cmux.clone(), done.clone());
            G::go(move || mux(cmux, c, done));
        }
        G::go(move || {
            for _ in 0..4 {
                done_r.recv().unwrap();
            }
            cmux.close();
        });
        // We keep the recver because it might catch more bugs in the future. However,
        // the result of the bug linked to at the top is that we'll end up panicking with:
        // "throw: bad g->status in ready".
        assert_eq!(recver(cmux_r), ITERATIONS as usize);
    }
}

pub mod goroutines {
    //! Go: `test/chan/goroutines.go` — Torture test for goroutines.
    //!
    //! Make a lot of goroutines, threaded together, and tear them down cleanly.

    use super::GoRuntime;
    use gogreen_channel::{Receiver, Sender, bounded};

    /// Go's default `n` (its first argument).
    const N: usize = if cfg!(miri) { 10 } else { 10000 };

    fn f(left: Sender<i32>, right: Receiver<i32>) {
        left.send(right.recv().unwrap()).unwrap();
    }

    pub fn main<G: GoRuntime>() {
        let (leftmost, leftmost_r) = bounded(0);
        let mut left = leftmost;
        for _ in 0..N {
            let (right, right_r) = bounded(0);
            G::go(move || f(left, right_r));
            left = right;
        }
        G::go(move || left.send(1).unwrap());
        leftmost_r.recv().unwrap();
    }
}

/// The programs on OS threads.
mod os_threads {
    fn run(f: impl FnOnce()) {
        f()
    }

    go_tests!(crate, crate::OsThreads, run);
}

/// Goroutines as gogreen's green threads.
#[cfg(not(miri))]
pub struct Green;

#[cfg(not(miri))]
impl GoRuntime for Green {
    fn go<F: FnOnce() + Send + 'static>(f: F) {
        drop(gogreen::spawn(f));
    }

    fn sleep(d: Duration) {
        gogreen::sleep(d);
    }

    fn gosched() {
        gogreen::yield_now();
    }
}

/// The same programs on green threads, `main` included (Miri cannot run the runtime's
/// assembly).
#[cfg(not(miri))]
mod green_threads {
    #[test]
    fn the_programs_run_on_green_threads() {
        // The seam is the runtime's: this channel crate and gogreen's are one.
        assert!(gogreen::run(gogreen_channel::park::in_green_thread));
    }

    go_tests!(crate, crate::Green, gogreen::run);
}
