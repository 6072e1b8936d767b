//! The timeline trace (`gogreen::trace`, `GOGREEN_TRACE`): the file is trace-event JSON
//! that Perfetto opens, with a named track per M, a slice per run of a G, every spawned
//! G in it, and arrows whose two ends match; start and stop pair up, and errors come
//! back as `io::Error`.

mod common;

use gogreen::chan;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// Tracing is process-wide: the tests that start it take turns.
static TRACING: Mutex<()> = Mutex::new(());

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("gogreen-trace-{}-{name}.json", std::process::id()))
}

/// Spawns `n` named green threads that each send their id, then wait for a go — most
/// park on that receive, as the go comes only once every id is in — and joins them.
/// Returns their ids.
fn workload(n: usize) -> Vec<u64> {
    gogreen::run(move || {
        let (to_main, from_tasks) = chan::bounded::<u64>(0);
        let mut handles = Vec::new();
        let mut senders = Vec::new();
        for i in 0..n {
            let (tx, rx) = chan::bounded::<()>(0);
            let to_main = to_main.clone();
            let h = gogreen::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(move || {
                    to_main.send(gogreen::current().unwrap().id()).unwrap();
                    rx.recv().unwrap();
                })
                .unwrap();
            handles.push(h);
            senders.push(tx);
        }
        let ids: Vec<u64> = (0..n).map(|_| from_tasks.recv().unwrap()).collect();
        for tx in &senders {
            tx.send(()).unwrap();
        }
        for h in handles {
            h.join().unwrap();
        }
        ids
    })
}

/// What the checks need from a trace file.
struct Trace {
    events: Vec<Value>,
}

impl Trace {
    fn load(path: &PathBuf) -> Trace {
        let text = std::fs::read_to_string(path).expect("the trace file exists");
        let doc: Value = serde_json::from_str(&text).expect("the trace is valid JSON");
        let events = doc["traceEvents"]
            .as_array()
            .expect("a traceEvents array")
            .clone();
        Trace { events }
    }

    fn with_ph<'a>(&'a self, ph: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.events.iter().filter(move |e| e["ph"] == ph)
    }

    /// Slices on the M tracks (process 1), by task id.
    fn runs_by_g(&self) -> BTreeMap<u64, usize> {
        let mut runs = BTreeMap::new();
        for e in self
            .with_ph("X")
            .filter(|e| e["pid"] == 1 && e["cat"] == "run")
        {
            *runs.entry(e["args"]["g"].as_u64().unwrap()).or_insert(0) += 1;
        }
        runs
    }

    /// Checks what every trace must satisfy: fields of each event, named tracks,
    /// slices that do not overlap on one track, arrows with both ends.
    fn check_shape(&self) {
        let mut named = BTreeSet::new();
        for e in self.with_ph("M").filter(|e| e["name"] == "thread_name") {
            named.insert((e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap()));
            assert!(e["args"]["name"].is_string(), "{e}");
        }
        let mut tracks: BTreeMap<(u64, u64), Vec<(f64, f64)>> = BTreeMap::new();
        for e in &self.events {
            let ph = e["ph"].as_str().expect("every event has a ph");
            assert!(e["pid"].is_u64() && e["tid"].is_u64(), "pid and tid: {e}");
            if ph == "M" {
                continue;
            }
            let ts = e["ts"].as_f64().expect("every event has a ts");
            let track = (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap());
            assert!(named.contains(&track), "track {track:?} has no name: {e}");
            if ph == "X" {
                assert!(e["name"].is_string(), "{e}");
                let dur = e["dur"].as_f64().expect("a slice has a dur");
                tracks.entry(track).or_default().push((ts, ts + dur));
            }
        }
        for slices in tracks.values_mut() {
            slices.sort_by(|a, b| a.partial_cmp(b).unwrap());
        }
        // Each end of an arrow sits inside a run on its track: the waker's, and the woken
        // G's next (the viewers bind an arrow to those slices).
        for e in self.with_ph("s").chain(self.with_ph("f")) {
            let track = (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap());
            let ts = e["ts"].as_f64().unwrap();
            let inside = tracks
                .get(&track)
                .is_some_and(|s| s.iter().any(|&(a, b)| a <= ts && ts <= b));
            assert!(inside, "an arrow's end outside any run: {e}");
        }
        for (track, slices) in tracks {
            for w in slices.windows(2) {
                assert!(
                    w[0].1 <= w[1].0 + 1e-9,
                    "overlapping slices on track {track:?}: {:?} and {:?}",
                    w[0],
                    w[1]
                );
            }
        }
        let starts: BTreeSet<u64> = self
            .with_ph("s")
            .map(|e| e["id"].as_u64().unwrap())
            .collect();
        for f in self.with_ph("f") {
            let id = f["id"].as_u64().unwrap();
            assert!(starts.contains(&id), "arrow {id} ends but never starts");
        }
    }
}

