//! The writer thread: turns the Ms' records into Chrome trace-event JSON, the format
//! Perfetto and `chrome://tracing` open, and names the tracks when the trace ends.
//!
//! The file's shape (`docs/timeline.md` shows it opened):
//!
//! - process 1, "Ms": a track per M (thread id 10,000 + the M's id) and one for what
//!   happens off any M (sysmon, plain OS threads: thread id 9,999). Each run of a G is
//!   a complete slice (`"ph":"X"`) named after the G; its arguments say the P, and why
//!   the run ended.
//! - process 2, "Ps": the same runs again, on a track per P (thread id 100,000 + the
//!   P's id), so a P's life across Ms reads as one line.
//!
//! Thread ids are unique across both processes, and none equals a process id: Perfetto
//! takes a thread id seen under a second process id for a new thread (a reused tid),
//! and a thread id equal to its process id for the main thread.
//! - instants (`"ph":"i"`) for spawn, park (with the wait reason), unpark, steal,
//!   hand-off, retake and spare P, on the track of the M (or off-M track) that did it.
//! - flow arrows (`"ph":"s"` at the waker, `"ph":"f"`, bound to the woken G's next run)
//!   from the G that spawned or woke another.
//! - metadata (`"ph":"M"`) naming the processes and tracks, written last.
//!
//! Records reach the writer in chunks, each in time order but chunks of different Ms
//! interleaved: the viewers sort by time, so the file need not be.

use super::event::{End, Event, Kind, NO_P};
use gogreen_channel::park::WaitReason;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::sync::mpsc::Receiver;

