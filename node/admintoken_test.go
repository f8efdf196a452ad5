package node

import (
	"strings"
	"testing"

	"github.com/ringex/ringex/config"
)

// A token shorter than config.MinSecretBytes is warned of at start also
// on loopback, where config validation takes it: nothing slows guesses,
// and with a token the port answers requests addressed to any name (the
// guard against DNS rebinding is off), so a web page rebound to
// 127.0.0.1 guesses it from an operator's browser. It was not: the
// 1-byte token "x" started without a word. Never the token.
func TestAdminShortTokenWarned(t *testing.T) {
	for _, c := range []struct {
		token string
		warn  bool
	}{
		{"", false},
		{"Q", true},
		{"k3y-of-15-bytes", true},
		{"k3y-of-16-bytess", false},
	} {
		cfg := config.Default()
		cfg.Admin.Listen, cfg.Admin.Token = "127.0.0.1:7480", c.token
		if err := cfg.Validate(); err != nil {
			t.Fatalf("token %q on loopback: %v", c.token, err)
		}
		got := strings.Join(adminExposure(cfg), "\n")
		if warned := strings.Contains(got, "shorter than 16"); warned != c.warn || c.token != "" && strings.Contains(got, c.token) {
			t.Errorf("a %d-byte token on loopback: warnings %q; want one of its length: %v, never the token", len(c.token), got, c.warn)
		}
	}
}
