//! The writer thread: turns the Ms' records into Chrome trace-event JSON, the format
//! Perfetto and `chrome://tracing` open, and names the tracks when the trace ends.
//!
//! The file's shape (`docs/timeline.md` shows it opened):
//!
//! - process 1, "Ms": a track per M (thread id 10,000 + the M's id) and one for what
//!   happens off any M (sysmon, plain OS threads: thread id 9,999). Each run of a G is
//!   a complete slice (`"ph":"X"`) named after the G; its arguments say the P, and why
//!   the run ended. A slice `idle (no P)` (category `idle`) is a time the M slept without
//!   a P.
//! - process 2, "Ps": the same runs again, on a track per P (thread id 100,000 + the
//!   P's id), so a P's life across Ms reads as one line.
//!
//! Thread ids are unique across both processes, and none equals a process id: Perfetto
//! takes a thread id seen under a second process id for a new thread (a reused tid),
//! and a thread id equal to its process id for the main thread.
//! - instants (`"ph":"i"`) for spawn, park (with the wait reason), unpark, steal,
//!   hand-off, retake, spare P, and an M woken (or started) for a P, on the track of
//!   the M (or off-M track) that did it.
//! - flow arrows (`"ph":"s"` at the waker, `"ph":"f"`, bound to the woken G's next run)
//!   from the G that spawned or woke another.
//! - metadata (`"ph":"M"`) naming the processes and tracks, written last.
//!
//! Records reach the writer in chunks, each in time order but chunks of different Ms
//! interleaved: the viewers sort by time, so the file need not be.
//!
//! The text is built byte by byte, numbers by hand: through `core::fmt` the writer
//! spent ~2,500 instructions per event (callgrind), which on a machine with few cores
//! is time taken from the Ms it records.

use super::event::{End, Event, Kind, NO_P};
use gogreen_channel::park::WaitReason;
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::sync::mpsc::Receiver;

/// What the Ms send the writer.
pub(crate) enum Msg {
    /// Records of the track with this number (`buffer.rs`).
    Chunk(u32, Vec<Event>),
    /// `stop` has sent every buffer: finish the file.
    Finish,
}

const PID_M: u32 = 1;
const PID_P: u32 = 2;
/// Thread ids: see the module docs.
const TID_OFF_M: u32 = 9_999;
const TID_M0: u32 = 10_000;
const TID_P0: u32 = 100_000;

/// The thread id of a buffer's track (`buffer.rs`: the M's id + 1, or 0 off the Ms).
fn m_tid(track: u32) -> u32 {
    match track {
        0 => TID_OFF_M,
        t => TID_M0 + t - 1,
    }
}

/// The writer thread's body: writes every chunk it receives to `file`, with times
/// relative to `origin` (the trace clock at `start`), until `Finish`.
pub(crate) fn write(file: File, rx: Receiver<Msg>, origin: u64) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 16, file);
    let mut w = Json {
        origin,
        text: Vec::with_capacity(1 << 20),
        first: true,
        m_tracks: BTreeSet::new(),
        p_tracks: BTreeSet::new(),
    };
    out.write_all(b"{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n")?;
    let mut failed = None;
    for msg in rx {
        match msg {
            Msg::Chunk(track, events) => {
                w.m_tracks.insert(track);
                for e in &events {
                    w.event(track, e);
                }
                // After an error, keep receiving (the Ms must never wait on us) but
                // write nothing more.
                if failed.is_none()
                    && let Err(e) = out.write_all(&w.text)
                {
                    failed = Some(e);
                }
                w.text.clear();
            }
            Msg::Finish => break,
        }
    }
    if let Some(e) = failed {
        return Err(e);
    }
    w.metadata();
    w.text.extend_from_slice(b"\n]}\n");
    out.write_all(&w.text)?;
    out.flush()
}

/// The formatter's state.
struct Json {
    origin: u64,
    /// The JSON of the chunk being formatted.
    text: Vec<u8>,
    /// No event written yet (no comma before the next).
    first: bool,
    m_tracks: BTreeSet<u32>,
    p_tracks: BTreeSet<u32>,
}

impl Json {
    fn s(&mut self, bytes: &str) {
        self.text.extend_from_slice(bytes.as_bytes());
    }

