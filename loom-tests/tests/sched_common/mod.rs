//! What the scheduler's loom models share: how they are run.

// Each test crate includes this module and uses only part of it.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Which side of a model starts first once its threads are spawned.
///
/// loom explores interleavings by dynamic partial-order reduction: it tries another
/// order only where two threads' accesses conflict. It records a thread's plain load
/// of an atomic as the last access to it, so when a thread loads a word and then
/// CASes it (as every `unpark`, `pop` and `grab` does), its own load hides the
/// conflict between that CAS and the other threads' earlier loads: loom never tries
/// the CAS before them. A model of "park, racing an unpark" then never runs the unpark
/// first. Each model therefore runs twice: once with `main` going first, and once with
/// `main` yielding right after spawning, so the other threads start first and loom
/// backtracks from there. Together they reach every outcome; the models that can
/// observe their outcomes assert as much.
#[derive(Clone, Copy, Debug)]
pub enum Start {
    Main,
    Others,
}

impl Start {
    /// Called by `main` once it has spawned the other threads.
    pub fn spawned(self) {
        if let Start::Others = self {
            loom::thread::yield_now();
        }
    }
}

/// Runs `model` under loom from both starts, with `LOOM_MAX_PREEMPTIONS` as CI sets it
/// (2 when unset, so a plain local run is as quick as CI's), and prints how many
/// executions it explored.
pub fn check(name: &str, model: impl Fn(Start) + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(2);
    }
    let model = Arc::new(model);
    let executions = Arc::new(AtomicUsize::new(0));
    for start in [Start::Main, Start::Others] {
        let (model, executions) = (model.clone(), executions.clone());
        builder.check(move || {
            executions.fetch_add(1, Ordering::Relaxed);
            model(start);
        });
    }
    eprintln!("{name}: {} executions", executions.load(Ordering::Relaxed));
}

/// The outcomes a model reached over all its executions, so that it can assert loom
/// drove its race every way the race can go — a pass is then not vacuous.
pub struct Outcomes(std::sync::Mutex<std::collections::BTreeSet<String>>);

impl Outcomes {
    pub const fn new() -> Self {
        Outcomes(std::sync::Mutex::new(std::collections::BTreeSet::new()))
    }

    pub fn mark(&self, outcome: impl ToString) {
        self.0.lock().unwrap().insert(outcome.to_string());
    }

    /// Asserts that each of `expected` was reached.
    pub fn assert_reached(&self, expected: &[&str]) {
        let seen = self.0.lock().unwrap();
        for e in expected {
            assert!(
                seen.contains(*e),
                "no execution reached {e:?}; reached {seen:?}"
            );
        }
    }
}
