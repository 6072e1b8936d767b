//! loom models of gogreen's concurrent protocols live in `tests/`; this crate has no code of its own.
//!
//! Run them with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release -p gogreen-loom-tests`.
