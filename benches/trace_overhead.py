#!/usr/bin/env python3
"""What tracing costs: each workload of examples/workloads.rs run side by side without
and with GOGREEN_TRACE, alternately, in one go; prints the median time per operation of
each and the ratio.

    python3 benches/trace_overhead.py                       # spawn_join, ping_pong, sieve
    python3 benches/trace_overhead.py --runs 9 ping_pong:200000

A workload is NAME or NAME:N (N as `workloads NAME N` takes it). The trace files go to
target/trace-overhead/ and are removed after each run. Timings on a shared machine are
noisy: the alternation puts both sides under the same noise, and the median of several
runs is what to read; write the CPU (`lscpu`) next to any figure.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target", "release", "examples", "workloads")
DEFAULT = ["spawn_join:100000", "ping_pong:100000", "sieve:300"]


def run(name, n, trace):
    env = dict(os.environ)
    env.pop("GOGREEN_TRACE", None)
    if trace:
        env["GOGREEN_TRACE"] = trace
    out = subprocess.run([BINARY, name, str(n)], capture_output=True, text=True, env=env,
                         timeout=600)
    if out.returncode != 0:
        sys.exit("%s %s %s failed: %s" % (BINARY, name, n, out.stderr))
    m = re.search(r"\bns_per_\w+=([\d.]+)", out.stdout)
    if not m:
        sys.exit("no ns_per_ in %r" % out.stdout)
    size = os.path.getsize(trace) if trace else 0
    if trace:
        os.remove(trace)
    return float(m.group(1)), size


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("workloads", nargs="*", default=DEFAULT)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--example", "workloads"], cwd=ROOT,
                   check=True)
    tmp = os.path.join(ROOT, "target", "trace-overhead")
    os.makedirs(tmp, exist_ok=True)
    print("%-12s %8s %12s %12s %7s %10s" % ("workload", "n", "off ns/op", "on ns/op", "on/off",
                                             "trace MB"))
    for w in a.workloads:
        name, _, n = w.partition(":")
        n = int(n) if n else 0
        off, on, sizes = [], [], []
        for _ in range(a.runs):
            off.append(run(name, n, None)[0])
            t, size = run(name, n, os.path.join(tmp, name + ".json"))
            on.append(t)
            sizes.append(size)
        mo, mn = statistics.median(off), statistics.median(on)
        print("%-12s %8s %12.1f %12.1f %7.2f %10.1f" % (name, n or "-", mo, mn, mn / mo,
                                                        statistics.median(sizes) / 1e6))


if __name__ == "__main__":
    main()
