#!/bin/sh
# Measures what the operations issue's latency and throughput targets
# name: a fresh node on the embedded default config (journal fdatasync per
# batch) for each run, `ringex bench --connections 4` for 10 s after a
# 3 s pause. RUNS runs (default 3) at `--rate 100000`, then one at
# `--rate 0`. Per run it prints the client's figures and, from the node's
# own histograms, where the time went: the journal's fdatasync and the
# node's end to end (gateway receive → report written to the socket).
# The load generator's own lateness (send lag) is counted in the client's
# figures, as correcting for coordinated omission requires. REST=N rests
# N orders away from the touch before each run (`ringex bench --rest`),
# kept through it: an exchange's book holds long-lived orders, and a node
# once slowed down seven times with 18 000 of them (README "Matching
# engine").
# Usage: [RUNS=3] [REST=0] deploy/latency-bench.sh [ringex binary] [scratch dir]
set -eu
BIN=${1:-bin/ringex}
DIR=${2:-data/latency-bench}
RUNS=${RUNS:-3}
REST=${REST:-0}
. "$(dirname "$0")/bench-lib.sh"
node=""
trap '[ -z "$node" ] || kill -TERM "$node" 2>/dev/null || true' EXIT
# quantiles METRIC: p50 and p99 of a Prometheus histogram on the node's
# /metrics in µs, interpolated within their buckets as Prometheus's
# histogram_quantile does (the buckets double, so this is an estimate).
quantiles() {
	curl -s http://127.0.0.1:7480/metrics | awk -v m="$1" '
		index($0, m "_bucket{") == 1 {
			le = $1; sub(/.*le="/, "", le); sub(/".*/, "", le)
			n++; bound[n] = (le == "+Inf" ? -1 : le * 1e6); count[n] = $2
		}
		END {
			if (n == 0 || count[n] == 0) { printf "none"; exit }
			split("0.5 0.99", q, " ")
			for (k = 1; k <= 2; k++) {
				rank = q[k] * count[n]
				for (i = 1; count[i] < rank; i++) {}
				lo = (i == 1 ? 0 : bound[i - 1]); below = (i == 1 ? 0 : count[i - 1])
				est = (bound[i] < 0 ? "> " lo : sprintf("%.0f", lo + (bound[i] - lo) * (rank - below) / (count[i] - below)))
				printf "%s%s %s", (k > 1 ? ", " : ""), (k == 1 ? "p50" : "p99"), est
			}
		}'
}
run() { # label, rate
	rm -rf "$DIR" && mkdir -p "$DIR" && sync && sleep 2
	# REST above engine.max_open_orders (100 000), all demo account 3's:
	# that bound lifted, the default config otherwise.
	lift=""
	[ "$REST" -le 100000 ] || lift="--set engine.max_open_orders=0"
	(cd "$DIR" && exec "$BIN" serve $lift >serve.log 2>&1) &
	node=$!
	wait_ready 7480
	sleep 3
	out=$(bench_json --rate "$2" --duration 10s --connections 4 --rest "$REST")
	if [ -z "$out" ]; then
		echo "$1: failed"
	else
		echo "$1: $(echo "$out" | field throughput_per_s) orders/s; client µs p50 $(echo "$out" | field p50_us)," \
			"p99 $(echo "$out" | field p99_us), p99.9 $(echo "$out" | field p999_us), max $(echo "$out" | field max_us)," \
			"send lag p50 $(echo "$out" | field send_lag_p50_us), p99 $(echo "$out" | field send_lag_p99_us);" \
			"legs p50: to the gateway $(echo "$out" | field to_gateway_p50_us), from it $(echo "$out" | field from_gateway_p50_us); node µs: fdatasync $(quantiles ringex_journal_fsync_seconds)," \
			"end to end $(quantiles ringex_end_to_end_latency_seconds)"
	fi
	kill -TERM "$node"
	wait "$node" 2>/dev/null || true
	node=""
}
i=1
while [ "$i" -le "$RUNS" ]; do
	run "rate 100000, run $i" 100000
	i=$((i + 1))
done
run "rate 0" 0
rm -rf "$DIR"
