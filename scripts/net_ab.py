#!/usr/bin/env python3
"""Network servers side by side, in alternated rounds: for an A/B of two builds, or of
one build under two settings, against the anchors' servers.

Usage (from the project's root, after `net_compare.py` has built the anchors once):

    python3 scripts/net_ab.py [--rounds 8] [--mode echo|http|chat] NAME=SERVER ...

SERVER is a binary that takes `MODE ADDR` and prints a line starting with `listening`
(`target/release/examples/servers`, the anchors' Go and tokio servers), optionally
preceded by environment settings for it: `yield=GOGREEN_PROCS=1,GOGREEN_WARN=1@BIN`.
`go` and `tokio` name the anchors' servers. Example:

    python3 scripts/net_ab.py --rounds 10 --mode echo \\
        base=/tmp/servers-base new=target/release/examples/servers tokio

`net_compare.py` gives each server three runs in a row, so a minute of someone else's
load lands on one side; here each round starts a fresh server per name in turn, and the
medians over the rounds are compared. The load is the one `net_compare.py` applies:
`echo -c 100 -n 5000 -size 64` and `chat -c 50 -n 200` from the anchors' load
generator, `wrk -t1 -c100 -d5s --latency` for http. Per name it prints the medians of
time per operation (or requests per second), p90 (http) and p99 latency, the server's
and the client's CPU per operation and the share of the machine left idle; then the
p99 of every round, sorted, since a tail's spread is wider than its median says.
"""
import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import net_cost  # noqa: E402  (its helpers: the anchors' module, paths, ports, CPU time)

LOADS = {
    "echo": (["-c", "100", "-n", "5000", "-size", "64"], "msgs", "ns_per_msg"),
    "chat": (["-c", "50", "-n", "200"], "deliveries", "ns_per_delivery"),
}


def machine_busy():
    """(busy, total) jiffies over every CPU, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:8]]
    return sum(v) - v[3] - v[4], sum(v)


def latency_ms(value, unit):
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def one(nc, mode, server, env, load):
    port = net_cost.free_port()
    addr = "127.0.0.1:%d" % port
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        p = nc.start([server, mode, addr], port)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    try:
        busy0, total0 = machine_busy()
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu0 = net_cost.cpu_seconds(p.pid)
        if mode == "http":
            r = subprocess.run(["wrk", "-t1", "-c100", "-d5s", "--latency", "http://%s/" % addr],
                               capture_output=True, text=True, timeout=120)
            ops = float(re.search(r"(\d+) requests in", r.stdout).group(1))
            lat = {k: latency_ms(v, u) for k, v, u in re.findall(r"\s(\d+)%\s+([\d.]+)(us|ms|s)\b", r.stdout)}
            row = {"req_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", r.stdout).group(1)),
                   "p90_ms": lat["90"], "p99_ms": lat["99"]}
        else:
            args, count, per = LOADS[mode]
            r = subprocess.run([load, mode, addr] + args, capture_output=True, text=True,
                               timeout=300, preexec_fn=nc.raise_nofile)
            if r.returncode != 0:
                raise RuntimeError("load failed: " + (r.stderr or r.stdout)[-300:])
            f = nc.figures(r.stdout)
            ops = f[count]
            row = {per: f[per]}
            if "p99_us" in f:
                row["p99_us"] = f["p99_us"]
        server_cpu = net_cost.cpu_seconds(p.pid) - cpu0
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        busy1, total1 = machine_busy()
        row["server_us"] = server_cpu * 1e6 / ops
        row["client_us"] = ((ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)) * 1e6 / ops
        row["idle"] = 1.0 - (busy1 - busy0) / max(1, total1 - total0)
        return row
    finally:
        nc.stop(p)


def parse_server(spec, known):
    name, _, rest = spec.partition("=")
    if not rest:
        if name in known:
            return name, {}, known[name]
        sys.exit("%s: give NAME=SERVER (or go, tokio)" % spec)
    env = {}
    if "@" in rest:
        settings, rest = rest.rsplit("@", 1)
        for kv in filter(None, settings.split(",")):
            k, eq, v = kv.partition("=")
            if not eq:
                sys.exit("%s: environment settings are K=V, comma-separated, before @" % spec)
            env[k] = v
    path = known.get(rest, rest)
    if not os.path.exists(path):
        sys.exit("%s: %s is missing" % (name, path))
    return name, env, path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--mode", choices=["echo", "http", "chat"], default="echo")
    ap.add_argument("servers", nargs="+", help="NAME=[K=V,...@]SERVER, or go, tokio")
    a = ap.parse_args()
    if a.rounds < 1:
        sys.exit("--rounds must be at least 1")
    known = {"go": os.path.join(net_cost.TMP, "anchors-net-server"),
             "tokio": os.path.join(net_cost.TMP, "anchors-net-tokio-target", "release", "tokio-servers")}
    chosen = [parse_server(s, known) for s in a.servers]
    load = os.path.join(net_cost.TMP, "anchors-net-load")
    if a.mode != "http" and not os.path.exists(load):
        sys.exit("the load generator %s is missing; run ../shared/anchors/net/net_compare.py once" % load)
    nc = net_cost.compare_module()
    nc.raise_nofile()
    rows = {name: [] for name, _, _ in chosen}
    started = time.strftime("%H:%M:%S")
    for r in range(a.rounds):
        for name, env, path in chosen:
            rows[name].append(one(nc, a.mode, path, env, load))
        first = next(iter(rows[chosen[0][0]][-1]))
        print("round %d: %s" % (r + 1, "  ".join("%s %.0f" % (n, rows[n][-1][first]) for n, _, _ in chosen)),
              flush=True)
    print("%s, %d rounds from %s; load average now %.2f %.2f %.2f" % ((a.mode, a.rounds, started) + os.getloadavg()))
    columns = list(rows[chosen[0][0]][0])
    print("%-10s %s" % ("server", " ".join("%11s" % c for c in columns)))
    for name, _, _ in chosen:
        med = {c: statistics.median(x[c] for x in rows[name]) for c in columns}
        print("%-10s %s" % (name, " ".join("%11.3f" % med[c] for c in columns)))
    tail = "p99_ms" if a.mode == "http" else "p99_us"
    if tail in columns:
        for name, _, _ in chosen:
            print("%-10s %s, every round: %s" % (name, tail, sorted(round(x[tail], 3) for x in rows[name])))


if __name__ == "__main__":
    main()
