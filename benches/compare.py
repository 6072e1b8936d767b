#!/usr/bin/env python3
"""gogreen beside Go: the same workloads, run in turn on one machine, with ratios.

Run from anywhere in the repository (Python 3.8+, cargo, and Go 1.19 or newer):

    python3 benches/compare.py                      # every workload, 3 runs each
    python3 benches/compare.py --runs 7 select4     # some workloads, more runs
    python3 benches/compare.py --procs 1 select4    # GOGREEN_PROCS=1 against GOMAXPROCS=1
    python3 benches/compare.py --growth             # spawn_join at 10k, 100k, 1M, 10M tasks
    python3 benches/compare.py --realtime           # on a busy machine (root; see below)

Go: `apt-get install -y golang-go` on Debian or Ubuntu, or a release from
https://go.dev/dl/ (any Go from 1.19 on).

The Go side is `benches/go` (built here with the system's `go`), the Rust side
`examples/workloads.rs` (built with `cargo build --release`). Both take `WORKLOAD [N]`
and print `name key=value ...` lines; the script reads one figure per workload from
each. The two runtimes take turns, Go then gogreen, `--runs` times (A B A B ...), so
that a slow minute on a shared machine hits both; then it prints the median of each,
the spread of the runs (max - min over the median: the noise), and the ratio
gogreen / Go against the project's goal for that ratio. Lower is better.

On a machine busy with other work (builds, tests) the timings swing by tens of
percent; `--realtime` runs the workloads under `chrt --fifo 10` (as root), which gives
them the cores whenever they want them and brings the spread down to a few percent.
Everything else on the machine waits while they run (the kernel keeps 5% for it), so
use it for a few minutes at a time.

A workload that one side does not know (it answers `unknown workload`) is reported
as missing, and the others still run.

`--growth` runs one workload (spawn_join by default) at several sizes and says how
much its cost per item grows from the smallest size to the largest on each runtime;
the goal is that it stays flat, within 1.3x, as Go's does.
"""
import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GO_SRC = os.path.join(ROOT, "benches", "go")
GO_BIN = os.path.join(ROOT, "target", "go-workloads")
RUST_BIN = os.path.join(ROOT, "target", "release", "examples", "workloads")

# workload: (N for a comparison, the figure compared, goal for gogreen / Go).
# The same sizes and goals as ../shared/anchors/compare.py, the project's yardstick.
WORKLOADS = {
    "spawn_join": (1_000_000, "ns_per_task", 0.5),
    "ping_pong": (1_000_000, "ns_per_roundtrip", 0.5),
    "yield": (1_000_000, "ns_per_switch", 0.5),
    "parked": (1_000_000, "bytes_per_task", 1.7),
    "chain": (1_000_000, "ns_per_task", 1.0),
    "sieve": (2_000, "ns_per_prime", 1.0),
    "mpmc": (10_000_000, "ns_per_msg", 1.0),
    "select4": (1_000_000, "ns_per_recv", 0.7),
    "mutex": (10_000_000, "ns_per_lock", 1.0),
}

# Further figures read off the same runs, each with its goal: `parked` is judged in
# time as well as in memory (issue 10's bar). Its time is what the `million` demo shows.
EXTRA_FIGURES = {
    "parked": [("total_ms", 1.0)],
}

GROWTH_SIZES = [10_000, 100_000, 1_000_000, 10_000_000]
GROWTH_GOAL = 1.3


class Missing(Exception):
    """A side does not know the workload."""


class Failed(Exception):
    """A run crashed, timed out, or printed no figure."""


def parse_figures(text):
    """Every `key=number` on the output lines, as floats."""
    figures = {}
    for key, value in re.findall(r"(\w+)=(-?[\d.]+)", text):
        try:
            figures[key] = float(value)
        except ValueError:
            pass
    return figures


