#!/bin/sh
# Snapshots while trading: a fresh node with RESTING orders resting on the
# book (default 1 M), `ringex bench --rate 100000` for 10 s, and two
# snapshots asked for during it (`ringex snapshot` at 3 s and 6 s).
# Prints the run's latency figures and, per snapshot, how long the engine
# goroutine — trading — waited for it (engine_paused_ms) and its size.
# With the default rings the node maps 5 GiB at startup.
# With SNAPSHOTS=0 in the environment it asks for none: the same run
# without them, to compare.
# Usage: deploy/snapshot-bench.sh [ringex binary] [scratch dir] [resting]
set -eu
SNAPSHOTS=${SNAPSHOTS:-2}
BIN=${1:-bin/ringex}
DIR=${2:-data/snapshot-bench}
RESTING=${3:-1000000}
. "$(dirname "$0")/bench-lib.sh"
rm -rf "$DIR" && mkdir -p "$DIR" && sync && sleep 2
# Pools sized for the resting orders (engine.max_orders), so that growing
# them is not measured along; no bound on one account's orders
# (engine.max_open_orders), as they all rest as demo account 3.
(cd "$DIR" && exec "$BIN" serve --set engine.max_orders=$((RESTING * 5 / 4 + 65536)) --set engine.max_open_orders=0 >serve.log 2>&1) &
node=$!
trap 'kill -TERM "$node" 2>/dev/null || true' EXIT
wait_ready 7480
out=$(mktemp)
bench_json --rest "$RESTING" --rate 100000 --duration 10s --connections 4 >"$out" &
run=$!
# The resting orders go in first; the timed run starts once they are on.
for _ in $(seq 1 1200); do
	placed=$(curl -s http://127.0.0.1:7480/metrics | awk '/^ringex_orders_total\{type="new_order"\}/ { printf "%d", $2 }')
	[ "${placed:-0}" -gt "$RESTING" ] && break
	sleep 0.1
done
sleep 3
[ "$SNAPSHOTS" = 0 ] || "$BIN" snapshot >/dev/null
sleep 3
[ "$SNAPSHOTS" = 0 ] || "$BIN" snapshot >/dev/null
wait "$run" || true
sed 's/.*\("p50_us":[0-9]*\).*\("p99_us":[0-9]*\).*\("p999_us":[0-9]*\).*\("max_us":[0-9]*\).*\("send_lag_p99_us":[0-9]*\).*\("to_gateway_p99_us":[0-9]*\).*\("from_gateway_p99_us":[0-9]*\).*/latency µs: \1 \2 \3 \4; legs: \5 \6 \7/' "$out"
grep '"snapshot written"' "$DIR/serve.log" | grep engine_paused_ms |
	sed 's/.*"seq":\([0-9]*\).*"bytes":\([0-9]*\).*"engine_paused_ms":\([0-9.]*\).*/snapshot at input \1: \2 bytes, trading waited \3 ms/'
# Garbage-collection pauses over the run: every goroutine waits through
# them (a long one means a goroutine the runtime could not preempt).
curl -s http://127.0.0.1:7480/metrics | awk '
	/^ringex_gc_pause_seconds_bucket\{part="total"/ {
		le = $1; sub(/.*le="/, "", le); sub(/".*/, "", le)
		if ($2 > below) { worst = le; below = $2 } # the bucket holding the longest so far
	}
	/^ringex_gc_pause_seconds_count\{part="total"\}/ { n = $2 }
	END { printf "garbage-collection pauses (two per collection): %d, the longest at most %s s\n", n, worst }'
rm -f "$out"
kill -TERM "$node"
wait "$node" 2>/dev/null || true
rm -rf "$DIR"
