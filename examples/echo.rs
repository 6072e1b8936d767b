//! An echo server: one green thread per connection, each blocking in `read` as if it had
//! an OS thread of its own — the netpoller parks it, and its OS thread serves the others.
//!
//! `cargo run --release --example echo [ADDR]` (default 127.0.0.1:7878), then
//! `nc 127.0.0.1 7878` in another terminal (or ten thousand of them).

use gogreen::net::{TcpListener, TcpStream};
use std::io::{Read, Write};

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7878".into());
    gogreen::run(move || {
        let listener = match TcpListener::bind(&addr) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("echo: {e}");
                std::process::exit(1);
            }
        };
        println!("listening {addr}");
        for conn in listener.incoming() {
            match conn {
                Ok(conn) => {
                    gogreen::spawn(move || serve(conn));
                }
                Err(e) => eprintln!("echo: accept: {e}"),
            }
        }
    });
}

/// Writes back every byte until the client closes.
fn serve(mut conn: TcpStream) {
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
