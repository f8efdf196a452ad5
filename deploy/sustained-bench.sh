#!/bin/sh
# Sustained throughput of one node: a fresh node, then four 10 s runs of
# `ringex bench --rate 0` back to back, printing orders/s and the node's
# CPU time per order for each. A single 10 s run writes ~1.5 GB of
# journal; later runs show what happens once the page cache has filled
# with it (README, "Sustained load and the page cache").
# Usage: deploy/sustained-bench.sh [ringex binary] [scratch dir]
set -eu
BIN=${1:-bin/ringex}
DIR=${2:-data/sustained-bench}
. "$(dirname "$0")/bench-lib.sh"
rm -rf "$DIR" && mkdir -p "$DIR" && sync && sleep 2
(cd "$DIR" && exec "$BIN" serve --set rings.input_slots=1048576 --set rings.output_slots=262144 >serve.log 2>&1) &
node=$!
trap 'kill -TERM "$node" 2>/dev/null || true' EXIT
wait_ready 7480
for run in 1 2 3 4; do
	[ "$run" = 1 ] || between_runs
	b=$(cpu "$node")
	out=$(bench_json --rate 0 --duration 10s --connections 4)
	if [ -z "$out" ]; then
		echo "run $run: failed"
		continue
	fi
	echo "run $run: $(echo "$out" | rate) orders/s; $(per_order $(($(cpu "$node") - b)) "$(echo "$out" | acked)") µs node CPU per order"
done
kill -TERM "$node"
wait "$node" 2>/dev/null || true
rm -rf "$DIR"
