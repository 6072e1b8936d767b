//! How much stack common operations take on a green thread: the measurements behind
//! `MIN_STACK_SIZE`, `DEFAULT_STACK_SIZE` and the table in `docs/stacks.md`.
//!
//! `cargo run --release --example stack_budget` runs every case in a child process of
//! its own (`RUST_BACKTRACE` is read once per process, and a backtrace is symbolised
//! from scratch only the first time) and prints a Markdown table. `stack_budget CASE`
//! runs one case and prints `CASE BYTES`.
//!
//! The method: a green thread with a 1 MiB stack paints the stack below its frame with
//! a pattern, runs the case, and finds the lowest word that no longer holds the
//! pattern. Two figures: from the top of the slot to that word (the runtime's entry
//! frames, the measuring frame — about 100 bytes — and the case), and from where the
//! case started (or from where it marked its call, for the `_deep` cases) to that
//! word: what the operation needs below the point it is called at. Both include
//! whatever the runtime ran on this stack meanwhile (the switch when the case parks,
//! and the start of the next green thread on the same processor).

use gogreen::chan;
use std::hint::black_box;
use std::panic::catch_unwind;
use std::process::Command;
use std::time::Duration;

/// The stack of the measuring green thread.
const SIZE: usize = 1 << 20;
const PAGE: usize = 4096;
const PATTERN: u64 = 0x5ca1_ab1e_f00d_d00d;
/// Not painted: the measuring frames' own neighbourhood. A case that uses less shows
/// this much below its call.
const SKIP: usize = 256;

type Case = (&'static str, &'static str, fn());

/// Each case: name, what it does, the code (run on the measured stack).
const CASES: &[Case] = &[
    (
        "entry",
        "nothing: the runtime's entry frames and the measuring frame",
        || {},
    ),
    (
        "yield",
        "`yield_now` (switch to another green thread and back)",
        || gogreen::yield_now(),
    ),
    ("sleep", "`sleep(1 ms)` (timer, park, switch)", || {
        gogreen::sleep(Duration::from_millis(1))
    }),
    (
        "spawn_join",
        "spawn a task and join it (park until it ends)",
        || {
            gogreen::spawn(|| black_box(1)).join().unwrap();
        },
    ),
    (
        "spawn_new_size",
        "the first spawn of a new stack size: carve a reservation, install guards",
        || {
            gogreen::Builder::new()
                .stack_size(80 * 1024)
                .spawn(|| black_box(1))
                .unwrap()
                .join()
                .unwrap();
        },
    ),
    (
        "channel",
        "rendezvous send and receive with another task (parks)",
        || {
            let (tx, rx) = chan::bounded::<u64>(0);
            let (tx2, rx2) = chan::bounded::<u64>(0);
            let h = gogreen::spawn(move || {
                let v = rx.recv().unwrap();
                tx2.send(v + 1).unwrap();
            });
            tx.send(1).unwrap();
            assert_eq!(rx2.recv().unwrap(), 2);
            h.join().unwrap();
        },
    ),
    (
        "select",
        "`select!` over two channels with a 1 ms timeout",
        || {
            let (_tx, rx) = chan::bounded::<u64>(1);
            let never = chan::never::<u64>();
            gogreen::select! {
                recv(rx) -> _ => {},
                recv(never) -> _ => {},
                default(Duration::from_millis(1)) => {},
            }
        },
    ),
    ("waitgroup", "`WaitGroup::wait` for another task", || {
        let wg = gogreen::sync::WaitGroup::new();
        wg.add(1);
        let w = wg.clone();
        gogreen::spawn(move || w.done());
        wg.wait();
    }),
    ("task_local", "first access to a task-local", || {
        gogreen::task_local! { static X: std::cell::Cell<u64> = std::cell::Cell::new(1); }
        X.with(|x| black_box(x.get()));
    }),
    ("println", "`println!` with two arguments", || {
        println!("{} {}", black_box(42), black_box("stack"));
    }),
    (
        "format",
        "`format!(\"{:?}\")` of a vector of floats",
        || {
            black_box(format!("{:?}", black_box(vec![1.5f64; 16])));
        },
    ),
    (
        "read_file",
        "`std::fs::read_to_string` of a small file",
        || {
            black_box(std::fs::read_to_string("/proc/self/stat").unwrap());
        },
    ),
    (
        "io_copy",
        "`std::io::copy` between a reader and a writer of our own",
        || {
            // No specialisation applies: the generic loop, with its buffer.
            struct Sevens(usize);
            impl std::io::Read for Sevens {
                fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                    let n = buf.len().min(self.0);
                    buf[..n].fill(7);
                    self.0 -= n;
                    Ok(n)
                }
            }
            struct Count(usize);
            impl std::io::Write for Count {
                fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                    self.0 += buf.len();
                    Ok(buf.len())
                }
                fn flush(&mut self) -> std::io::Result<()> {
                    Ok(())
                }
            }
            let mut out = Count(0);
            std::io::copy(&mut Sevens(100_000), &mut out).unwrap();
            black_box(out.0);
        },
    ),
    (
        "resolve",
        "`(\"localhost\", 80).to_socket_addrs()` (getaddrinfo)",
        || {
            use std::net::ToSocketAddrs;
            black_box(("localhost", 80).to_socket_addrs().map(|a| a.count()).ok());
        },
    ),
    (
        "backtrace",
        "`Backtrace::force_capture()`, then formatted (symbolised)",
        || {
            let bt = std::backtrace::Backtrace::force_capture();
            black_box(bt.to_string());
        },
    ),
    (
        "panic_silent",
        "a caught panic whose hook does nothing: the unwinding alone",
        || {
            std::panic::set_hook(Box::new(|_| {}));
            let r = catch_unwind(|| panic!("boom {}", black_box(7)));
            black_box(r.is_err());
        },
    ),
    (
        "panic",
        "a caught panic with a formatted message, the default hook printing it",
        || {
            let r = catch_unwind(|| panic!("boom {}", black_box(7)));
            black_box(r.is_err());
        },
    ),
    (
        "panic_deep",
        "the same, called with less than 32 KiB left: the hook moves to a segment",
        || {
            deep(24 * 1024, || {
                let r = catch_unwind(|| panic!("boom {}", black_box(7)));
                black_box(r.is_err());
            })
        },
    ),
    (
        "panic_twice",
        "the second of two caught panics (symbolisation caches warm)",
        || {
            let _ = catch_unwind(|| panic!("first"));
            paint_again();
            let r = catch_unwind(|| panic!("boom {}", black_box(7)));
            black_box(r.is_err());
        },
    ),
];

