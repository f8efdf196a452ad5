package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// RINGEX_ADMIN_TOKEN_FILE is also admin.token_file (the config's
// environment overlay), so an operator's shell that exports it for the
// admin commands loads it with every command that loads the config:
// config print, replay, client, bench. Those read a file of the node's
// user's (mode 0640, a group they share) as the admin commands do; only
// serve refuses a file owned by another user than its own or root
// (config.ReadTokenFile). As root, with a real chown. They refused it,
// naming its owner, as serve does.
func TestTokenFileOfTheNodesUserReadByCommandsNotServing(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root can give a file another owner; config.TestTokenFileOwner covers the rule")
	}
	const token, uid = "owner-t0ken-0123456789abcdef", 4242
	path := filepath.Join(t.TempDir(), "admin_token")
	if err := os.WriteFile(path, []byte(token+"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, uid, -1); err != nil {
		t.Fatal(err)
	}
	t.Setenv("RINGEX_ADMIN_TOKEN_FILE", path)
	if _, err := loadServeConfig("", nil, nil); err == nil || !strings.Contains(err.Error(), path+" is owned by ") {
		t.Fatalf("serve's config with a token file owned by uid %d: %v; want refused naming its owner", uid, err)
	}
	cfg, err := loadConfig("", nil)
	if err != nil || cfg.Admin.Token != token {
		t.Fatalf("a command's config (not serve's) with a token file owned by uid %d: %v; want it read", uid, err)
	}
	out, err := ringex(t, nil, "config", "print")
	if err != nil || strings.Contains(out, token) {
		t.Fatalf("ringex config print with a token file owned by uid %d: %v\n%s\nwant it read, the token masked", uid, err, out)
	}
}
