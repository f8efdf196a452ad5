#!/bin/sh
# Starts a three-node ringex cluster on loopback and prints its addresses.
# Ctrl-C (or SIGTERM) stops all three; a node that exits with an error is
# started again, except one fenced (status 4: ringex cluster replace moved
# its member). Each node has a supervisor, whose pid the script prints:
# kill -USR1 it to restart its node (a rolling restart, one node at a
# time), kill -TERM it to stop its node for good. A node stopped from
# outside (a TERM to the node alone) is said stopped and started again on
# its supervisor's USR1. Usage: deploy/cluster.sh [ringex binary] [data dir]
#
#   node  gateway          market data      admin            raft
#   1     127.0.0.1:7411   127.0.0.1:7421   127.0.0.1:7481   127.0.0.1:7501
#   2     127.0.0.1:7412   127.0.0.1:7422   127.0.0.1:7482   127.0.0.1:7502
#   3     127.0.0.1:7413   127.0.0.1:7423   127.0.0.1:7483   127.0.0.1:7503
#
# CLUSTER_PORT_BASE (default 7400) moves every port by the same offset:
# node i's gateway is base+10+i, market data base+20+i, admin base+80+i,
# raft base+100+i — e.g. CLUSTER_PORT_BASE=17400 for a second cluster
# beside the first. (Not RINGEX_*: ringex serve reads those as config.)
set -eu
BIN=${1:-bin/ringex}
DATA=${2:-data/cluster}
BASE=${CLUSTER_PORT_BASE:-7400}
case $BASE in
'' | *[!0-9]*)
	echo "ringex cluster: CLUSTER_PORT_BASE=$BASE is not a port number" >&2
	exit 2
	;;
0*) # sh's arithmetic reads 07400 as octal (3840), 08000 as no number
	echo "ringex cluster: CLUSTER_PORT_BASE=$BASE: write it without leading zeros" >&2
	exit 2
	;;
esac
if [ "$BASE" -lt 1024 ] || [ "$BASE" -gt 65400 ]; then
	echo "ringex cluster: CLUSTER_PORT_BASE=$BASE: want 1024..65400 (its nodes use base+11 to base+103)" >&2
	exit 2
fi
# A node's port on a single node's default one (ringex serve with the
# demo config: 7400, 7401, 7480) or on the default cluster's (base 7400)
# binds only while that other one is down: the supervisor below would
# start the node again for ever. Refused, naming the clash.
for i in 1 2 3; do
	for role in gateway:10 market-data:20 admin:80 raft:100; do
		port=$((BASE + ${role#*:} + i))
		clash=""
		case $port in
		7400) clash="a single node's default gateway.listen" ;;
		7401) clash="a single node's default marketdata.listen" ;;
		7480) clash="a single node's default admin.listen" ;;
		741[123] | 742[123] | 748[123] | 750[123])
			[ "$BASE" -eq 7400 ] || clash="a port of the cluster at the default CLUSTER_PORT_BASE=7400"
			;;
		esac
		if [ -n "$clash" ]; then
			echo "ringex cluster: CLUSTER_PORT_BASE=$BASE: node $i's ${role%:*} port $port is $clash; take a base whose ports (base+11 to base+103) miss it, e.g. 17400" >&2
			exit 2
		fi
	done
done
# The cluster's own id (cluster.id): without one its members run as
# "cluster", as does every cluster left without an id, and each warned
# at every start that a data directory of another such cluster is not
# told from its own. It names the port base, so that a second cluster
# beside the first (another CLUSTER_PORT_BASE) refuses the first's
# journal segments and a joining member's raft state of the first.
# A data directory made by an earlier cluster.sh keeps the id its
# journals began with, "cluster" (each member warns of it at start):
# remove it to start afresh under this one.
CLUSTER_ID="local-$BASE"
PEERS="1=127.0.0.1:$((BASE + 101))=127.0.0.1:$((BASE + 11)),2=127.0.0.1:$((BASE + 102))=127.0.0.1:$((BASE + 12)),3=127.0.0.1:$((BASE + 103))=127.0.0.1:$((BASE + 13))"
pids=""
# The cluster's first start forms it (--bootstrap); a node whose data
# directory is removed later joins the others instead, as a member whose
# disk was lost must.
BOOTSTRAP=""
if [ ! -e "$DATA/n1" ] && [ ! -e "$DATA/n2" ] && [ ! -e "$DATA/n3" ]; then
	BOOTSTRAP="--bootstrap"
