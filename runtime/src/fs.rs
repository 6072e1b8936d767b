//! `std::fs` calls that block their OS thread, each run through [`blocking`]: the
//! common whole-file and metadata calls, one line each. For anything else, wrap the
//! `std::fs` call in `gogreen::blocking` yourself.

use crate::blocking;
use std::fs::Metadata;
use std::io;
use std::path::Path;

/// [`std::fs::read`] as a [blocking call](crate::blocking).
pub fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    blocking(|| std::fs::read(path))
}

/// [`std::fs::read_to_string`] as a [blocking call](crate::blocking).
pub fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    blocking(|| std::fs::read_to_string(path))
}

/// [`std::fs::write`] as a [blocking call](crate::blocking).
pub fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    blocking(|| std::fs::write(path, contents))
}

/// [`std::fs::metadata`] as a [blocking call](crate::blocking).
pub fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    blocking(|| std::fs::metadata(path))
}
