//! No lost wake-ups between OS threads and green threads: work readied from outside the
//! runtime always runs, however the idle processors, spinning Ms and sysmon's spare
//! processors happen to stand at that moment. Each scenario runs in a child process
//! with a watchdog, since a lost wake-up is a hang.

mod common;

use std::time::Duration;

/// Rounds per scenario: enough to meet the rare interleavings, a second or two each.
const ROUNDS: u32 = 20_000;

fn scenario(name: &str) {
    for procs in ["1", "2"] {
        let out = common::run_child_watchdog("child", name, &[("GOGREEN_PROCS", procs)]);
        assert!(
            out.status.success(),
            "{name} with GOGREEN_PROCS={procs}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The child side of every scenario.
#[test]
fn child() {
    let Some(name) = common::child_scenario() else {
        return;
    };
    match name.as_str() {
        "os_sends_to_new_green_thread" => {
            for i in 0..ROUNDS {
                let (tx, rx) = gogreen::chan::bounded::<u32>(0);
                let h = gogreen::spawn(move || rx.recv().unwrap());
                tx.send(i).unwrap();
                assert_eq!(h.join().unwrap(), i);
            }
        }
        "os_times_out_then_green_thread_runs" => {
            // The OS thread's timed send may give up before the green thread runs;
            // the green thread must still run and finish.
            for i in 0..ROUNDS {
                let (tx, rx) = gogreen::chan::bounded::<u32>(0);
                let h = gogreen::spawn(move || rx.recv_timeout(Duration::from_micros(50)).ok());
                let sent = tx.send_timeout(i, Duration::from_micros(50)).is_ok();
                let got = h.join().unwrap();
                assert_eq!(sent, got == Some(i));
            }
        }
        "os_joins_green_thread_that_sleeps" => {
            for _ in 0..ROUNDS / 10 {
                let h = gogreen::spawn(|| gogreen::sleep(Duration::from_micros(20)));
                h.join().unwrap();
            }
        }
        "many_os_threads_spawn_and_join" => {
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    std::thread::spawn(|| {
                        for i in 0..ROUNDS / 4 {
                            assert_eq!(gogreen::spawn(move || i).join().unwrap(), i);
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
        }
        other => panic!("unknown scenario {other}"),
    }
}

#[test]
fn os_sends_to_new_green_thread() {
    scenario("os_sends_to_new_green_thread");
}

#[test]
fn os_times_out_then_green_thread_runs() {
    scenario("os_times_out_then_green_thread_runs");
}

#[test]
fn os_joins_green_thread_that_sleeps() {
    scenario("os_joins_green_thread_that_sleeps");
}

#[test]
fn many_os_threads_spawn_and_join() {
    scenario("many_os_threads_spawn_and_join");
}