#[test]
fn a_trace_has_a_track_per_m_a_slice_per_run_and_every_g() {
    let _turn = TRACING.lock().unwrap_or_else(|e| e.into_inner());
    let path = temp_path("every-g");
    gogreen::trace::start(&path).unwrap();
    assert!(gogreen::trace::is_on());
    let ids = workload(40);
    // A name that JSON must escape.
    let odd = gogreen::Builder::new()
        .name("odd \"name\" \\ with\ttab")
        .spawn(|| gogreen::current().unwrap().id())
        .unwrap()
        .join()
        .unwrap();
    gogreen::trace::stop().unwrap();
    assert!(!gogreen::trace::is_on());
    let trace = Trace::load(&path);
    trace.check_shape();

    let m_tracks: BTreeSet<u64> = trace
        .with_ph("M")
        .filter(|e| {
            e["pid"] == 1
                && e["name"] == "thread_name"
                && e["args"]["name"].as_str().unwrap().starts_with('M')
        })
        .map(|e| e["tid"].as_u64().unwrap())
        .collect();
    assert!(!m_tracks.is_empty(), "no M track");
    let runs = trace.runs_by_g();
    for id in &ids {
        assert!(
            runs.get(id).copied().unwrap_or(0) >= 1,
            "G{id} has no slice"
        );
        assert!(
            trace
                .with_ph("i")
                .any(|e| e["name"].as_str().unwrap().starts_with("spawn worker-")
                    && e["args"]["g"] == *id),
            "G{id}'s spawn is missing"
        );
    }
    assert!(
        trace
            .with_ph("X")
            .any(|e| e["name"] == format!("odd \"name\" \\ with\ttab (G{odd})").as_str()),
        "the odd name comes back as it was"
    );
    // A slice per run: each worker's runs end in a park (one per `park` mark), a yield,
    // or its one exit — or, if `stop` came while the worker was switching away for the
    // last time (its joiner already woken), in the trace's end.
    for id in &ids {
        let ends: Vec<String> = trace
            .with_ph("X")
            .filter(|e| e["pid"] == 1 && e["args"]["g"] == *id)
            .map(|e| e["args"]["end"].as_str().unwrap().to_string())
            .collect();
        let parks = trace
            .with_ph("i")
            .filter(|e| {
                e["name"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("park G{id}:"))
            })
            .count();
        assert_eq!(
            ends.iter().filter(|e| e.starts_with("park: ")).count(),
            parks
        );
        let last = ends
            .iter()
            .filter(|e| *e == "exit" || *e == "trace stopped")
            .count();
        assert_eq!(last, 1, "G{id}: {ends:?}");
        assert!(
            ends.iter().all(|e| e.starts_with("park: ")
                || ["exit", "yield", "trace stopped"].contains(&e.as_str())),
            "G{id}: {ends:?}"
        );
    }
    let named = trace
        .with_ph("X")
        .filter(|e| e["name"].as_str().unwrap().starts_with("worker-"))
        .count();
    assert!(named >= ids.len(), "slices carry the task's name");
    // A worker parked on its receive, and its slice says so.
    assert!(
        trace
            .with_ph("X")
            .any(|e| e["args"]["end"] == "park: chan receive"),
        "no run ended in a receive"
    );
    // Every run on a P is also on that P's track.
    let on_ms = trace
        .with_ph("X")
        .filter(|e| e["pid"] == 1 && !e["args"]["p"].is_null())
        .count();
    let on_ps = trace.with_ph("X").filter(|e| e["pid"] == 2).count();
    assert_eq!(on_ms, on_ps);
    // Spawns and wake-ups by a G draw arrows.
    assert!(trace.with_ph("f").count() >= ids.len());
    std::fs::remove_file(&path).ok();
}