fi
stopping=""
stop() {
	stopping=1
	# Again while one is left: a supervisor signalled before its own
	# trap was set (just forked) lost the TERM.
	while :; do
		left=""
		for p in $pids; do kill -TERM "$p" 2>/dev/null && left=1; done
		[ -n "$left" ] || break
		sleep 0.5
	done
	wait
}
# Until every supervisor is started (and its pid known to stop), a
# signal is only noted; stop runs once they all are.
trap 'stopping=1' INT TERM
# supervise runs node $1 and starts it again whenever it exits with an
# error: a member fails stop on purpose (a storage error, a deposed leader
# with inputs in flight, an installed snapshot) and relies on a supervisor,
# as the systemd unit's Restart=on-failure is in production. TERM stops it;
# USR1 stops the node and starts it again, as systemctl restart does, or
# starts a node that stopped cleanly (exit status 0), which is otherwise
# left stopped, as systemd leaves it.
supervise() {
	i=$1
	child=""
	restart=""
	me=$(exec sh -c 'echo $PPID') # this subshell's pid: $$ is the script's
	# term_child sends the node TERM, and again 0.3 s later: one that
	# lands between the fork of "$BIN" and its exec is lost (the shell's
	# trap, reset in the child, swallows it) and the node ran on, the
	# script waiting for it for good (1 of ~1 500 starts in the test, on a
	# loaded machine). ringex serve takes a second signal within a second
	# of the first as the same stop.
	term_child() {
		kill -TERM "$child" 2>/dev/null || true
		(sleep 0.3; kill -TERM "$child" 2>/dev/null || true) &
	}
	# Forwarded once: stop repeats its TERM, and a second one a second
	# or more after the first makes the node exit at once.
	trap 'if [ -z "$stopping" ]; then stopping=1; [ -z "$child" ] || term_child; fi' TERM
	trap '' INT # Ctrl-C reaches the node itself and the script's trap
	trap 'restart=1; [ -z "$child" ] || term_child' USR1
	while [ -z "$stopping" ]; do
		restart=""
		# shellcheck disable=SC2086 # $BOOTSTRAP is one word or none
		"$BIN" serve --node-id "$i" --peers "$PEERS" $BOOTSTRAP \
			--set cluster.id="$CLUSTER_ID" \
			--set node.data_dir="$DATA/n$i" \
			--set gateway.listen="127.0.0.1:$((BASE + 10 + i))" \
			--set marketdata.listen="127.0.0.1:$((BASE + 20 + i))" \
			--set admin.listen="127.0.0.1:$((BASE + 80 + i))" \
			--set rings.input_slots=1048576 --set rings.output_slots=262144 --set gateway.recent_reports=262144 \
			>>"$DATA/n$i/stdout.log" 2>>"$DATA/n$i/ringex.log" &
		child=$!
		BOOTSTRAP="" # formed by now: a restart with no raft state joins
		# A TERM whose trap ran before child was set killed nothing.
		if [ -n "$stopping" ]; then term_child; fi
		code=0
		wait "$child" || code=$?
		# A TERM arriving while this shell waits ends the wait early: wait
		# again for the node's own exit.
		while kill -0 "$child" 2>/dev/null; do wait "$child" || code=$?; done
		child=""
		if [ -n "$stopping" ]; then
			return
		fi
		if [ -n "$restart" ]; then
			echo "ringex cluster: node $i stopped; starting it again" >&2
			continue
		fi
		if [ "$code" -eq 0 ]; then
			echo "ringex cluster: node $i stopped (exit status 0) and is left stopped: kill -USR1 $me starts it again, kill -TERM $me ends its supervisor" >&2
			while [ -z "$stopping" ] && [ -z "$restart" ]; do sleep 0.2; done
			[ -z "$stopping" ] || return
			echo "ringex cluster: node $i: starting it again" >&2
			continue
		fi
		# 4: fenced, another process is this member now (ringex cluster
		# replace moved it); as the systemd unit, never started again.
		if [ "$code" -eq 4 ]; then
			echo "ringex cluster: node $i was fenced (moved to another address by ringex cluster replace): not restarting it" >&2
			return
		fi
		echo "ringex cluster: node $i exited with status $code; restarting it" >&2
		sleep 1
	done
}
# The data directories are made closed to other local users, as the node
# makes its own (0700): made 0755 under the usual umask, every node's
# first start closed its own and warned, on a brand-new cluster, that "an
# older build made it readable".
sup1="" sup2="" sup3=""
for i in 1 2 3; do
	(umask 077 && mkdir -p "$DATA/n$i")
	supervise "$i" &
	pids="$pids $!"
	eval "sup$i=$!"
done
trap stop INT TERM
if [ -n "$stopping" ]; then
	stop
	exit 0
fi
echo "ringex cluster: 3 nodes, logs under $DATA/n*/ringex.log"
for i in 1 2 3; do
	echo "  node $i: gateway 127.0.0.1:$((BASE + 10 + i))  market data 127.0.0.1:$((BASE + 20 + i))  admin http://127.0.0.1:$((BASE + 80 + i))  raft 127.0.0.1:$((BASE + 100 + i))"
done
echo "  any gateway redirects to the leader, e.g.: $BIN bench --addr 127.0.0.1:$((BASE + 11))"
echo "  state of a node: curl -s http://127.0.0.1:$((BASE + 81))/state"
echo "  restart a node (a rolling restart: one at a time, each back before the next): kill -USR1 its supervisor — node 1's supervisor $sup1, node 2's supervisor $sup2, node 3's supervisor $sup3; kill -TERM one stops its node for good"
wait
