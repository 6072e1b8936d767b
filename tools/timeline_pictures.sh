#!/bin/sh
# Makes the pictures of docs/timeline.md: each scene is traced with GOGREEN_TRACE into
# target/timeline/, then a window of it is rendered into docs/timeline/ by
# tools/trace_svg.py. Run from the repository's root:  sh tools/timeline_pictures.sh
# Timings differ from run to run (and from machine to machine); the shapes do not.
set -eu
T=target/timeline
D=docs/timeline
mkdir -p "$T" "$D"
cargo build --release --example workloads --example timeline --example sieve

GOGREEN_PROCS=2 GOGREEN_TRACE=$T/pingpong.json cargo run -q --release --example workloads -- ping_pong 2000
python3 tools/trace_svg.py $T/pingpong.json $D/pingpong.svg --at "park G2" --nth 1000 --span 0.01 --arrows \
    --title "ping-pong: two green threads over rendezvous channels, GOGREEN_PROCS=2"

GOGREEN_PROCS=2 GOGREEN_TRACE=$T/fanout.json cargo run -q --release --example timeline -- fanout
python3 tools/trace_svg.py $T/fanout.json $D/fanout.svg --at "spawn worker-0" --before 0.15 --span 3.8 \
    --title "fan-out: G1 spawns 8 CPU-bound green threads, GOGREEN_PROCS=2"

GOGREEN_PROCS=1 GOGREEN_TRACE=$T/blocked.json cargo run -q --release --example timeline -- blocked
python3 tools/trace_svg.py $T/blocked.json $D/blocked.svg --at "spawn" --span 31 \
    --title "blocked: G1 calls std::thread::sleep(30 ms), unmarked, GOGREEN_PROCS=1"

GOGREEN_PROCS=1 GOGREEN_TRACE=$T/marked.json cargo run -q --release --example timeline -- marked
python3 tools/trace_svg.py $T/marked.json $D/marked.svg --at "spawn" --span 31.5 \
    --title "marked: the same sleep inside gogreen::blocking, GOGREEN_PROCS=1"

GOGREEN_PROCS=2 GOGREEN_TRACE=$T/sieve.json cargo run -q --release --example sieve -- 12 > /dev/null
python3 tools/trace_svg.py $T/sieve.json $D/sieve.svg --at "spawn G2" --span 0.1 --arrows --lanes gs \
    --title "the sieve's chain, 12 primes: a lane per green thread, GOGREEN_PROCS=2"
# docs/timeline/cascade.svg is not remade here: it shows a run of the blocked scene on
# an overloaded machine (see docs/timeline.md), which a quiet machine does not repeat.
ls -l $D