#[test]
fn start_and_stop_twice() {
    let _turn = TRACING.lock().unwrap_or_else(|e| e.into_inner());
    let first = temp_path("first");
    let second = temp_path("second");
    gogreen::trace::start(&first).unwrap();
    let a = workload(5);
    gogreen::trace::stop().unwrap();
    let between = workload(5);
    gogreen::trace::start(&second).unwrap();
    let b = workload(5);
    gogreen::trace::stop().unwrap();

    let (t1, t2) = (Trace::load(&first), Trace::load(&second));
    t1.check_shape();
    t2.check_shape();
    let (r1, r2) = (t1.runs_by_g(), t2.runs_by_g());
    assert!(a.iter().all(|id| r1.contains_key(id)));
    assert!(b.iter().all(|id| r2.contains_key(id)));
    // Each file holds its own session only.
    assert!(b.iter().all(|id| !r1.contains_key(id)));
    assert!(a.iter().chain(&between).all(|id| !r2.contains_key(id)));
    std::fs::remove_file(&first).ok();
    std::fs::remove_file(&second).ok();
}

#[test]
fn errors_say_what_to_change() {
    let _turn = TRACING.lock().unwrap_or_else(|e| e.into_inner());
    let bad = std::env::temp_dir().join("gogreen-no-such-dir/deeper/t.json");
    let e = gogreen::trace::start(&bad).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    assert!(e.to_string().contains("gogreen-no-such-dir"), "{e}");
    assert!(!gogreen::trace::is_on());

    let e = gogreen::trace::stop().unwrap_err();
    assert!(e.to_string().contains("trace::start"), "{e}");

    let path = temp_path("twice");
    gogreen::trace::start(&path).unwrap();
    let e = gogreen::trace::start(temp_path("other")).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
    assert!(e.to_string().contains("stop"), "{e}");
    gogreen::trace::stop().unwrap();
    Trace::load(&path).check_shape();
    std::fs::remove_file(&path).ok();
}

/// `GOGREEN_TRACE` in a child process that never calls `stop`: the file is finished at
/// exit.
#[test]
fn gogreen_trace_is_written_at_exit() {
    if common::child_scenario().as_deref() == Some("exit") {
        let ids = workload(10);
        println!("IDS {ids:?}");
        return;
    }
    let path = temp_path("env");
    let out = common::run_child_watched(
        "gogreen_trace_is_written_at_exit",
        "exit",
        &[("GOGREEN_TRACE", path.to_str().unwrap())],
        Duration::from_secs(60),
    )
    .expect("the child finishes");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("IDS ["))
        .expect("the ids")
        .1;
    let ids: Vec<u64> = line[..line.find(']').unwrap()]
        .split(", ")
        .map(|s| s.parse().unwrap())
        .collect();
    let trace = Trace::load(&path);
    trace.check_shape();
    let runs = trace.runs_by_g();
    assert!(ids.iter().all(|id| runs.contains_key(id)));
    std::fs::remove_file(&path).ok();
}