def run_once(side, binary, name, n, figure, timeout, env, realtime=False):
    """One run of one workload on one side; returns every figure it printed."""
    # Through a small shell that forks the workload: Linux carries the peak RSS over
    # an exec, and a child forked straight from this Python process would start its
    # `maxrss_kb` at Python's size (about 15 MB).
    cmd = ["sh", "-c", '"$0" "$@"; exit $?', binary, name, str(n)]
    if realtime:
        cmd = ["chrt", "--fifo", "10"] + cmd
    # In a session of its own, so that a timeout ends the workload, not only the shell.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise Failed("%s timed out after %d s (raise --timeout)" % (side, timeout))
    done = subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
    if "unknown workload" in done.stdout:
        raise Missing("%s has no workload %r" % (side, name))
    if done.returncode != 0:
        tail = (done.stderr.strip() or done.stdout.strip())[-300:]
        raise Failed("%s exited with %d: %s" % (side, done.returncode, tail))
    figures = parse_figures(done.stdout)
    if figure not in figures:
        raise Failed("%s printed no %s: %r" % (side, figure, done.stdout.strip()[-200:]))
    return figures


def measure(args, name, n, figure, env):
    """Both sides in turn, `--runs` times; returns (Go's runs, gogreen's runs), each
    run a dict of the figures it printed."""
    go, green = [], []
    for _ in range(args.runs):
        go.append(run_once("Go (benches/go)", GO_BIN, name, n, figure, args.timeout, env,
                           args.realtime))
        green.append(run_once("examples/workloads.rs", RUST_BIN, name, n, figure, args.timeout,
                              env, args.realtime))
        if args.verbose:
            print("    %s n=%d: go %.1f gogreen %.1f"
                  % (name, n, go[-1][figure], green[-1][figure]))
    return go, green


def spread(values):
    """Noise of a set of runs: (max - min) / median, in percent."""
    mid = statistics.median(values)
    return 100.0 * (max(values) - min(values)) / mid if mid else 0.0


def build():
    if not shutil.which("go"):
        sys.exit(
            "go not found. Install Go 1.19 or newer: `apt-get install -y golang-go` "
            "(Debian, Ubuntu) or a release from https://go.dev/dl/"
        )
    os.makedirs(os.path.dirname(GO_BIN), exist_ok=True)
    subprocess.run(["go", "build", "-o", GO_BIN, "."], cwd=GO_SRC, check=True)
    subprocess.run(
        ["cargo", "build", "--release", "--quiet", "--example", "workloads"],
        cwd=ROOT,
        check=True,
    )


def describe_machine(env, realtime):
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    go = subprocess.run(["go", "version"], capture_output=True, text=True).stdout.strip()
    procs = env.get("GOGREEN_PROCS", "default")
    print("# %s, %d CPUs; %s; processors: %s; load average %s%s" % (
        cpu, os.cpu_count() or 0, go, procs, " ".join("%.1f" % x for x in os.getloadavg()),
        "; workloads under SCHED_FIFO" if realtime else ""))


def compare(args, env):
    names = args.workloads or list(WORKLOADS)
    print(
        "%-11s %-17s %10s %10s %7s %7s %6s %5s  %s"
        % ("workload", "figure", "go", "gogreen", "go±%", "gg±%", "ratio", "goal", "verdict")
    )
    short = []
    for name in names:
        n, figure, goal = WORKLOADS[name]
        n = args.n or n
        try:
            runs = measure(args, name, n, figure, env)
        except (Missing, Failed) as e:
            verdict = "MISSING" if isinstance(e, Missing) else "FAILED"
            print("%-11s %-17s %10s %10s %7s %7s %6s %5.2f  %s: %s"
                  % (name, figure, "-", "-", "-", "-", "-", goal, verdict, e))
            short.append("%s %s" % (name, verdict.lower()))
            continue
        for fig, fig_goal in [(figure, goal)] + EXTRA_FIGURES.get(name, []):
            if any(fig not in r for side in runs for r in side):
                print("%-11s %-17s %10s %10s %7s %7s %6s %5.2f  FAILED: a run printed no %s"
                      % (name, fig, "-", "-", "-", "-", "-", fig_goal, fig))
                short.append("%s %s failed" % (name, fig))
                continue
            go, green = [[r[fig] for r in side] for side in runs]
            go_mid, green_mid = statistics.median(go), statistics.median(green)
            ratio = green_mid / go_mid if go_mid else float("inf")
            verdict = "met" if ratio <= fig_goal else "short"
            print(
                "%-11s %-17s %10.1f %10.1f %7.0f %7.0f %6.2f %5.2f  %s"
                % (name, fig, go_mid, green_mid, spread(go), spread(green), ratio, fig_goal,
                   verdict)
            )
            if verdict != "met":
                short.append("%s %s %.2f > %.2f" % (name, fig, ratio, fig_goal))
    print("short: " + ", ".join(short) if short else "all goals met")
    return not short


