package deploy

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The node's data holds every account's orders. Under the systemd unit
// no other local user may read it: the umask keeps what the node does
// not make 0600/0700 itself (raft's snapshot store makes 0755 and 0644)
// from others, and /var/lib/ringex is made 0700 (systemd's default is
// 0755). The image's /data — a named volume's start — is 0700 too. Both
// were open to every local user.
func TestDeployKeepsTheDataFromOtherUsers(t *testing.T) {
	unit := map[string]string{}
	for _, line := range strings.Split(read(t, "deploy/ringex.service"), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && !strings.HasPrefix(line, "#") {
			unit[k] = v
		}
	}
	for _, key := range []string{"UMask", "StateDirectoryMode"} {
		v, err := strconv.ParseUint(unit[key], 8, 32)
		if err != nil {
			t.Errorf("deploy/ringex.service: %s=%q, want an octal mode", key, unit[key])
			continue
		}
		closed := key == "UMask" && v&0o077 == 0o077 || key == "StateDirectoryMode" && v&0o077 == 0
		if !closed {
			t.Errorf("deploy/ringex.service: %s=%s leaves the data open to other local users", key, unit[key])
		}
	}
	m := regexp.MustCompile(`(?m)^RUN mkdir -p (-m (\d+) )?/out/data$`).FindStringSubmatch(read(t, "deploy/Dockerfile"))
	if m == nil {
		t.Fatal("deploy/Dockerfile makes its /data no more as this test knows")
	}
	if mode, err := strconv.ParseUint(m[2], 8, 32); err != nil || mode&0o077 != 0 {
		t.Errorf("deploy/Dockerfile makes /data %q: open to other users", m[2])
	}
}