/// Set by `panic_twice`: paint again after the first panic, so only the second counts.
static mut REPAINT: Option<fn()> = None;

fn paint_again() {
    // SAFETY: set before the case runs, on this thread only.
    if let Some(f) = unsafe { REPAINT } {
        f();
    }
}

#[inline(always)]
fn sp() -> usize {
    let sp: usize;
    // SAFETY: reads rsp.
    unsafe {
        std::arch::asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack, preserves_flags))
    };
    sp
}

/// Paints `[low, high)` with the pattern.
#[inline(never)]
fn paint(low: usize, high: usize) {
    let mut p = low;
    while p < high {
        // SAFETY: below the caller's frame, above the guard page: unused stack.
        unsafe { std::ptr::write_volatile(p as *mut u64, PATTERN) };
        p += 8;
    }
}

static mut PAINTED: (usize, usize) = (0, 0);
/// Where the measured call starts: set by `measure`, moved down by `deep`.
static mut MARK: usize = 0;

/// Recurses until fewer than `left` bytes of stack remain, then marks the spot and
/// runs `f` there.
#[inline(never)]
fn deep(left: usize, f: fn()) {
    let frame = black_box([0u8; 512]);
    if gogreen::stack::remaining().unwrap() > left {
        deep(left, f);
    } else {
        // SAFETY: single-threaded use by this green thread.
        unsafe { MARK = sp() };
        f();
    }
    black_box(frame);
}

fn repaint() {
    // SAFETY: written by `measure` on this thread before the case runs.
    let (low, high) = unsafe { PAINTED };
    paint(low, high);
}

/// Bytes of stack `case` used: from the top of the slot, and below its mark.
#[inline(never)]
fn measure(case: fn()) -> (usize, usize) {
    let left = gogreen::stack::remaining().expect("a green thread");
    let here = sp();
    // The stack's usable part is `[here - left, here]`; keep a page off the guard.
    let low = here - left + PAGE;
    let high = here - SKIP;
    // SAFETY: single-threaded use by this green thread.
    unsafe {
        PAINTED = (low, high);
        REPAINT = Some(repaint);
        MARK = here;
    }
    paint(low, high);
    case();
    let mut p = low;
    while p < high {
        // SAFETY: inside the painted range.
        if unsafe { std::ptr::read_volatile(p as *const u64) } != PATTERN {
            break;
        }
        p += 8;
    }
    assert!(
        p > low,
        "the case ran into the last painted page: use a bigger stack"
    );
    // From the top of the slot: SIZE minus the guard page minus what was left below here,
    // plus how far below here the case went.
    // SAFETY: as above.
    let mark = unsafe { MARK };
    ((SIZE - PAGE - left) + (here - p), mark - p)
}

fn run_case(name: &str) {
    let Some(&(_, _, case)) = CASES.iter().find(|c| c.0 == name) else {
        eprintln!("stack_budget: no case {name:?}");
        std::process::exit(2);
    };
    let (used, below) = gogreen::Builder::new()
        .stack_size(SIZE)
        .spawn(move || measure(case))
        .unwrap()
        .join()
        .unwrap();
    println!("{name} {used} {below}");
}

fn main() {
    if let Some(name) = std::env::args().nth(1) {
        run_case(&name);
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let run = |name: &str, bt: Option<&str>| -> String {
        let mut cmd = Command::new(&exe);
        cmd.arg(name).env("GOGREEN_PROCS", "1");
        match bt {
            Some(v) => cmd.env("RUST_BACKTRACE", v),
            None => cmd.env_remove("RUST_BACKTRACE"),
        };
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("case {name} printed nothing: {out:?}"));
        let mut f = line.split(' ').skip(1);
        let (top, below) = (f.next().unwrap(), f.next().unwrap());
        // The `_deep` cases spent most of the stack on purpose before their call.
        let top = if name.ends_with("_deep") { "—" } else { top };
        format!("{top} | {below}")
    };
    println!("| case | what it does | from the slot's top | below the call |");
    println!("|---|---|---:|---:|");
    for &(name, what, _) in CASES {
        if name.starts_with("panic") {
            for (bt, label) in [(None, "unset"), (Some("1"), "1"), (Some("full"), "full")] {
                println!(
                    "| {name}, RUST_BACKTRACE={label} | {what} | {} |",
                    run(name, bt)
                );
            }
        } else {
            println!("| {name} | {what} | {} |", run(name, None));
        }
    }
}