    fn n(&mut self, v: u64) {
        // Two digits at a time: half the divisions.
        const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
            2021222324252627282930313233343536373839\
            4041424344454647484950515253545556575859\
            6061626364656667686970717273747576777879\
            8081828384858687888990919293949596979899";
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut v = v;
        while v >= 100 {
            let pair = (v % 100) as usize * 2;
            v /= 100;
            i -= 2;
            digits[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
        }
        if v >= 10 {
            let pair = v as usize * 2;
            i -= 2;
            digits[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
        } else {
            i -= 1;
            digits[i] = b'0' + v as u8;
        }
        self.text.extend_from_slice(&digits[i..]);
    }

    /// Nanoseconds as microseconds with three decimals: the format's unit.
    fn us(&mut self, ns: u64) {
        self.n(ns / 1000);
        let frac = ns % 1000;
        self.text.extend_from_slice(&[
            b'.',
            b'0' + (frac / 100) as u8,
            b'0' + (frac / 10 % 10) as u8,
            b'0' + (frac % 10) as u8,
        ]);
    }

    /// Text inside a JSON string.
    fn escaped(&mut self, text: &str) {
        for &b in text.as_bytes() {
            match b {
                b'"' => self.s("\\\""),
                b'\\' => self.s("\\\\"),
                b if b < 0x20 => {
                    self.s("\\u00");
                    let hex = b"0123456789abcdef";
                    self.text
                        .extend_from_slice(&[hex[usize::from(b >> 4)], hex[usize::from(b & 15)]]);
                }
                b => self.text.push(b),
            }
        }
    }

    /// A G's label: `name (G12)` or `G12`.
    fn label(&mut self, g: u64, name: Option<&str>) {
        match name {
            Some(name) => {
                self.escaped(name);
                self.s(" (G");
                self.n(g);
                self.s(")");
            }
            None => {
                self.s("G");
                self.n(g);
            }
        }
    }

    /// Starts one event object: `{"ph":..,"pid":..,"tid":..,"ts":..,` — the caller
    /// finishes it. `track` is a buffer's (process 1) or a P (process 2).
    fn open(&mut self, ph: &str, pid: u32, track: u32, ts: u64) {
        let tid = if pid == PID_P {
            TID_P0 + track
        } else {
            m_tid(track)
        };
        if !self.first {
            self.s(",\n");
        }
        self.first = false;
        self.s("{\"ph\":\"");
        self.s(ph);
        self.s("\",\"pid\":");
        self.n(u64::from(pid));
        self.s(",\"tid\":");
        self.n(u64::from(tid));
        self.s(",\"ts\":");
        self.us(ts.saturating_sub(self.origin));
        self.s(",");
    }

    fn event(&mut self, track: u32, e: &Event) {
        match e.kind {
            Kind::Run(end) => self.run(track, e, end),
            Kind::Spawn => {
                self.instant(track, e);
                self.s("spawn ");
                self.label(e.g, e.name.as_deref().map(String::as_str));
                self.close_instant(e);
                self.flow_start(track, e);
            }
            Kind::Unpark => {
                self.instant(track, e);
                self.s("unpark G");
                self.n(e.g);
                self.close_instant(e);
                self.flow_start(track, e);
            }
            Kind::Park => {
                self.instant(track, e);
                self.s("park G");
                self.n(e.g);
                self.s(": ");
                self.s(WaitReason::from_u8(e.arg as u8).as_str());
                self.close_instant(e);
            }
            Kind::Steal => {
                self.instant(track, e);
                self.s("steal: P");
                self.n(u64::from(e.p));
                self.s(" took ");
                self.n(e.g);
                self.s(" G from P");
                self.n(e.arg);
                self.close_instant(e);
            }
            Kind::Handoff => {
                self.instant(track, e);
                self.s("hand-off: P");
                self.n(u64::from(e.p));
                self.s(" to another M (blocking call)");
                self.close_instant(e);
            }
            Kind::Retake => {
                self.instant(track, e);
                self.s("retake: sysmon took P");
                self.n(u64::from(e.p));
                self.s(" from a blocking call");
                self.close_instant(e);
            }
            Kind::StartM => {
                self.instant(track, e);
                if e.g == 0 {
                    self.s("new M for P");
                    self.n(u64::from(e.p));
                } else {
                    self.s("wake M");
                    self.n(e.g - 1);
                    self.s(" for P");
                    self.n(u64::from(e.p));
                }
                self.close_instant(e);
            }
            Kind::Idle => {
                self.open("X", PID_M, track, e.ts);
                self.s("\"dur\":");
                self.us(e.arg);
                self.s(",\"name\":\"idle (no P)\",\"cat\":\"idle\",\"args\":{}}");
            }
            Kind::Spare => {
                self.instant(track, e);
                self.s("spare P");
                self.n(u64::from(e.p));
                self.s(" in play: P");
                self.n(e.arg);
                self.s("'s M is stuck");
                self.close_instant(e);
            }
        }
    }

    /// A G's run: a slice on its M's track and on its P's.
    fn run(&mut self, track: u32, e: &Event, end: End) {
        let name = e.name.as_deref().map(String::as_str);
        let on_p = e.p != NO_P;
        if on_p {
            self.p_tracks.insert(e.p);
        }
        for pid in [PID_M, PID_P] {
            if pid == PID_P && !on_p {
                break;
            }
            self.open("X", pid, if pid == PID_M { track } else { e.p }, e.ts);
            self.s("\"dur\":");
            self.us(e.arg);
            self.s(",\"name\":\"");
            self.label(e.g, name);
            self.s("\",\"cat\":\"run\",\"args\":{\"g\":");
            self.n(e.g);
            if on_p {
                self.s(",\"p\":");
                self.n(u64::from(e.p));
            } else {
                self.s(",\"p\":null,\"in\":\"blocking call\"");
            }
            if pid == PID_P {
                self.s(",\"m\":");
                self.n(u64::from(track.saturating_sub(1)));
            }
            self.s(",\"end\":\"");
            match end {
                End::Park(why) => {
                    self.s("park: ");
                    self.s(WaitReason::from_u8(why).as_str());
                }
                End::Yield => self.s("yield"),
                End::Exit => self.s("exit"),
                End::Blocking => self.s("blocking call"),
                End::Returned => self.s("back from a blocking call"),
                End::Stopped => self.s("trace stopped"),
            }
            self.s("\"}}");
        }
        if e.flow != 0 {
            // Just inside the run (if it lasted a nanosecond), so that a viewer binds the
            // arrow's end to it whatever order it gives events of equal time.
            self.open("f", PID_M, track, e.ts + e.arg.min(1));
            self.s("\"bp\":\"e\",\"name\":\"wake\",\"cat\":\"wake\",\"id\":");
            self.n(e.flow);
            self.s("}");
        }
    }

    /// Starts an instant event, up to the opening quote of its name.
    fn instant(&mut self, track: u32, e: &Event) {
        self.open("i", PID_M, track, e.ts);
        self.s("\"s\":\"t\",\"name\":\"");
    }

    /// Ends an instant event's name, and the event.
    fn close_instant(&mut self, e: &Event) {
        self.s("\",\"args\":{\"g\":");
        self.n(e.g);
        if e.p != NO_P {
            self.s(",\"p\":");
            self.n(u64::from(e.p));
        }
        self.s("}}");
    }

    fn flow_start(&mut self, track: u32, e: &Event) {
        if e.flow != 0 {
            self.open("s", PID_M, track, e.ts);
            self.s("\"name\":\"wake\",\"cat\":\"wake\",\"id\":");
            self.n(e.flow);
            self.s("}");
        }
    }

    /// One metadata event: `name` (`process_name`, `thread_sort_index`, ...) of the
    /// thread `tid` of process `pid`, with the one argument `key`: `value` (JSON).
    fn meta(&mut self, pid: u32, tid: u32, name: &str, key: &str, value: &str) {
        if !self.first {
            self.s(",\n");
        }
        self.first = false;
        self.s("{\"ph\":\"M\",\"pid\":");
        self.n(u64::from(pid));
        self.s(",\"tid\":");
        self.n(u64::from(tid));
        self.s(",\"name\":\"");
        self.s(name);
        self.s("\",\"args\":{\"");
        self.s(key);
        self.s("\":");
        self.s(value);
        self.s("}}");
    }

    /// Names the processes and every track that has an event, in order.
    fn metadata(&mut self) {
        for (pid, name) in [
            (PID_M, "\"Ms (OS threads)\""),
            (PID_P, "\"Ps (processors)\""),
        ] {
            // Said of the process's main thread (tid = pid), which has no events.
            self.meta(pid, pid, "process_name", "name", name);
            self.meta(
                pid,
                pid,
                "process_sort_index",
                "sort_index",
                &pid.to_string(),
            );
        }
        // The off-M track sorts after the Ms.
        let ms: Vec<_> = self
            .m_tracks
            .iter()
            .map(|&track| match track {
                0 => (
                    PID_M,
                    TID_OFF_M,
                    "sysmon / off the Ms".to_string(),
                    1_000_000,
                ),
                t => (PID_M, m_tid(t), format!("M{}", t - 1), t),
            })
            .collect();
        let ps = self
            .p_tracks
            .iter()
            .map(|&p| (PID_P, TID_P0 + p, format!("P{p}"), p));
        for (pid, tid, name, order) in ms.into_iter().chain(ps.collect::<Vec<_>>()) {
            self.meta(pid, tid, "thread_name", "name", &format!("\"{name}\""));
            self.meta(
                pid,
                tid,
                "thread_sort_index",
                "sort_index",
                &order.to_string(),
            );
        }
    }
}
