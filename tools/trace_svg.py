#!/usr/bin/env python3
"""Renders a gogreen timeline trace (GOGREEN_TRACE's Chrome trace-event JSON) into an
SVG picture, with no browser: a lane per P and per M, each run of a G a bar coloured
for that G, steals and hand-offs marked, and optionally the wake-up arrows.

    python3 tools/trace_svg.py t.json t.svg                        # the whole trace
    python3 tools/trace_svg.py t.json t.svg --from 2.0 --span 0.3  # a window, in ms
    python3 tools/trace_svg.py t.json t.svg --at spare --before 2 --span 15
    python3 tools/trace_svg.py t.json t.svg --at "park G2" --nth 1000 --span 0.01
    python3 tools/trace_svg.py t.json t.svg --arrows --title "ping-pong"

Standard library only. docs/timeline.md shows what comes out and how to read it.
"""

import argparse
import bisect
import colorsys
import html
import json
import math
import sys

LANE_H = 22
LANE_GAP = 4
LEFT = 150
RIGHT = 20
TOP = 46
AXIS_H = 34

# Marks for the scheduler's own events: (name prefix, colour, short label).
MARKS = [
    ("steal", "#d62728", "steal"),
    ("hand-off", "#7b3fbf", "hand-off"),
    ("retake", "#7b3fbf", "retake"),
    ("spare", "#7b3fbf", "spare P"),
    ("wake M", "#2b8a3e", "wake M"),
    ("new M", "#2b8a3e", "new M"),
]


def g_colour(g):
    """A colour per G: golden-angle hues, so neighbouring ids differ."""
    hue = (g * 0.381966) % 1.0
    r, gr, b = colorsys.hls_to_rgb(hue, 0.62, 0.62)
    return "#%02x%02x%02x" % (int(r * 255), int(gr * 255), int(b * 255))


def nice_step(span, ticks=8):
    """A 1, 2 or 5 times a power of ten step giving about `ticks` ticks over `span`."""
    raw = span / ticks
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def fmt_time(us):
    """A tick label: µs below a millisecond, else ms."""
    if abs(us) < 1000:
        return "%g µs" % round(us, 3)
    return "%g ms" % round(us / 1000, 4)


def load(path):
    with open(path) as f:
        doc = json.load(f)
    events = doc["traceEvents"] if isinstance(doc, dict) else doc
    names, slices, instants, starts, ends = {}, [], [], {}, {}
    for e in events:
        ph = e.get("ph")
        key = (e.get("pid"), e.get("tid"))
        if ph == "M" and e.get("name") == "thread_name":
            names[key] = e["args"]["name"]
        elif ph == "X":
            args = dict(e.get("args", {}))
            if e.get("cat") == "idle":
                args["idle"] = True
            slices.append((key, float(e["ts"]), float(e["dur"]), e["name"], args))
        elif ph == "i":
            instants.append((key, float(e["ts"]), e["name"]))
        elif ph == "s":
            starts[e["id"]] = (key, float(e["ts"]))
        elif ph == "f":
            ends[e["id"]] = (key, float(e["ts"]))
    flows = [(starts[i], ends[i]) for i in ends if i in starts]
    return names, slices, instants, flows


