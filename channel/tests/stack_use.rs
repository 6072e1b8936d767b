//! How much stack a send, a receive and a select of a large message use, per flavor.
//!
//! A message is moved through several generic functions on its way in or out of a
//! channel; each by-value step that is not optimized away is one more copy of it on the
//! stack, and a green thread's stack is small (64 KiB by default). The measure: the
//! measuring thread paints the stack below its frame with a pattern, runs the operation,
//! and finds the deepest byte that changed. The operation's closure holds the message
//! itself (the caller's one unavoidable copy), so "about one copy of stack" means a
//! depth of the message's size plus a few hundred bytes of frames.
//!
//! A send or a receive costs no copy beyond the caller's: a send hands the flavors a
//! pointer to its message, which is copied once, into a slot or straight into a waiting
//! receiver's `Result`; a receive returns the `Result` its flavor built where the message
//! lay. A `select!` receive costs one more, in the frame the macro expands into, where each
//! arm's `Result` is a temporary.
//!
//! Run with `--nocapture` to see the table that `docs/channels.md` quotes.

use std::hint::black_box;
use std::thread;
use std::time::Duration;

use gogreen_channel::{Receiver, Select, Sender, bounded, select, unbounded};

/// Bytes painted below the measuring frame: more than any operation here uses.
const PAINT: usize = 256 * 1024;
/// Left alone just below the measuring frame, for `paint`'s own frame and `memset`'s.
const GAP: usize = 4096;
const COLOR: u8 = 0xA5;

/// The address of a byte in the caller's frame: a stack pointer, near enough.
#[inline(always)]
fn sp() -> usize {
    let marker = 0u8;
    black_box(&marker) as *const u8 as usize
}

/// Paints `[top - GAP - PAINT, top - GAP)`, below the caller's frame, which the
/// operation run next will overwrite as deep as it goes.
#[inline(never)]
fn paint(top: usize) {
    let base = (top - GAP - PAINT) as *mut u8;
    // SAFETY: the measuring thread's stack is 1 MiB (see `measure`), so the painted range
    // is inside it and below every live frame; nothing reads it before it is overwritten.
    unsafe { std::ptr::write_bytes(black_box(base), COLOR, PAINT) };
}

/// Runs `op` in frames of its own, below the measuring frame (not inlined into it, where
/// the paint would overwrite its locals).
#[inline(never)]
fn run(op: Box<dyn FnOnce() + Send>) {
    op();
}

/// The stack `op` uses below the measuring frame, in bytes, on a fresh OS thread.
fn measure(op: impl FnOnce() + Send + 'static) -> usize {
    let op: Box<dyn FnOnce() + Send> = Box::new(op);
    thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            let top = sp();
            paint(top);
            run(op);
            let base = top - GAP - PAINT;
            // SAFETY: as in `paint`; volatile, so the reads are not assumed to see the
            // pattern written there.
            let untouched = (0..PAINT)
                .take_while(
                    |&i| unsafe { std::ptr::read_volatile((base + i) as *const u8) } == COLOR,
                )
                .count();
            top - (base + untouched)
        })
        .unwrap()
        .join()
        .unwrap()
}

/// A large message: 16 KiB, 4 KiB-aligned (alignment makes every copy's frame bigger).
#[derive(Clone, Copy)]
#[repr(C, align(4096))]
struct Big([u8; 16 * 1024]);

const SIZE: usize = std::mem::size_of::<Big>();

type Make = fn() -> (Sender<Big>, Receiver<Big>);

fn flavors() -> Vec<(&'static str, Make)> {
    vec![
        ("rendezvous", || bounded(0)),
        ("bounded(1)", || bounded(1)),
        ("unbounded", unbounded),
    ]
}

/// Lets the peer thread get into its blocking call first.
fn later() {
    thread::sleep(Duration::from_millis(20));
}

// What a caller does, in frames of their own. `recv_one` holds the received message (one
// copy); `send_one` builds the message it sends (one copy); `one_copy` only builds one,
// which is the baseline: the channel's cost is the depth beyond it.

#[inline(never)]
fn one_copy(fill: u8) -> u8 {
    let m = Big([fill; SIZE]);
    black_box(&m).0[1]
}

#[inline(never)]
fn send_one(s: &Sender<Big>, fill: u8) -> bool {
    s.send(Big([fill; SIZE])).is_ok()
}

#[inline(never)]
fn recv_one(r: &Receiver<Big>) -> u8 {
    match &r.recv() {
        Ok(m) => black_box(m).0[1],
        Err(_) => 0,
    }
}

#[inline(never)]
fn select_recv_one(r: &Receiver<Big>, r2: &Receiver<Big>) -> u8 {
    select! {
        recv(r) -> m => match &m { Ok(m) => black_box(m).0[1], Err(_) => 0 },
        recv(r2) -> _ => 0,
    }
}

#[inline(never)]
fn select_send_one(s: &Sender<Big>, fill: u8) -> bool {
    let mut sel = Select::new();
    sel.send(s);
    let oper = sel.select();
    oper.send(s, Big([fill; SIZE])).is_ok()
}

#[inline(never)]
fn iter_recv_one(r: &Receiver<Big>) -> u8 {
    r.iter().next().as_ref().map_or(0, |m| black_box(m).0[1])
}

#[inline(never)]
fn macro_send_one(s: &Sender<Big>, fill: u8) -> bool {
    select! {
        send(s, Big([fill; SIZE])) -> res => res.is_ok(),
    }
}

#[inline(never)]
fn send_timeout_one(s: &Sender<Big>, fill: u8) -> bool {
    s.send_timeout(Big([fill; SIZE]), Duration::from_secs(10))
        .is_ok()
}

