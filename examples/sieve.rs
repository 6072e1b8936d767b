//! Go's concurrent prime sieve, on green threads: a generator feeds 2, 3, 4, ... into a
//! chain of filter tasks, one per prime found so far, each passing on what its prime does
//! not divide. Prints the first N primes.
//!
//! `cargo run --release --example sieve [N]` (default 100)

use gogreen::chan::{self, Receiver, Sender};

/// Sends 2, 3, 4, ... until nobody listens.
fn generate(out: Sender<u64>) {
    for i in 2.. {
        if out.send(i).is_err() {
            return;
        }
    }
}

/// Passes on what `prime` does not divide.
fn filter(input: Receiver<u64>, out: Sender<u64>, prime: u64) {
    for i in input {
        if i % prime != 0 && out.send(i).is_err() {
            return;
        }
    }
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    gogreen::run(move || {
        let (tx, mut rx) = chan::bounded(0);
        gogreen::spawn(move || generate(tx));
        for _ in 0..n {
            let prime = rx.recv().expect("the generator never stops");
            println!("{prime}");
            let (tx1, rx1) = chan::bounded(0);
            gogreen::spawn(move || filter(rx, tx1, prime));
            rx = rx1;
        }
        // Dropping the last receiver makes the last filter's send fail; the failure
        // travels back down the chain, and every task ends.
    });
}
