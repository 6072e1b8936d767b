#!/usr/bin/env python3
"""What each network server costs per operation: CPU time and system calls, side by side.

Usage (from the project's root, after `net_compare.py` has built the anchors once):

    python3 scripts/net_cost.py [--runs 3] [--against go,tokio] [echo http chat]

`../shared/anchors/net/net_compare.py` times a client and a server that share two cores
with whatever else the machine runs, so its wall-clock ratios swing with other people's
load (from half to twice a figure, on the shared machines this project is built on).
This script runs the same servers under the same load, one at a time, and counts what
does not depend on how much of the machine they got: the server's CPU time and the
load generator's, per operation (an echoed message, an HTTP request, a chat delivery),
and — when `perf` may count system calls (root, or `perf_event_paranoid` low enough) —
the server's system calls and context switches per operation, grouped by kind (the Go
server reads with `read`, Rust's with `recvfrom`; waits are `epoll_pwait`,
`epoll_pwait2` or `epoll_wait`). Medians over the runs.
"""
import argparse
import importlib.util
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ANCHORS = os.path.join(HERE, "..", "..", "shared", "anchors", "net")
TMP = tempfile.gettempdir()

# Groups of system calls, as the three servers' runtimes spell them.
GROUPS = {
    "reads": ["read", "recvfrom", "recvmsg", "readv"],
    "writes": ["write", "sendto", "sendmsg", "writev"],
    "polls": ["epoll_wait", "epoll_pwait", "epoll_pwait2"],
    "futex": ["futex"],
    "sleeps": ["nanosleep", "clock_nanosleep", "sched_yield"],
}
LOADS = {
    "echo": (["-c", "100", "-n", "5000", "-size", "64"], lambda f: f["msgs"]),
    "chat": (["-c", "50", "-n", "200"], lambda f: f["deliveries"]),
}


def compare_module():
    """The anchors' `net_compare.py`, for its server start-up and fd-limit helpers."""
    spec = importlib.util.spec_from_file_location("net_compare", os.path.join(ANCHORS, "net_compare.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def perf_counts_syscalls():
    if not shutil.which("perf"):
        return False
    r = subprocess.run(["perf", "stat", "-x,", "-e", "syscalls:sys_enter_getpid", "true"],
                       capture_output=True, text=True)
    return r.returncode == 0 and "not supported" not in r.stderr and "<not" not in r.stderr


def free_port():
    """A port nobody listens on now (other people's servers share this machine)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one(nc, mode, server, load, port, counting):
    addr = "127.0.0.1:%d" % port
    p = nc.start([server, mode, addr], port)
    perf, out = None, os.path.join(TMP, "net_cost.%d.perf" % os.getpid())
    try:
        if counting:
            events = ["task-clock", "context-switches"] + \
                ["syscalls:sys_enter_" + s for names in GROUPS.values() for s in names]
            perf = subprocess.Popen(["perf", "stat", "-x,", "-o", out, "-e", ",".join(events), "-p", str(p.pid)],
                                    start_new_session=True)
            time.sleep(1.0)  # perf attaches to every thread before the load starts
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        server_before = cpu_seconds(p.pid)
        if mode == "http":
            r = subprocess.run(["wrk", "-t1", "-c100", "-d5s", "http://%s/" % addr],
                               capture_output=True, text=True, timeout=120)
            ops = float(re.search(r"(\d+) requests in", r.stdout).group(1))
        else:
            args, count = LOADS[mode]
            r = subprocess.run([load, mode, addr] + args, capture_output=True, text=True, timeout=300,
                               preexec_fn=nc.raise_nofile)
            if r.returncode != 0:
                raise RuntimeError("load failed: " + (r.stderr or r.stdout)[-300:])
            ops = count(nc.figures(r.stdout))
        server_cpu = cpu_seconds(p.pid) - server_before
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        client_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        row = {"server_us": server_cpu * 1e6 / ops, "client_us": client_cpu * 1e6 / ops}
        if perf:
            os.killpg(perf.pid, signal.SIGINT)
            perf.wait()
            perf = None
            counts = {}
            with open(out) as f:
                for line in f:
                    parts = line.strip().split(",")
                    if len(parts) > 2 and parts[0].replace(".", "", 1).isdigit():
                        counts[parts[2].replace("syscalls:sys_enter_", "")] = float(parts[0])
            row["switches"] = counts.get("context-switches", 0) / ops
            for group, names in GROUPS.items():
                row[group] = sum(counts.get(n, 0) for n in names) / ops
        return row
    finally:
        if perf:
            os.killpg(perf.pid, signal.SIGINT)
            perf.wait()
        nc.stop(p)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--against", default="go,tokio", help="comma-separated: go, tokio")
    ap.add_argument("--project-bin", default="target/release/examples/servers")
    ap.add_argument("modes", nargs="*", default=["echo", "http", "chat"])
    a = ap.parse_args()
    for mode in a.modes:
        if mode not in ("echo", "http", "chat"):
            sys.exit("unknown mode %s: use echo, http or chat (idle costs no CPU per operation)" % mode)
    for name in a.against.split(","):
        if name not in ("go", "tokio"):
            sys.exit("unknown server %s for --against: use go, tokio or go,tokio" % name)
    nc = compare_module()
    servers = {"go": os.path.join(TMP, "anchors-net-server"),
               "tokio": os.path.join(TMP, "anchors-net-tokio-target", "release", "tokio-servers")}
    load = os.path.join(TMP, "anchors-net-load")
    chosen = [(name, servers[name]) for name in a.against.split(",")] + [("gogreen", a.project_bin)]
    for name, path in chosen + [("load", load)]:
        if not os.path.exists(path):
            sys.exit("%s: %s is missing; run ../shared/anchors/net/net_compare.py once (it builds the "
                     "anchors), and `cargo build --release --example servers`" % (name, path))
    counting = perf_counts_syscalls()
    if not counting:
        print("(perf cannot count system calls here: CPU time only)")
    nc.raise_nofile()
    columns = ["server_us", "client_us"] + (["switches"] + list(GROUPS) if counting else [])
    print("%-5s %-8s %s" % ("mode", "server", " ".join("%10s" % c for c in columns)))
    for mode in a.modes:
        rows = {name: [] for name, _ in chosen}
        for _ in range(a.runs):
            for name, path in chosen:
                rows[name].append(one(nc, mode, path, load, free_port(), counting))
        for name, _ in chosen:
            med = {c: statistics.median(r[c] for r in rows[name]) for c in columns}
            print("%-5s %-8s %s" % (mode, name, " ".join("%10.3f" % med[c] for c in columns)), flush=True)


if __name__ == "__main__":
    main()
