//! The deadlock report: when it is proven that no green thread can ever run again,
//! `gogreen: fatal: all green threads are asleep - deadlock!`, the task dump, and exit
//! status 2 (Go's).
//!
//! # What counts as proof
//!
//! A green thread runs again only if something readies it: a running green thread, a
//! timer, the netpoller, a blocking call that returns, or an OS thread — any thread of
//! the process, since any of them may hold a `Sender`. So the report needs, at one
//! instant:
//!
//! - every live green thread parked (`WAITING`), none of them on I/O, none in a
//!   blocking call, none runnable or running — at least one of them;
//! - no timer in any heap (so no sleep, timeout or timer channel can fire), and none
//!   being fired;
//! - every processor idle and every run queue empty;
//! - every thread of the process either the runtime's own (an M, sysmon, the `SIGQUIT`
//!   reader) or parked in the channel crate's park seam without a deadline
//!   (`gogreen_channel::park::blocked_os_threads`) — the main thread blocked in
//!   `gogreen::run` or a `join`, say.
//!
//! Anything else and the check stays silent: an OS thread that runs, sleeps, waits on
//! a std lock, a pipe or a timeout may yet send; the runtime cannot know, so it never
//! guesses. Waits outside the seam — a green thread spinning, a std `Mutex` — hold a P
//! and are never "asleep". The only price is missed reports, listed in
//! `docs/watching.md`.
//!
//! # The protocol
//!
//! sysmon runs it when it finds every P idle with no timer pending, right before it
//! would sleep (`sysmon.rs`); the checks read one thing at a time while the Ms and the
//! OS threads run on, so the order is what makes it sound:
//!
//! 1. Note every OS thread parked in the seam, with its park word (look 1).
//! 2. Take the idle lists' lock. While it is held no M can take a P, so no green thread
//!    runs, and a green thread moves `ACTIVE` → `WAITING` only on an M that holds a P
//!    (the commit of a park comes before the P is released): from here on a green
//!    thread can only be woken, never put to sleep.
//! 3. Under the lock: every P in play is on the idle list.
//! 4. No timer in any heap, then no timer being fired (`Runtime::timers_firing`, SeqCst
//!    both). Timers are added only by running code, which step 2 stopped — but an idle
//!    M may have taken due entries out before step 4 read the heaps and be about to wake
//!    their green threads: it counts itself in `timers_firing` before it takes them and
//!    after it has queued their green threads, so whatever it woke is seen `ACTIVE` in
//!    step 6, and what it has yet to take is seen in the heaps.
//! 5. The global queue and every P's queue and `runnext` empty; no green thread waits
//!    on the netpoller.
//! 6. Every green-thread header: pooled, finished, or `WAITING` for a reason other
//!    than I/O. A green thread read `WAITING` here stays so through step 7: running
//!    green threads are stopped (2), timers are gone (4), the netpoller wakes only
//!    I/O waiters (5), and the OS threads are parked (checked in 8, over an interval
//!    that covers this one).
//! 7. List the threads of the process (`/proc/self/task`): each must be an M, sysmon
//!    (the caller), the `SIGQUIT` reader, or a thread of look 1. Release the lock.
//! 8. Note the parked OS threads again (look 2): each thread of step 7 that is not the
//!    runtime's must be in both looks with the same word — parked throughout, never
//!    woken (a wake-up changes the word, and so does parking again; a spurious return
//!    of the futex parks again without running a line of the caller's code).
//!
//! At the instant of step 7 nothing that can act exists: every green thread waits on
//! something only a green thread or one of those parked threads could provide, no
//! timer or socket will fire, and no other thread exists to start one (a thread is
//! created only by running code). So the state is final, and the report is true.
//!
//! Two shortcuts, not steps of the proof, spare the common "no" its cost: a thread the
//! seam knows that is not parked (the main thread of a program that keeps the runtime
//! going idle between its requests) ends the check after look 1; and, before the walk
//! over every G header, more threads in the process (`/proc/self/stat`) than the
//! runtime's and the parked ones end it too.
//!
//! Missed, not false: a thread in the middle of starting or ending, and an OS thread
//! outside gogreen that ends only after the green threads have deadlocked (nothing
//! calls sysmon back then); a stale timer (a timeout whose wait ended early keeps its
//! heap entry until its deadline: the report then comes at that deadline); a dump in
//! progress. And the check reports no deadlock among OS threads alone: at least one
//! green thread must wait.
//!
//! # When sysmon looks again
//!
//! sysmon sleeps once every P is idle, and is woken when one becomes busy; a deadlock
//! it missed because the main thread had not yet blocked would then go unreported. So
//! when the check failed only on OS threads, sysmon sets [`CANDIDATE`] before the look
//! and the seam calls [`os_thread_parked`] after an OS thread is listed as parked,
//! with a SeqCst fence on both sides (Dekker): either sysmon's look 1 or 8 sees the
//! thread parked, or the thread sees `CANDIDATE` and unparks sysmon — asleep, or about
//! to sleep, which its parker's token turns into a return at once — which checks again.
//!
//! Rejected: a timeout ("nothing happened for a second") — a slow machine or a long
//! computation on a plain thread would make it lie; counting only threads that ever
//! touched the runtime — a thread that holds a `Sender` and sleeps in
//! `std::thread::sleep` never did.

