//! Benchmarks arrive with the channels issue.
fn main() {}
