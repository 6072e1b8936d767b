//! Benchmarks arrive with the runtime issue.
fn main() {}