#[inline(never)]
fn dyn_select_recv_one(r: &Receiver<Big>) -> u8 {
    let mut sel = Select::new();
    sel.recv(r);
    let oper = sel.select();
    match &oper.recv(r) {
        Ok(m) => black_box(m).0[1],
        Err(_) => 0,
    }
}

/// Prints a row of the table; returns a complaint if `depth` is more than `copies` more
/// messages (and a few KiB of frames and alignment) beyond the baseline.
fn check(name: &str, op: &str, depth: usize, baseline: usize, copies: usize) -> Option<String> {
    println!(
        "{name:<11} {op:<24} {depth:>6} B  ({:+} B beyond one message in the caller)",
        depth as isize - baseline as isize
    );
    // A copy of a 4 KiB-aligned message may cost up to 4 KiB of alignment too.
    let bound = baseline + copies * (SIZE + 4096) + 6 * 1024;
    // Optimized code only; debug builds copy everything several times.
    (!cfg!(debug_assertions) && depth >= bound)
        .then(|| format!("{name} {op} uses {depth} bytes of stack, more than {bound}"))
}

#[test]
#[cfg_attr(miri, ignore = "Miri's stacks are not laid out like native ones")]
fn large_messages_cost_about_one_copy() {
    let baseline = measure(|| {
        black_box(one_copy(0));
    });
    println!("a {SIZE} B message, 4 KiB-aligned, built in the caller: {baseline} B");
    let mut complaints = Vec::new();
    for (name, make) in flavors() {
        // recv that finds the message (or a blocked sender).
        let (s, r) = make();
        let peer = thread::spawn(move || {
            assert!(send_one(&s, 1));
            s
        });
        if name == "rendezvous" {
            later();
        }
        let d = measure(move || assert_eq!(recv_one(&r), 1));
        drop(peer.join().unwrap());
        complaints.extend(check(name, "recv (ready)", d, baseline, 0));

        // recv that blocks until the message comes.
        let (s, r) = make();
        let peer = thread::spawn(move || {
            later();
            assert!(send_one(&s, 2));
        });
        let d = measure(move || assert_eq!(recv_one(&r), 2));
        peer.join().unwrap();
        complaints.extend(check(name, "recv (blocking)", d, baseline, 0));

        // The blocking iterator.
        let (s, r) = make();
        let peer = thread::spawn(move || {
            later();
            assert!(send_one(&s, 2));
        });
        let d = measure(move || assert_eq!(iter_recv_one(&r), 2));
        peer.join().unwrap();
        complaints.extend(check(name, "iter().next() (blocking)", d, baseline, 0));

        // send that finds room (or a blocked receiver).
        let (s, r) = make();
        let peer = thread::spawn(move || recv_one(&r));
        if name == "rendezvous" {
            later();
        }
        let d = measure(move || assert!(send_one(&s, 3)));
        assert_eq!(peer.join().unwrap(), 3);
        complaints.extend(check(name, "send (ready)", d, baseline, 0));

        // send that blocks until a receiver takes it (rendezvous) or makes room.
        let (s, r) = make();
        if name == "bounded(1)" {
            assert!(send_one(&s, 0));
        }
        let peer = thread::spawn(move || {
            later();
            let mut last = 0;
            while let Ok(m) = r.recv_timeout(Duration::from_millis(200)) {
                last = black_box(m).0[0];
            }
            last
        });
        let d = measure(move || assert!(send_one(&s, 4)));
        assert_eq!(peer.join().unwrap(), 4);
        complaints.extend(check(name, "send (blocking)", d, baseline, 0));

        // select! receive arm that blocks.
        let (s, r) = make();
        let (_s2, r2) = make();
        let peer = thread::spawn(move || {
            later();
            assert!(send_one(&s, 5));
        });
        let d = measure(move || assert_eq!(select_recv_one(&r, &r2), 5));
        peer.join().unwrap();
        complaints.extend(check(name, "select! recv (blocking)", d, baseline, 1));

        // Select send arm that finds a receiver or room.
        let (s, r) = make();
        let peer = thread::spawn(move || recv_one(&r));
        if name == "rendezvous" {
            later();
        }
        let d = measure(move || assert!(select_send_one(&s, 6)));
        assert_eq!(peer.join().unwrap(), 6);
        complaints.extend(check(name, "Select send", d, baseline, 0));

        // select! send arm, send_timeout, Select receive: each finds its peer waiting.
        let (s, r) = make();
        let (s2, s3, r2) = (s.clone(), s.clone(), r.clone());
        let peer = thread::spawn(move || {
            let got = [recv_one(&r), recv_one(&r)];
            later();
            assert!(send_one(&s, 9));
            got
        });
        if name == "rendezvous" {
            later();
        }
        let d = measure(move || assert!(macro_send_one(&s2, 7)));
        complaints.extend(check(name, "select! send", d, baseline, 1));
        if name == "rendezvous" {
            later();
        }
        let d = measure(move || assert!(send_timeout_one(&s3, 8)));
        complaints.extend(check(name, "send_timeout", d, baseline, 0));
        // The peer takes 8 before it sends 9.
        while !r2.is_empty() {
            thread::sleep(Duration::from_millis(1));
        }
        let d = measure(move || assert_eq!(dyn_select_recv_one(&r2), 9));
        complaints.extend(check(name, "Select recv (blocking)", d, baseline, 0));
        assert_eq!(peer.join().unwrap(), [7, 8]);
    }
    assert!(complaints.is_empty(), "{complaints:#?}");
}