/// What the Ms send the writer.
pub(crate) enum Msg {
    /// Records of the track with this thread id (`buffer.rs`).
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
        text: String::with_capacity(1 << 16),
        first: true,
        m_tracks: BTreeSet::new(),
        p_tracks: BTreeSet::new(),
    };
    out.write_all(b"{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n")?;
    let mut failed = None;
    for msg in rx {
        match msg {
            Msg::Chunk(tid, events) => {
                w.m_tracks.insert(tid);
                for e in &events {
                    w.event(tid, e);
                }
                // After an error, keep receiving (the Ms must never wait on us) but
                // write nothing more.
                if failed.is_none()
                    && let Err(e) = out.write_all(w.text.as_bytes())
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
    w.text.push_str("\n]}\n");
    out.write_all(w.text.as_bytes())?;
    out.flush()
}

/// The formatter's state.
struct Json {
    origin: u64,
    /// The JSON of the chunk being formatted.
    text: String,
    /// No event written yet (no comma before the next).
    first: bool,
    m_tracks: BTreeSet<u32>,
    p_tracks: BTreeSet<u32>,
}

impl Json {
    /// Starts one event object: `{"ph":..,"pid":..,"tid":..,"ts":..,` — the caller
    /// finishes it.
    fn open(&mut self, ph: &str, pid: u32, track: u32, ts: u64) {
        let tid = if pid == PID_P {
            TID_P0 + track
        } else {
            m_tid(track)
        };
        if !self.first {
            self.text.push_str(",\n");
        }
        self.first = false;
        let t = ts.saturating_sub(self.origin);
        let _ = write!(
            self.text,
            "{{\"ph\":\"{ph}\",\"pid\":{pid},\"tid\":{tid},\"ts\":{}.{:03},",
            t / 1000,
            t % 1000
        );
    }

    fn event(&mut self, tid: u32, e: &Event) {
        match e.kind {
            Kind::Run(end) => self.run(tid, e, end),
            Kind::Spawn => {
                self.instant(
                    tid,
                    e,
                    format_args!("spawn {}", Label(e.g, e.name.as_deref())),
                );
                self.flow_start(tid, e);
            }
            Kind::Unpark => {
                self.instant(tid, e, format_args!("unpark G{}", e.g));
                self.flow_start(tid, e);
            }
            Kind::Park => {
                let why = WaitReason::from_u8(e.arg as u8);
                self.instant(
                    tid,
                    e,
                    format_args!("park G{}: {}", e.g, Escaped(why.as_str())),
                );
            }
            Kind::Steal => {
                self.instant(
                    tid,
                    e,
                    format_args!("steal: P{} took {} G from P{}", e.p, e.g, e.arg),
                );
            }
            Kind::Handoff => {
                self.instant(
                    tid,
                    e,
                    format_args!("hand-off: P{} to another M (blocking call)", e.p),
                );
            }
            Kind::Retake => {
                self.instant(
                    tid,
                    e,
                    format_args!("retake: sysmon took P{} from a blocking call", e.p),
                );
            }
            Kind::Spare => {
                self.instant(
                    tid,
                    e,
                    format_args!("spare P{} in play: P{}'s M is stuck", e.p, e.arg),
                );
            }
        }
    }

    /// A G's run: a slice on its M's track and on its P's.
    fn run(&mut self, tid: u32, e: &Event, end: End) {
        let label = Label(e.g, e.name.as_deref());
        let mut tracks = vec![(PID_M, tid)];
        if e.p != NO_P {
            tracks.push((PID_P, e.p));
            self.p_tracks.insert(e.p);
        }
        for (pid, track) in tracks {
            self.open("X", pid, track, e.ts);
            let _ = write!(
                self.text,
                "\"dur\":{}.{:03},\"name\":\"{label}\",\"cat\":\"run\",\"args\":{{\"g\":{},",
                e.arg / 1000,
                e.arg % 1000,
                e.g
            );
            if e.p == NO_P {
                self.text.push_str("\"p\":null,\"in\":\"blocking call\",");
            } else {
                let _ = write!(self.text, "\"p\":{},", e.p);
            }
            if pid == PID_P {
                let _ = write!(self.text, "\"m\":{},", tid.saturating_sub(1));
            }
            let _ = write!(self.text, "\"end\":\"{}\"}}}}", EndText(end));
        }
        if e.flow != 0 {
            // Just inside the run (if it lasted a nanosecond), so that a viewer binds the
            // arrow's end to it whatever order it gives events of equal time.
            self.open("f", PID_M, tid, e.ts + e.arg.min(1));
            let _ = write!(
                self.text,
                "\"bp\":\"e\",\"name\":\"wake\",\"cat\":\"wake\",\"id\":{}}}",
                e.flow
            );
        }
    }

    fn instant(&mut self, tid: u32, e: &Event, name: std::fmt::Arguments<'_>) {
        self.open("i", PID_M, tid, e.ts);
        let _ = write!(
            self.text,
            "\"s\":\"t\",\"name\":\"{name}\",\"args\":{{\"g\":{}",
            e.g
        );
        if e.p != NO_P {
            let _ = write!(self.text, ",\"p\":{}", e.p);
        }
        self.text.push_str("}}");
    }

    fn flow_start(&mut self, tid: u32, e: &Event) {
        if e.flow != 0 {
            self.open("s", PID_M, tid, e.ts);
            let _ = write!(
                self.text,
                "\"name\":\"wake\",\"cat\":\"wake\",\"id\":{}}}",
                e.flow
            );
        }
    }

    /// Names the processes and every track that has an event, in order.
    fn metadata(&mut self) {
        let meta = |text: &mut String, first: &mut bool, body: String| {
            if !*first {
                text.push_str(",\n");
            }
            *first = false;
            text.push_str(&body);
        };
        let mut first = self.first;
        let t = &mut self.text;
        for (pid, name) in [(PID_M, "Ms (OS threads)"), (PID_P, "Ps (processors)")] {
            // Said of the process's main thread (tid = pid), which has no events.
            meta(
                t,
                &mut first,
                format!(
                    "{{\"ph\":\"M\",\"pid\":{pid},\"tid\":{pid},\"name\":\"process_name\",\"args\":{{\"name\":\"{name}\"}}}}"
                ),
            );
            meta(
                t,
                &mut first,
                format!(
                    "{{\"ph\":\"M\",\"pid\":{pid},\"tid\":{pid},\"name\":\"process_sort_index\",\"args\":{{\"sort_index\":{pid}}}}}"
                ),
            );
        }
        // The off-M track sorts after the Ms.
        let tracks = self
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
            .chain(
                self.p_tracks
                    .iter()
                    .map(|&p| (PID_P, TID_P0 + p, format!("P{p}"), p)),
            );
        for (pid, tid, name, order) in tracks {
            meta(
                t,
                &mut first,
                format!(
                    "{{\"ph\":\"M\",\"pid\":{pid},\"tid\":{tid},\"name\":\"thread_name\",\"args\":{{\"name\":\"{name}\"}}}}"
                ),
            );
            meta(
                t,
                &mut first,
                format!(
                    "{{\"ph\":\"M\",\"pid\":{pid},\"tid\":{tid},\"name\":\"thread_sort_index\",\"args\":{{\"sort_index\":{order}}}}}"
                ),
            );
        }
        self.first = first;
    }
}

/// A G's label: `name (G12)` or `G12`, escaped for a JSON string.
struct Label<'a>(u64, Option<&'a String>);

impl std::fmt::Display for Label<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.1 {
            Some(name) => write!(f, "{} (G{})", Escaped(name), self.0),
            None => write!(f, "G{}", self.0),
        }
    }
}

/// Why a run ended, as the slice's `end` argument says it.
struct EndText(End);

impl std::fmt::Display for EndText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            End::Park(why) => write!(f, "park: {}", Escaped(WaitReason::from_u8(why).as_str())),
            End::Yield => f.write_str("yield"),
            End::Exit => f.write_str("exit"),
            End::Blocking => f.write_str("blocking call"),
            End::Returned => f.write_str("back from a blocking call"),
            End::Stopped => f.write_str("trace stopped"),
        }
    }
}

/// Text inside a JSON string.
struct Escaped<'a>(&'a str);

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                c if (c as u32) < 0x20 => write!(f, "\\u{:04x}", c as u32)?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}
