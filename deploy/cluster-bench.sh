#!/bin/sh
# Measures what the replication issue's throughput target compares: three
# runs of `ringex bench --rate 0` against a three-node cluster on loopback
# (deploy/cluster.sh), then three against one node with the same ring
# sizes, printing orders/s and each process's CPU time per order. Each run
# starts fresh processes and measures 10 s after a 3 s warm-up (without
# it the first cluster run measured 20-40 % low).
# Usage: deploy/cluster-bench.sh [ringex binary] [scratch dir]
set -eu
BIN=${1:-bin/ringex}
DIR=${2:-data/cluster-bench}
. "$(dirname "$0")/bench-lib.sh"
# Each run starts after the previous one's files are gone and written back:
# a run that started while the kernel still flushed gigabytes of the last
# one's journals measured up to 30 % lower, whichever binary it ran.
settle() { rm -rf "$DIR" && sync && sleep 2; }
sup="" node=""
trap 'for p in $sup $node; do kill -TERM "$p" 2>/dev/null || true; done' EXIT
for run in 1 2 3; do
	settle
	# The ports below are cluster.sh's defaults, whatever the caller's
	# environment sets.
	CLUSTER_PORT_BASE=7400 sh "$(dirname "$0")/cluster.sh" "$BIN" "$DIR" >/dev/null 2>&1 &
	sup=$!
	wait_ready 7481 7482 7483 # a leader
	sleep 3 # the followers caught up
	"$BIN" bench --addr 127.0.0.1:7411,127.0.0.1:7412,127.0.0.1:7413 --rate 0 --duration 3s --connections 4 >/dev/null 2>&1 || true # warm-up
	between_runs
	before=""
	for i in 1 2 3; do before="$before $(cpu "$(cluster_node_pid "$i" 7400)")"; done
	out=$(bench_json --addr 127.0.0.1:7411,127.0.0.1:7412,127.0.0.1:7413 --rate 0 --duration 10s --connections 4)
	n=$(echo "$out" | acked)
	line="cluster run $run: $(echo "$out" | rate) orders/s; µs CPU per order:"
	if [ -z "$out" ]; then
		line="cluster run $run: failed" before=""
	fi
	i=1
	for b in $before; do
		p=$(cluster_node_pid "$i" 7400)
		role=$(curl -s "http://127.0.0.1:748$i/state" | sed -n 's/.*"state":"\([A-Za-z]*\)".*/\1/p')
		line="$line node $i ($role) $(per_order $(($(cpu "$p") - b)) "$n")"
		i=$((i + 1))
	done
	echo "$line"
	kill -TERM "$sup"
	wait "$sup" 2>/dev/null || true
	sup=""
done
for run in 1 2 3; do
	settle && mkdir -p "$DIR"
	(cd "$DIR" && exec "$BIN" serve --set rings.input_slots=1048576 --set rings.output_slots=262144 --set gateway.recent_reports=262144 >serve.log 2>&1) &
	node=$!
	wait_ready 7480
	"$BIN" bench --rate 0 --duration 3s --connections 4 >/dev/null 2>&1 || true # warm-up
	between_runs
	b=$(cpu "$node")
	out=$(bench_json --rate 0 --duration 10s --connections 4)
	if [ -n "$out" ]; then
		echo "single run $run: $(echo "$out" | rate) orders/s; µs CPU per order: $(per_order $(($(cpu "$node") - b)) "$(echo "$out" | acked)")"
	else
		echo "single run $run: failed"
	fi
	kill -TERM "$node"
	wait "$node" 2>/dev/null || true
	node=""
done
