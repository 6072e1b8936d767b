//! A chat room, the shape of the articles' IM server: a hub green thread owns the set of
//! clients and hears of joins, departures and lines over three channels at once with
//! `select!`; every connection has a green thread that reads lines and one that writes
//! what the hub sends it. Every line a client sends goes to every other client.
//!
//! `cargo run --release --example chat [ADDR]` (default 127.0.0.1:7879), then
//! `nc 127.0.0.1 7879` in a few terminals.

use gogreen::chan::{self, Receiver, Sender};
use gogreen::net::TcpListener;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::sync::Arc;

/// A line, shared by every client it goes to.
type Line = Arc<[u8]>;

struct Join {
    id: u64,
    /// Where the hub sends this client's lines; dropped by the hub when it leaves,
    /// which ends the client's writer.
    out: Sender<Line>,
}

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7879".into());
    gogreen::run(move || {
        let listener = match TcpListener::bind(&addr) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("chat: {e}");
                std::process::exit(1);
            }
        };
        println!("listening {addr}");
        let (joins_tx, joins) = chan::bounded::<Join>(0);
        let (leaves_tx, leaves) = chan::bounded::<u64>(0);
        let (lines_tx, lines) = chan::bounded::<(u64, Line)>(0);
        gogreen::spawn(move || hub(joins, leaves, lines));
        for (id, conn) in (0u64..).zip(listener.incoming()) {
            let Ok(conn) = conn else { continue };
            let (joins_tx, leaves_tx, lines_tx) =
                (joins_tx.clone(), leaves_tx.clone(), lines_tx.clone());
            gogreen::spawn(move || {
                // Writers flush again and again without reading: without this (Go's
                // default), a flush may wait for the client's delayed ACK of the last.
                let _ = conn.set_nodelay(true);
                let conn = Arc::new(conn);
                let (out, inbox) = chan::bounded::<Line>(256);
                if joins_tx.send(Join { id, out }).is_err() {
                    return;
                }
                let writer = {
                    let conn = conn.clone();
                    gogreen::spawn(move || write_lines(&conn, inbox))
                };
                let mut reader = BufReader::new(&*conn);
                let mut line = Vec::new();
                while matches!(reader.read_until(b'\n', &mut line), Ok(n) if n > 0) {
                    if lines_tx.send((id, line.as_slice().into())).is_err() {
                        break;
                    }
                    line.clear();
                }
                let _ = leaves_tx.send(id);
                let _ = writer.join();
            });
        }
    });
}

/// The hub: the only green thread that touches the set of clients.
fn hub(joins: Receiver<Join>, leaves: Receiver<u64>, lines: Receiver<(u64, Line)>) {
    let mut clients: HashMap<u64, Sender<Line>> = HashMap::new();
    loop {
        gogreen::select! {
            recv(joins) -> join => {
                let Ok(join) = join else { return };
                clients.insert(join.id, join.out);
            },
            recv(leaves) -> id => {
                if let Ok(id) = id {
                    clients.remove(&id);
                }
            },
            recv(lines) -> msg => {
                let Ok((from, line)) = msg else { return };
                for (id, out) in &clients {
                    if *id != from {
                        let _ = out.send(line.clone());
                    }
                }
            },
        }
    }
}

/// Writes what the hub sends, flushing when nothing more is queued. Reads its channel to
/// the end even after the connection failed, so the hub never blocks on a dead client.
fn write_lines(conn: &gogreen::net::TcpStream, inbox: Receiver<Line>) {
    let mut w = BufWriter::new(conn);
    let mut dead = false;
    for line in inbox.iter() {
        if !dead {
            dead = w.write_all(&line).is_err() || (inbox.is_empty() && w.flush().is_err());
        }
    }
    let _ = w.flush();
}
