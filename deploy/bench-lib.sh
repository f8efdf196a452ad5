# Helpers for the benchmark scripts in deploy/ (sourced, not run):
# process CPU time, figures out of `ringex bench --json`, waiting for a
# node to take sessions. The sourcing script sets BIN (the ringex binary),
# which is made absolute here, as the scripts run it from other
# directories.
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
HZ=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; } # user + system, in ticks
# cluster_node_pid I BASE: the process of node I of the cluster
# deploy/cluster.sh started with CLUSTER_PORT_BASE=BASE, told by its
# --peers (node 1's raft port, BASE+101): node I of another cluster on
# the machine has the same command line but for its ports, and two pids
# made cpu fail.
cluster_node_pid() { pgrep -f "serve --node-id $1 --peers 1=127\.0\.0\.1:$(($2 + 101))="; }
# field NAME: the whole part of the number a `ringex bench --json` object
# gives for NAME.
field() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }
rate() { field throughput_per_s; }
acked() { field acked; }
per_order() { awk -v t="$1" -v n="$2" -v hz="$HZ" 'BEGIN { printf "%.2f", t / hz / n * 1e6 }'; }
# wait_ready PORT…: until the node on one of these admin ports takes
# trading sessions (/readyz): one node has mapped its rings and replayed,
# a cluster has elected a leader. /healthz answers from the moment the
# admin port listens, while the node still replays its journal and maps
# its rings (gigabytes, seconds on a loaded VM) — before its gateway
# listens.
wait_ready() {
	for _ in $(seq 1 600); do
		for port in "$@"; do
			curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
		done
		sleep 0.1
	done
	echo "no node on admin ports $* became ready within 60 s" >&2
	exit 1
}
# between_runs: the pause after one `ringex bench` before the next logs
# on. The demo accounts it trades as cancel their resting orders when
# their last session closes (tens of thousands after 3 s at --rate 0), and
# those cancel reports go to every live session of the account: a run
# logging on within those milliseconds got them all, and one connection
# whose reader had not started yet was disconnected as a slow consumer
# (make cluster-bench, 2026-12-04 18:42). A second lets them go to nobody.
between_runs() { sleep 1; }
# bench_json ARGS…: `ringex bench ARGS… --json`. A run that fails (the node
# hung up on a connection, say) prints nothing and says why on stderr, so
# the calling script reports it and goes on instead of exiting with the
# nodes it started still running.
bench_json() {
	err=$(mktemp)
	if json=$("$BIN" bench "$@" --json 2>"$err"); then
		echo "$json"
	else # it printed what it measured, then failed: not a run's figures
		echo "ringex bench failed: $(tail -n 1 "$err")" >&2
	fi
	rm -f "$err"
}
