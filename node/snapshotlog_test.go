package node

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// The "snapshot written" line's bytes is the size of the file it names,
// what an operator compares with ls; it was the payload's, 52 bytes
// short of it.
func TestSnapshotWrittenLogsTheFileSize(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	n, addrs, logs := startNodeLogging(t, cfg, Options{})
	defer n.Stop()
	c := dial(t, addrs.Gateway, 1)
	restBids(t, c, cfg.Instruments[0], 1, 20)
	if err := n.RequestSnapshot(); err != nil {
		t.Fatal(err)
	}
	type written struct {
		Message string `json:"message"`
		Seq     int64  `json:"seq"`
		File    string `json:"file"`
		Bytes   int64  `json:"bytes"`
	}
	var line written
	waitUntil(t, func() bool {
		for l := range strings.SplitSeq(logs.String(), "\n") {
			var w written
			if json.Unmarshal([]byte(l), &w) == nil && w.Message == "snapshot written" && w.Seq > 0 {
				line = w
				return true
			}
		}
		return false
	})
	st, err := os.Stat(line.File)
	if err != nil {
		t.Fatal(err)
	}
	if line.Bytes != st.Size() {
		t.Fatalf("snapshot written: bytes %d, the file %s holds %d", line.Bytes, line.File, st.Size())
	}
}
