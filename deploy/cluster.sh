#!/bin/sh
# Starts a three-node ringex cluster on loopback and prints its addresses.
# Ctrl-C (or SIGTERM) stops all three. Usage: deploy/cluster.sh [ringex binary] [data dir]
#
#   node  gateway          market data      admin            raft
#   1     127.0.0.1:7411   127.0.0.1:7421   127.0.0.1:7481   127.0.0.1:7501
#   2     127.0.0.1:7412   127.0.0.1:7422   127.0.0.1:7482   127.0.0.1:7502
#   3     127.0.0.1:7413   127.0.0.1:7423   127.0.0.1:7483   127.0.0.1:7503
set -eu
BIN=${1:-bin/ringex}
DATA=${2:-data/cluster}
PEERS="1=127.0.0.1:7501=127.0.0.1:7411,2=127.0.0.1:7502=127.0.0.1:7412,3=127.0.0.1:7503=127.0.0.1:7413"
pids=""
stop() {
	for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
	wait
}
trap stop INT TERM
for i in 1 2 3; do
	mkdir -p "$DATA/n$i"
	"$BIN" serve --node-id "$i" --peers "$PEERS" \
		--set node.data_dir="$DATA/n$i" \
		--set gateway.listen="127.0.0.1:741$i" \
		--set marketdata.listen="127.0.0.1:742$i" \
		--set admin.listen="127.0.0.1:748$i" \
		--set rings.input_slots=1048576 --set rings.output_slots=262144 \
		>"$DATA/n$i/stdout.log" 2>"$DATA/n$i/ringex.log" &
	pids="$pids $!"
done
echo "ringex cluster: 3 nodes, logs under $DATA/n*/ringex.log"
for i in 1 2 3; do
	echo "  node $i: gateway 127.0.0.1:741$i  market data 127.0.0.1:742$i  admin http://127.0.0.1:748$i  raft 127.0.0.1:750$i"
done
echo "  any gateway redirects to the leader, e.g.: bin/ringex bench --addr 127.0.0.1:7411"
echo "  state of a node: curl -s http://127.0.0.1:7481/state"
wait