def by_g(slices, flows):
    """Re-files the runs of the M tracks by G, as pseudo-tracks (0, g), and the arrows from
    the G whose run holds the arrow's start to the G whose run begins at its end."""
    runs = {}
    for key, ts, dur, name, a in slices:
        if key[0] == 1 and not a.get("idle"):
            runs.setdefault(key, []).append((ts, dur, a.get("g", 0)))
    for r in runs.values():
        r.sort()

    def g_at(key, ts):
        r = runs.get(key, [])
        i = bisect.bisect_right(r, (ts, math.inf, math.inf)) - 1
        if i >= 0 and r[i][0] <= ts <= r[i][0] + r[i][1]:
            return r[i][2]
        return None

    g_slices, names = [], {}
    for key, ts, dur, name, a in slices:
        if key[0] == 1 and not a.get("idle"):
            g = a.get("g", 0)
            g_slices.append(((0, g), ts, dur, name, a))
            names[(0, g)] = name
    g_flows = []
    for (ks, ts), (kf, tf) in flows:
        gs, gf = g_at(ks, ts), g_at(kf, tf)
        if gs is not None and gf is not None:
            g_flows.append((((0, gs), ts), ((0, gf), tf)))
    return g_slices, [], g_flows, names


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("trace")
    ap.add_argument("svg")
    ap.add_argument("--from", dest="start", type=float, help="window start, ms after the trace starts")
    ap.add_argument("--span", type=float, help="window length, ms (default: to the end)")
    ap.add_argument("--at", help="start the window at the first event whose name starts with this "
                    "(steal, spare, hand-off, retake, spawn, park, unpark), less --before")
    ap.add_argument("--nth", type=int, default=1, help="with --at: the nth such event (default 1)")
    ap.add_argument("--before", type=float, default=0.0, help="ms before --at's event")
    ap.add_argument("--width", type=int, default=1100, help="picture width in pixels")
    ap.add_argument("--arrows", action="store_true", help="draw the wake-up arrows")
    ap.add_argument("--lanes", choices=["both", "ps", "ms", "gs"], default="both",
                    help="a lane per P and per M (both), per P, per M, or per G (gs: a chain reads as a staircase)")
    ap.add_argument("--title", default="")
    args = ap.parse_args()

    names, slices, instants, flows = load(args.trace)
    if not slices:
        sys.exit("trace_svg: %s has no slices (was the trace stopped before any G ran?)" % args.trace)
    origin = 0.0  # The trace's times count from its start.
    end_all = max(s[1] + s[2] for s in slices)
    t0 = origin + (args.start or 0.0) * 1000
    if args.at:
        hits = sorted(ts for _, ts, name in instants if name.startswith(args.at))
        if len(hits) < args.nth:
            sys.exit("trace_svg: %d events named %r... in %s, not %d"
                     % (len(hits), args.at, args.trace, args.nth))
        t0 = hits[args.nth - 1] - args.before * 1000
    t1 = t0 + args.span * 1000 if args.span else end_all
    if t1 <= t0:
        sys.exit("trace_svg: the window is empty; check --from and --span")

    def visible(ts, dur=0.0):
        return ts + dur >= t0 and ts <= t1

    if args.lanes == "gs":
        slices, instants, flows, names = by_g(slices, flows)

    # Lanes: Ps, then Ms (the off-M track last), each only if it has something to show.
    used = {s[0] for s in slices if visible(s[1], s[2])} | {i[0] for i in instants if visible(i[1])}
    lanes = []
    if args.lanes == "gs":
        lanes = sorted(used)
    if args.lanes in ("both", "ps"):
        lanes += sorted(k for k in used if k[0] == 2)
    if args.lanes in ("both", "ms"):
        ms = sorted(k for k in used if k[0] == 1)
        off = [k for k in ms if not names.get(k, "M").startswith("M")]
        lanes += [k for k in ms if k not in off] + off
    if not lanes:
        sys.exit("trace_svg: nothing happens in the window")
    lane_y = {k: TOP + n * (LANE_H + LANE_GAP) for n, k in enumerate(lanes)}
    plot_w = args.width - LEFT - RIGHT

    def x(ts):
        return LEFT + (min(max(ts, t0), t1) - t0) / (t1 - t0) * plot_w

    out = []
    seen_g = {}
    # Runs.
    for key, ts, dur, name, a in slices:
        if key not in lane_y or not visible(ts, dur):
            continue
        x0, x1 = x(ts), x(ts + dur)
        if a.get("idle"):
            # An M asleep without a P: a thin grey line through the lane.
            y = lane_y[key] + LANE_H // 2
            out.append('<rect x="%.1f" y="%d" width="%.1f" height="3" fill="#bbb"><title>%s</title></rect>'
                       % (x0, y - 1, max(x1 - x0, 0.6), html.escape("%s asleep without a P, %s"
                                                                     % (names.get(key, key), fmt_time(dur)))))
            continue
        w = max(x1 - x0, 0.6)
        g = a.get("g", 0)
        col = g_colour(g)
        seen_g.setdefault(g, name)
        y = lane_y[key]
        blocking = a.get("p", 0) is None
        tip = "%s on %s, %s, ended: %s" % (name, names.get(key, key), fmt_time(dur), a.get("end", ""))
        style = ' fill="%s"' % col + (' fill-opacity="0.45" stroke="%s" stroke-dasharray="3,2"' % col if blocking else "")
        out.append('<rect x="%.1f" y="%d" width="%.1f" height="%d"%s><title>%s</title></rect>'
                   % (x0, y + 2, w, LANE_H - 4, style, html.escape(tip)))
        label = name + (" (blocking call)" if blocking else "")
        if w > 7 * len(label) + 6:
            out.append('<text x="%.1f" y="%d" class="in">%s</text>' % (x0 + 3, y + LANE_H - 7, html.escape(label)))
        elif w > 7 * len("G%s" % g) + 4:
            out.append('<text x="%.1f" y="%d" class="in">G%s</text>' % (x0 + 2, y + LANE_H - 7, g))
    # Arrows: from the waker's run to the woken G's next run, on the M lanes.
    if args.arrows:
        for (ks, ts), (kf, tf) in flows:
            if ks not in lane_y or kf not in lane_y or not (visible(ts) or visible(tf)):
                continue
            xs, xf = x(ts), x(tf)
            ys, yf = lane_y[ks] + LANE_H / 2, lane_y[kf] + LANE_H / 2
            if ks == kf:
                lift = LANE_H / 2 + 3
                out.append('<path d="M%.1f %.1f C%.1f %.1f %.1f %.1f %.1f %.1f" class="flow"/>'
                           % (xs, ys - 4, xs, ys - lift, xf, yf - lift, xf, yf - 4))
            else:
                out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="flow"/>' % (xs, ys, xf, yf))
    # The scheduler's events.
    last_label_x = {}
    # The scheduler's decisions before the Ms they wake: a label that would crowd an
    # earlier one is left out, so the more telling one comes first.
    rank = {prefix: n for n, (prefix, _, _) in enumerate(MARKS)}

    def priority(ins):
        return (min((rank[p] for p in rank if ins[2].startswith(p)), default=len(MARKS)), ins[1])

    for key, ts, name in sorted(instants, key=priority):
        if key not in lane_y or not visible(ts):
            continue
        for prefix, col, short in MARKS:
            if name.startswith(prefix):
                cx, y = x(ts), lane_y[key]
                # A triangle hanging from the lane's top, pointing at the moment.
                out.append('<path d="M%.1f %d l-5 -8 h10 z" fill="%s" stroke="white" stroke-width="0.6">'
                           '<title>%s</title></path>' % (cx, y + 8, col, html.escape(name)))
                if all(abs(cx - lx) > 60 for lx in last_label_x.get(key, [])):
                    out.append('<text x="%.1f" y="%d" class="mark" fill="%s">%s</text>' % (cx + 6, y + 8, col, short))
                    last_label_x.setdefault(key, []).append(cx)
    # Lane names and group labels.
    frame = []
    for key, y in lane_y.items():
        label = names.get(key, "pid %s tid %s" % key)
        frame.append('<text x="%d" y="%d" class="lane">%s</text>' % (LEFT - 8, y + LANE_H - 7, html.escape(label)))
        frame.append('<line x1="%d" y1="%d" x2="%d" y2="%d" class="grid"/>' % (LEFT, y + LANE_H, args.width - RIGHT, y + LANE_H))
    bottom = TOP + len(lanes) * (LANE_H + LANE_GAP)
    # Axis.
    step = nice_step(t1 - t0)
    tick = math.ceil((t0 - origin) / step) * step
    while origin + tick <= t1:
        tx = x(origin + tick)
        frame.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" class="tick"/>' % (tx, TOP - 4, tx, bottom + 4))
        frame.append('<text x="%.1f" y="%d" class="axis">%s</text>' % (tx, bottom + 18, fmt_time(tick)))
        tick += step
    # Legend: the Gs in the window, in order of appearance (at most 14).
    legend = []
    lx, ly = LEFT, bottom + AXIS_H
    for g, name in list(seen_g.items())[:14]:
        label = name if len(name) <= 24 else name[:23] + "…"
        wdt = 18 + 7 * len(label)
        if lx + wdt > args.width - RIGHT:
            lx, ly = LEFT, ly + 18
        legend.append('<rect x="%d" y="%d" width="12" height="12" fill="%s"/>' % (lx, ly - 10, g_colour(g)))
        legend.append('<text x="%d" y="%d" class="legend">%s</text>' % (lx + 16, ly, html.escape(label)))
        lx += wdt + 10
    if len(seen_g) > 14:
        legend.append('<text x="%d" y="%d" class="legend">… and %d more Gs</text>' % (lx, ly, len(seen_g) - 14))
    height = ly + 14
    title = args.title or args.trace
    sub = "%s to %s after the trace started; hover a bar for its G, M or P, length and why it ended" % (
        fmt_time(t0 - origin), fmt_time(t1 - origin))
    print('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
          'font-family="Helvetica, Arial, sans-serif">' % (args.width, height, args.width, height),
          file=open(args.svg, "w"), end="")
    with open(args.svg, "a") as f:
        f.write("\n<style>.in{font-size:11px;fill:#111}.lane{font-size:12px;text-anchor:end;fill:#333}"
                ".axis{font-size:11px;text-anchor:middle;fill:#555}.tick{stroke:#ddd}.grid{stroke:#eee}"
                ".legend{font-size:11px;fill:#333}.mark{font-size:10px;font-weight:bold;paint-order:stroke;stroke:white;stroke-width:2px}.flow{stroke:#444;stroke-width:0.8;"
                "fill:none;opacity:0.55;marker-end:url(#head)}</style>\n")
        f.write('<defs><marker id="head" markerWidth="6" markerHeight="6" refX="5" refY="3" orient="auto">'
                '<path d="M0,0 L6,3 L0,6 z" fill="#444"/></marker></defs>\n')
        f.write('<rect width="100%" height="100%" fill="white"/>\n')
        f.write('<text x="%d" y="18" font-size="14" font-weight="bold">%s</text>\n' % (LEFT, html.escape(title)))
        f.write('<text x="%d" y="34" font-size="11" fill="#555">%s</text>\n' % (LEFT, html.escape(sub)))
        for line in frame + out + legend:
            f.write(line + "\n")
        f.write("</svg>\n")


if __name__ == "__main__":
    main()
