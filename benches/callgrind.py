#!/usr/bin/env python3
"""Instructions per operation of one workload, counted by callgrind, start-up cancelled.

    python3 benches/callgrind.py ping_pong 20000 40000            # GOGREEN_PROCS=1
    python3 benches/callgrind.py --procs 2 select4 20000 40000
    python3 benches/callgrind.py --go select4 20000 40000        # Go's benches/go, GOMAXPROCS

Runs `valgrind --tool=callgrind` on `target/release/examples/workloads WORKLOAD N` at
two sizes and divides the difference in instructions by the difference in operations
(the `n=` the workload prints: tasks, round trips, receives, switches, messages), so
that what the process does once (starting the runtime, reserving stacks, exiting)
cancels. Then the same for each function's own instructions: where an operation's
instructions go. Functions that recur through a context switch (`f'2`) are merged.

Instruction counts are repeatable whatever else the machine does, which makes them the
"before" and "after" figure of a change to a hot path. They say nothing of cache misses
or of the time one core waits for another: valgrind runs one thread at a time, so with
more than one processor the counts include whatever spinning the interleaving valgrind
chose happened to cost (run twice and compare; the `--procs 1` figure is exact).
The output files stay in target/callgrind/ for `callgrind_annotate`.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "target", "callgrind")


def count(binary, workload, n, env, tag, timeout):
    """Runs the workload under callgrind; returns (operations printed, output file)."""
    out = os.path.join(OUT, "%s.%s.%d.out" % (tag, workload, n))
    cmd = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
        binary, workload, str(n),
    ]
    # A crash under valgrind is rare but not unknown; a second try gets through. So is a
    # run that never ends (valgrind runs one thread at a time, which provokes rare
    # scheduling paths): the watchdog ends it and the run is tried again.
    for _ in range(3):
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, env=env,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            print("# %s: no end after %d s, tried again" % (" ".join(cmd[-3:]), timeout),
                  file=sys.stderr)
            continue
        if done.returncode == 0:
            break
    else:
        sys.exit("%s failed three times" % " ".join(cmd))
    ops = re.search(r"\bn=(\d+)", done.stdout)
    if not ops:
        sys.exit("%s printed no n=: %r" % (" ".join(cmd), done.stdout))
    return int(ops.group(1)), out


def self_costs(out, by_file):
    """Total instructions, and the instructions of each function (or source file) itself."""
    text = subprocess.run(
        ["callgrind_annotate", "--threshold=100", "--inclusive=no", "--auto=no", out],
        capture_output=True, text=True, check=True,
    ).stdout
    total = int(re.search(r"^([\d,]+)\s+\(100\.0%\)\s+PROGRAM TOTALS", text, re.M)
                .group(1).replace(",", ""))
    table = text.split("file:function", 1)[1].split("\n", 2)[2]
    costs = {}
    for line in table.splitlines():
        m = re.match(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*?)(?: \[[^\]]*\])?$", line)
        if not m:
            break
        # `file:function`; the file is where the instructions' source is (inlined code
        # names its own file), the function the one they ran in.
        file, _, func = m.group(2).partition(":")
        key = file if by_file else re.sub(r"'\d+$", "", func)
        costs[key] = costs.get(key, 0) + int(m.group(1).replace(",", ""))
    return total, costs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("workload")
    ap.add_argument("n1", type=int)
    ap.add_argument("n2", type=int)
    ap.add_argument("--procs", type=int, default=1,
                    help="GOGREEN_PROCS (GOMAXPROCS with --go); default 1")
    ap.add_argument("--go", action="store_true", help="count Go's benches/go instead")
    ap.add_argument("--top", type=int, default=20, help="functions to list (default 20)")
    ap.add_argument("--timeout", type=int, default=600,
                    help="seconds before a valgrind run counts as hung (default 600)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="count this many times, print the median and the range")
    ap.add_argument("--by-file", action="store_true",
                    help="group by source file (inlined code counts where it is written)")
    a = ap.parse_args()
    if a.n2 <= a.n1:
        sys.exit("n2 must be larger than n1")
    if not shutil.which("valgrind"):
        sys.exit("valgrind not found: apt-get install -y valgrind")

    env = dict(os.environ)
    if a.go:
        binary = os.path.join(ROOT, "target", "go-workloads")
        subprocess.run(["go", "build", "-o", binary, "."], cwd=os.path.join(ROOT, "benches", "go"),
                       check=True)
        env["GOMAXPROCS"] = str(a.procs)
        # Go preempts with signals (SIGURG), which trip an assertion in callgrind's
        # signal tracking; without them these workloads run as they would anyway
        # (every goroutine reaches a scheduling point within microseconds).
        env["GODEBUG"] = "asyncpreemptoff=1"
        tag = "go.p%d" % a.procs
    else:
        binary = os.path.join(ROOT, "target", "release", "examples", "workloads")
        subprocess.run(["cargo", "build", "--release", "--quiet", "--example", "workloads"],
                       cwd=ROOT, check=True)
        env["GOGREEN_PROCS"] = str(a.procs)
        tag = "gogreen.p%d" % a.procs
    os.makedirs(OUT, exist_ok=True)

    results = []
    for _ in range(a.repeat):
        ops1, out1 = count(binary, a.workload, a.n1, env, tag, a.timeout)
        ops2, out2 = count(binary, a.workload, a.n2, env, tag, a.timeout)
        total1, funcs1 = self_costs(out1, a.by_file)
        total2, funcs2 = self_costs(out2, a.by_file)
        results.append(((total2 - total1) / (ops2 - ops1), ops1, ops2, funcs1, funcs2))
    results.sort(key=lambda r: r[0])
    per_op, ops1, ops2, funcs1, funcs2 = results[len(results) // 2]
    spread = ""
    if a.repeat > 1:
        spread = " (median of %d; %.0f to %.0f)" % (a.repeat, results[0][0], results[-1][0])
    print("%s %s procs=%d: %.0f instructions per operation%s, n=%d and n=%d"
          % (tag.split(".")[0], a.workload, a.procs, per_op, spread, a.n1, a.n2))
    diffs = {f: (funcs2.get(f, 0) - funcs1.get(f, 0)) / (ops2 - ops1)
             for f in set(funcs1) | set(funcs2)}
    for f, d in sorted(diffs.items(), key=lambda kv: -abs(kv[1]))[: a.top]:
        print("%8.1f  %s" % (d, f))


if __name__ == "__main__":
    main()
