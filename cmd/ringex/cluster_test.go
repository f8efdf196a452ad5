package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ringex/ringex/replicator"
)

// ringex cluster replace says what is missing, and that --id 0 is given
// but no member's: it was told --id was not given at all. Nothing is sent
// then: the admin address is one where nothing listens.
func TestClusterReplaceNamesWhatIsWrongWithItsFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--raft", "10.0.0.13:7500", "--gateway", "10.0.0.13:7400"}, "--id, --raft and --gateway are required"},
		{[]string{"--id", "3", "--gateway", "10.0.0.13:7400"}, "--id, --raft and --gateway are required"},
		{[]string{"--id", "0", "--raft", "10.0.0.13:7500", "--gateway", "10.0.0.13:7400"}, "--id 0 is no member's id: ids start at 1"},
	} {
		args := append([]string{"cluster", "replace", "--admin", "127.0.0.1:1"}, tc.args...)
		if _, err := ringex(t, nil, args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want it refused saying %q", tc.args, err, tc.want)
		}
	}
}

// ringex serve stopped as fenced (the replicator's ErrFenced, as the
// node's fatal error carries it) exits with exitFenced, which the systemd
// unit and deploy/cluster.sh do not restart; it exited 1, and both
// started it again. Any other fatal error still exits 1.
func TestFencedMemberExitsWithItsOwnStatus(t *testing.T) {
	fenced := fmt.Errorf("%w: %v", replicator.ErrFenced, errors.New("ringex fenced: member 1 was moved from 10.0.0.1:7500 to 10.0.0.9:7500 (cluster replace)"))
	if got := exitStatus(fenced); got != exitFenced || exitFenced != 4 {
		t.Fatalf("fenced: exit status %d, want %d (4: deploy/ringex.service's RestartPreventExitStatus)", got, exitFenced)
	}
	if got := exitStatus(errors.New("replicator: disk stalled")); got != 1 {
		t.Fatalf("another fatal error: exit status %d, want 1", got)
	}
}