use super::census;
use super::dump;
use super::g::{COMPLETE, HANDLE, RUNNING};
use super::runtime::{RUNTIME, Runtime};
use super::state::Status;
use gogreen_channel::park::{WaitReason, blocked_os_threads};
use std::fs::File;
use std::io::Write as _;
use std::os::unix::fs::FileExt as _;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering, fence};

/// sysmon's last check failed only because some OS thread was not parked: the next OS
/// thread that parks in the seam wakes sysmon (see the module docs).
static CANDIDATE: AtomicBool = AtomicBool::new(false);

/// What a check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// No green thread can ever run again.
    Deadlock,
    /// Green threads are stuck, but some thread of the process may yet act.
    ThreadsAwake,
    /// An idle M is firing timers: look again in a moment.
    Settling,
    /// Work is going on, or may come (a timer, I/O, a blocking call).
    Live,
}

/// Runs the check of the module docs; sysmon calls it, with every P idle.
pub(crate) fn check(rt: &Runtime) -> Verdict {
    // Armed before look 1; pairs with the fence in the seam (see "When sysmon looks
    // again").
    CANDIDATE.store(true, Ordering::SeqCst);
    fence(Ordering::SeqCst);
    let verdict = look(rt);
    if verdict != Verdict::ThreadsAwake {
        CANDIDATE.store(false, Ordering::Relaxed);
    }
    verdict
}

