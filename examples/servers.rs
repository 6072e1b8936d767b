//! The network servers that `../shared/anchors/net/net_compare.py` measures beside Go's:
//! one green thread per connection over `gogreen::net`.
//!
//! `cargo run --release --example servers -- MODE ADDR`, MODE one of
//!
//! - `echo`: every byte read is written back (a 512-byte buffer per connection);
//! - `http`: HTTP/1.1 keep-alive "Hello, World!" (requests parsed with `httparse`,
//!   pipelined ones answered in one write);
//! - `chat`: a line-based room — every line a client sends goes to every other client,
//!   through a hub that registers, unregisters and broadcasts over channels and
//!   `select!`, as the Go anchor's does.
//!
//! Prints `listening ADDR` once it accepts. `examples/echo.rs`, `chat.rs` and `http.rs`
//! are the same servers written to be read.

use gogreen::chan::{self, Receiver, Sender};
use gogreen::net::{TcpListener, TcpStream};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::sync::Arc;
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(mode), Some(addr)) = (args.get(1).cloned(), args.get(2).cloned()) else {
        eprintln!("usage: servers echo|http|chat ADDR");
        std::process::exit(2);
    };
    let serve: fn(TcpStream, &Hub) = match mode.as_str() {
        "echo" => |s, _| echo(s),
        "http" => |s, _| http(s),
        "chat" => chat,
        _ => {
            eprintln!("unknown mode {mode}: use echo, http or chat");
            std::process::exit(2);
        }
    };
    gogreen::run(move || {
        let listener = TcpListener::bind(&addr).unwrap_or_else(|e| {
            eprintln!("servers: {e}");
            std::process::exit(1)
        });
        println!("listening {addr}");
        let hub = Hub::start();
        let mut backoff = Duration::from_millis(1);
        loop {
            match listener.accept() {
                Ok((conn, _)) => {
                    backoff = Duration::from_millis(1);
                    let hub = hub.clone();
                    gogreen::spawn(move || serve(conn, &hub));
                }
                // Out of fds, say: let connections close, as Go's http server does.
                Err(e) => {
                    eprintln!("servers: accept: {e}");
                    gogreen::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
            }
        }
    });
}

fn echo(mut conn: TcpStream) {
    let mut buf = [0u8; 512];
    loop {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if conn.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

const HELLO: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

fn http(mut conn: TcpStream) {
    let mut buf = vec![0u8; 4096];
    let mut have = 0;
    let mut out = Vec::with_capacity(HELLO.len());
    loop {
        match conn.read(&mut buf[have..]) {
            Ok(0) | Err(_) => return,
            Ok(n) => have += n,
        }
        let mut start = 0;
        let mut close = false;
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(&buf[start..have]) {
                Ok(httparse::Status::Complete(len)) => {
                    close |= req.headers.iter().any(|h| {
                        h.name.eq_ignore_ascii_case("connection")
                            && h.value.eq_ignore_ascii_case(b"close")
                    }) || req.version == Some(0);
                    start += len;
                    out.extend_from_slice(HELLO);
                }
                Ok(httparse::Status::Partial) => break,
                Err(_) => return,
            }
        }
        buf.copy_within(start..have, 0);
        have -= start;
        if have == buf.len() {
            return; // a request larger than the buffer: not for this server
        }
        if !out.is_empty() {
            if conn.write_all(&out).is_err() {
                return;
            }
            out.clear();
        }
        if close {
            return;
        }
    }
}

/// The chat room's hub: one green thread that owns the set of clients.
#[derive(Clone)]
struct Hub {
    register: Sender<Client>,
    unregister: Sender<u64>,
    broadcast: Sender<(u64, Arc<[u8]>)>,
}

struct Client {
    id: u64,
    out: Sender<Arc<[u8]>>,
}

impl Hub {
    fn start() -> Hub {
        let (register, registrations) = chan::bounded(0);
        let (unregister, departures) = chan::bounded(0);
        let (broadcast, lines) = chan::bounded(0);
        gogreen::spawn(move || run_hub(registrations, departures, lines));
        Hub {
            register,
            unregister,
            broadcast,
        }
    }
}

fn run_hub(
    registrations: Receiver<Client>,
    departures: Receiver<u64>,
    lines: Receiver<(u64, Arc<[u8]>)>,
) {
    let mut clients: HashMap<u64, Sender<Arc<[u8]>>> = HashMap::new();
    loop {
        gogreen::select! {
            recv(registrations) -> c => match c {
                Ok(c) => { clients.insert(c.id, c.out); }
                Err(_) => return,
            },
            // Dropping the client's sender ends its writer.
            recv(departures) -> id => { if let Ok(id) = id { clients.remove(&id); } },
            recv(lines) -> m => {
                if let Ok((from, line)) = m {
                    for (id, out) in &clients {
                        if *id != from {
                            let _ = out.send(line.clone());
                        }
                    }
                }
            },
        }
    }
}

fn chat(conn: TcpStream, hub: &Hub) {
    static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // Go's net package sets TCP_NODELAY on every TCP connection, so its chat server
    // has it too. Without it, a writer's second flush waits behind Nagle's algorithm
    // until the client ACKs the first, which the client's kernel may delay: 2.5 times
    // fewer segments than Go's server sent, and 25 times the delayed ACKs.
    let _ = conn.set_nodelay(true);
    let conn = Arc::new(conn);
    let (out, lines) = chan::bounded::<Arc<[u8]>>(256);
    if hub.register.send(Client { id, out }).is_err() {
        return;
    }
    // The writer drains its channel to the end, so the hub never blocks on a dead client.
    let writer = {
        let conn = conn.clone();
        gogreen::spawn(move || {
            let mut w = BufWriter::new(&*conn);
            let mut dead = false;
            for line in lines.iter() {
                if dead {
                    continue;
                }
                dead = w.write_all(&line).is_err() || (lines.is_empty() && w.flush().is_err());
            }
            let _ = w.flush();
        })
    };
    let mut r = BufReader::new(&*conn);
    let mut line = Vec::new();
    loop {
        line.clear();
        match r.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                if hub.broadcast.send((id, line.as_slice().into())).is_err() {
                    break;
                }
            }
        }
    }
    let _ = hub.unregister.send(id);
    let _ = writer.join();
}
