//! Two green threads bounce a ball over two rendezvous channels, then a third one joins
//! through `select!`; prints the round-trip time.
//!
//! `cargo run --release --example pingpong [ROUND_TRIPS]` (default 1,000,000)

use gogreen::chan;
use std::time::{Duration, Instant};

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    gogreen::run(move || {
        let (ping_tx, ping_rx) = chan::bounded::<u64>(0);
        let (pong_tx, pong_rx) = chan::bounded::<u64>(0);

        // The partner returns every ball one higher, until the ping channel closes.
        let partner = gogreen::spawn(move || {
            for ball in ping_rx {
                if pong_tx.send(ball + 1).is_err() {
                    break;
                }
            }
        });

        let start = Instant::now();
        let mut ball = 0;
        for _ in 0..n {
            ping_tx.send(ball).unwrap();
            ball = pong_rx.recv().unwrap();
        }
        let elapsed = start.elapsed();
        assert_eq!(ball, n);
        println!(
            "{n} round trips in {:.1} ms: {:.0} ns per round trip ({:.0} ns per hand-off)",
            elapsed.as_secs_f64() * 1e3,
            elapsed.as_nanos() as f64 / n as f64,
            elapsed.as_nanos() as f64 / (2 * n) as f64
        );

        // A referee watches with `select!`: a ball, or a timeout if nobody plays.
        let (serve_tx, serve_rx) = chan::bounded::<&str>(0);
        gogreen::spawn(move || serve_tx.send("ace").unwrap());
        gogreen::select! {
            recv(serve_rx) -> shot => println!("referee saw: {}", shot.unwrap()),
            default(Duration::from_secs(5)) => println!("referee saw nothing"),
        }

        drop(ping_tx);
        partner.join().unwrap();
    });
}