def growth(args, env):
    names = args.workloads or ["spawn_join"]
    if len(names) != 1:
        sys.exit("--growth takes one workload")
    name = names[0]
    _, figure, _ = WORKLOADS[name]
    sizes = args.sizes or GROWTH_SIZES
    print("%s, %s (x: against the first size), peak RSS in MB" % (name, figure))
    print("%-10s %9s %6s %9s %6s %6s %6s %6s %8s %8s" % (
        "n", "go", "x", "gogreen", "x", "ratio", "go±%", "gg±%", "go MB", "gg MB"))
    rows = []
    for n in sizes:
        try:
            go, green = measure(args, name, n, figure, env)
        except (Missing, Failed) as e:
            print("%-10d %s" % (n, e))
            return False
        go_mid = statistics.median(r[figure] for r in go)
        green_mid = statistics.median(r[figure] for r in green)
        rss = [statistics.median(r.get("maxrss_kb", 0) for r in side) / 1024 for side in (go, green)]
        rows.append((go_mid, green_mid))
        print("%-10d %9.1f %6.2f %9.1f %6.2f %6.2f %6.0f %6.0f %8.0f %8.0f" % (
            n, go_mid, go_mid / rows[0][0], green_mid, green_mid / rows[0][1],
            green_mid / go_mid, spread([r[figure] for r in go]),
            spread([r[figure] for r in green]), rss[0], rss[1]))
    flat_everywhere = True
    for side, col in (("go", 0), ("gogreen", 1)):
        per_item = [r[col] for r in rows]
        span = max(per_item) / min(per_item)
        flat = span <= GROWTH_GOAL
        if side == "gogreen":
            flat_everywhere = flat
        print("%-8s largest / smallest cost per item: %.2fx (goal: within %.1fx): %s" % (
            side, span, GROWTH_GOAL, "flat" if flat else "NOT flat"))
    return flat_everywhere


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("workloads", nargs="*", metavar="workload",
                    help="any of: " + ", ".join(WORKLOADS))
    ap.add_argument("--runs", type=int, default=3, help="runs per side (default 3)")
    ap.add_argument("--n", type=int, help="size for every workload, instead of its own")
    ap.add_argument("--procs", type=int,
                    help="processors: sets GOGREEN_PROCS and GOMAXPROCS (default: all CPUs)")
    ap.add_argument("--timeout", type=int, help="seconds per run (default 300, 60 with --realtime)")
    ap.add_argument("--realtime", action="store_true",
                    help="run the workloads under `chrt --fifo 10` (root or CAP_SYS_NICE): on a "
                         "machine busy with other work they then get the cores whenever they "
                         "want them, and everything else waits while they run")
    ap.add_argument("--growth", action="store_true",
                    help="cost per item at several sizes, for one workload (default spawn_join)")
    ap.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")],
                    help="--growth sizes, comma-separated (default 10000,100000,1000000,10000000)")
    ap.add_argument("--no-build", action="store_true", help="use the binaries already built")
    ap.add_argument("--strict", action="store_true", help="exit 1 unless every goal is met")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every run")
    args = ap.parse_args()
    if args.runs < 1:
        sys.exit("--runs must be at least 1")
    if args.timeout is None:
        # A workload that hangs under `--realtime` holds both cores until it is killed.
        args.timeout = 60 if args.realtime else 300
    if args.realtime and not shutil.which("chrt"):
        sys.exit("--realtime needs chrt (util-linux)")
    unknown = [w for w in args.workloads if w not in WORKLOADS]
    if unknown:
        sys.exit("no workload %s; the workloads are: %s" % (", ".join(unknown), ", ".join(WORKLOADS)))

    env = dict(os.environ)
    if args.procs:
        env["GOGREEN_PROCS"] = env["GOMAXPROCS"] = str(args.procs)
    if not args.no_build:
        build()
    describe_machine(env, args.realtime)
    ok = growth(args, env) if args.growth else compare(args, env)
    if args.strict and not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
