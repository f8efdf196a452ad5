package main

import (
	"strings"
	"testing"
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
