//! An HTTP/1.1 "Hello, World!" server with keep-alive: one green thread per connection,
//! requests parsed with `httparse`, several pipelined requests answered in one write.
//!
//! `cargo run --release --example http [ADDR]` (default 127.0.0.1:8080), then
//! `curl http://127.0.0.1:8080/` or `wrk -t1 -c100 -d5s http://127.0.0.1:8080/`.

use gogreen::net::{TcpListener, TcpStream};
use std::io::{Read, Write};

const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    gogreen::run(move || {
        let listener = match TcpListener::bind(&addr) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("http: {e}");
                std::process::exit(1);
            }
        };
        println!("listening {addr}");
        for conn in listener.incoming() {
            match conn {
                Ok(conn) => {
                    gogreen::spawn(move || serve(conn));
                }
                Err(e) => eprintln!("http: accept: {e}"),
            }
        }
    });
}

/// Answers requests until the client closes, asks to close, or sends something that
/// is not HTTP.
fn serve(mut conn: TcpStream) {
    let mut buf = vec![0u8; 8192];
    let mut filled = 0;
    let mut out = Vec::new();
    loop {
        match conn.read(&mut buf[filled..]) {
            Ok(0) | Err(_) => return,
            Ok(n) => filled += n,
        }
        // Every complete request in the buffer gets its answer.
        let mut used = 0;
        let mut close = false;
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(&buf[used..filled]) {
                Ok(httparse::Status::Complete(len)) => {
                    used += len;
                    out.extend_from_slice(RESPONSE);
                    let asks_close = req.headers.iter().any(|h| {
                        h.name.eq_ignore_ascii_case("connection")
                            && h.value.eq_ignore_ascii_case(b"close")
                    });
                    // HTTP/1.0 closes unless asked not to; this server keeps it simple.
                    close |= asks_close || req.version == Some(0);
                }
                Ok(httparse::Status::Partial) => break,
                Err(_) => {
                    let _ =
                        conn.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
                    return;
                }
            }
        }
        buf.copy_within(used..filled, 0);
        filled -= used;
        if filled == buf.len() {
            let _ = conn.write_all(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n\r\n",
            );
            return;
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
