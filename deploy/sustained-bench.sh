#!/bin/sh
# Sustained throughput of one node: a fresh node, then four 10 s runs of
# `ringex bench --rate 0` back to back, printing orders/s and the node's
# CPU time per order for each. A single 10 s run writes ~1.5 GB of
# journal; later runs show what happens once the page cache has filled
# with it (README, "Sustained load and the page cache").
# Usage: deploy/sustained-bench.sh [ringex binary] [scratch dir]
set -eu
BIN=${1:-bin/ringex}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
DIR=${2:-data/sustained-bench}
HZ=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; } # user + system, in ticks
rm -rf "$DIR" && mkdir -p "$DIR" && sync && sleep 2
(cd "$DIR" && exec "$BIN" serve --set rings.input_slots=1048576 --set rings.output_slots=262144 >serve.log 2>&1) &
node=$!
for _ in $(seq 1 300); do
	curl -sf http://127.0.0.1:7480/healthz >/dev/null 2>&1 && break
	sleep 0.1
done
for run in 1 2 3 4; do
	b=$(cpu "$node")
	out=$("$BIN" bench --rate 0 --duration 10s --connections 4 --json 2>/dev/null)
	ticks=$(($(cpu "$node") - b))
	rate=$(echo "$out" | sed -n 's/.*"throughput_per_s":\([0-9]*\).*/\1/p')
	n=$(echo "$out" | sed -n 's/.*"acked":\([0-9]*\).*/\1/p')
	echo "run $run: $rate orders/s; $(awk -v t="$ticks" -v n="$n" -v hz="$HZ" 'BEGIN { printf "%.2f", t / hz / n * 1e6 }') µs node CPU per order"
done
kill -TERM "$node"
wait "$node" 2>/dev/null || true
rm -rf "$DIR"