/// Steps 1–8.
fn look(rt: &Runtime) -> Verdict {
    // SAFETY: gettid has no preconditions.
    let me = unsafe { libc::gettid() };
    let ms = rt.live_ms();
    let ours = |tid: i32| {
        tid == me
            || ms.iter().any(|m| m.tid.load(Ordering::Relaxed) == tid)
            || super::sigquit::is_reader(tid)
    };
    let (mut before, mut awake) = (Vec::new(), Vec::new());
    blocked_os_threads(&mut before, &mut awake); // 1
    // A shortcut, not a step of the proof: a thread known to the seam that runs (an M
    // that once parked there through a blocking call is the runtime's, and counts not).
    // It is the common case of a program driven by its main thread that keeps the
    // runtime going idle between its requests: no file to read, no header to walk.
    if awake.iter().any(|&t| !ours(t)) {
        return Verdict::ThreadsAwake;
    }
    let verdict = rt.idle.with_lists(|pidle, _| {
        // 3.
        if rt.in_play().any(|p| !pidle.contains(&p.id)) {
            return Verdict::Live;
        }
        // 4.
        fence(Ordering::SeqCst);
        if rt.earliest_timer() != super::sleeper::NEVER {
            return Verdict::Live;
        }
        if rt.timers_firing.load(Ordering::SeqCst) != 0 {
            return Verdict::Settling;
        }
        // 5.
        if !rt.inject.is_empty()
            || rt
                .in_play()
                .any(|p| p.runq.len() != 0 || !p.runq.peek_runnext().is_null())
            || rt.netpoll.waiters() != 0
        {
            return Verdict::Live;
        }
        // Another shortcut before the walk over every G header: more threads than the
        // runtime's and the parked ones means some thread runs.
        let reader = usize::from(super::sigquit::reader_tid() != 0);
        if thread_count().is_none_or(|n| n > ms.len() + 1 + reader + before.len()) {
            return Verdict::ThreadsAwake;
        }
        // 6.
        let mut waiting = 0usize;
        let mut live = false;
        census::for_each_g(|g| {
            let join = g.join_bits();
            if live || join & (HANDLE | RUNNING) == 0 || join & COMPLETE != 0 {
                return;
            }
            match g.state.snapshot().1 {
                Status::Free => {}
                Status::Active => live = true,
                Status::Waiting => {
                    if g.wait().0 == WaitReason::Io {
                        live = true;
                    } else {
                        waiting += 1;
                    }
                }
            }
        });
        if live || waiting == 0 {
            return Verdict::Live;
        }
        // 7.
        let Some(tids) = threads() else {
            return Verdict::ThreadsAwake;
        };
        let accounted = |t: &i32| ours(*t) || before.iter().any(|(parked, _)| parked == t);
        if tids.iter().all(accounted) {
            Verdict::Deadlock
        } else {
            Verdict::ThreadsAwake
        }
    });
    if verdict != Verdict::Deadlock {
        return verdict;
    }
    // 8.
    let (mut after, mut awake) = (Vec::new(), Vec::new());
    blocked_os_threads(&mut after, &mut awake);
    if before.iter().all(|b| after.contains(b)) {
        Verdict::Deadlock
    } else {
        Verdict::ThreadsAwake
    }
}

/// `/proc/self/stat`, opened the first time the check gets that far and read again
/// with `pread`: the check runs at many idle moments, and a file opened each time
/// would take fd numbers in the background, from under a program (or a test) that
/// reuses a number it just closed. `None` if it could not be opened.
static STAT: OnceLock<Option<File>> = OnceLock::new();

/// How many threads the process has (`/proc/self/stat`, field 20), or `None`.
fn thread_count() -> Option<usize> {
    let file = STAT
        .get_or_init(|| File::open("/proc/self/stat").ok())
        .as_ref()?;
    let mut buf = [0u8; 1024];
    let n = file.read_at(&mut buf, 0).ok()?;
    let stat = std::str::from_utf8(&buf[..n]).ok()?;
    // The command name, field 2, is in parentheses and may hold spaces.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(17)?.parse().ok()
}

/// The kernel ids of every thread of the process, or `None` if they cannot be listed.
/// Opens a directory, so it takes an fd for a moment: only at step 7, when every
/// other sign says deadlock.
fn threads() -> Option<Vec<i32>> {
    let dir = std::fs::read_dir("/proc/self/task").ok()?;
    dir.map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// Prints the report and the dump to stderr and ends the process with status 2.
pub(crate) fn report(rt: &'static Runtime) -> ! {
    let text = format!(
        "gogreen: fatal: all green threads are asleep - deadlock!\n\n{}",
        dump::write(rt)
    );
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
    std::process::exit(2)
}

/// The seam's `os_thread_parked` hook: an OS thread has just blocked; if sysmon's last
/// check was waiting for that, wake it to check again.
pub(crate) fn os_thread_parked() {
    if CANDIDATE.load(Ordering::SeqCst)
        && CANDIDATE.swap(false, Ordering::SeqCst)
        && let Some(rt) = RUNTIME.get()
    {
        // Not `wake_sysmon`, which wakes it only once it says it sleeps: sysmon may be
        // between its check and its sleep, and the token makes that sleep return.
        let _ = rt.sysmon_parker.unpark();
    }
}
