package config

import (
	"fmt"
	"strings"
)

// TokenSource is one place an admin token may be given — a key, a flag,
// a variable, a file — for AgreedToken: Name, as a message names it, and
// Token, the token it gives, "" when it is not set.
type TokenSource struct{ Name, Token string }

// AgreedToken is the admin token the sources set give, "" when none is
// set: one rule for the node (admin.token beside admin.token_file,
// ReadTokenFile) and for the admin commands (--token,
// $RINGEX_ADMIN_TOKEN and the file $RINGEX_ADMIN_TOKEN_FILE names). Any
// of them may be set together when they give the same token; none is
// preferred. When two set give different tokens it is refused, naming
// every source set and never a token: taking one silently left the stale
// one unseen, and the token that went was not the one meant, with no
// clue which it was. The caller adds what to do about it.
func AgreedToken(sources ...TokenSource) (string, error) {
	var names []string
	token, differ := "", false
	for _, s := range sources {
		if s.Token == "" {
			continue
		}
		names = append(names, s.Name)
		if token == "" {
			token = s.Token
		}
		differ = differ || s.Token != token
	}
	if differ {
		return "", fmt.Errorf("%s give different admin tokens (none is shown)", joinAnd(names))
	}
	return token, nil
}

// tokenNote is " (from <layer>)", the layer of the effective config that
// set admin.token (tokenLayer), for a message about the token: an
// operator told that it is too short learns which of the config file,
// the environment and the flags to fix. "" when no layer is known.
func (a *Admin) tokenNote() string {
	if layer := a.tokenLayer(); layer != "" {
		return " (from " + layer + ")"
	}
	return ""
}

// tokenLayer is the layer that set admin.token (tokenFrom) while Token
// is still the token it set (tokenSet); "" when none set it, or when
// the program assigned Token itself since: a layer named then would be
// the wrong one.
func (a *Admin) tokenLayer() string {
	if a.Token != a.tokenSet {
		return ""
	}
	return a.tokenFrom
}

// TokenFlagWarning says, when admin.token was given with --set (Set), as
// the token the config holds — alone, or beside admin.token_file giving
// the same — that it is in the command line of the process, which every
// user of the machine reads (ps, /proc/<pid>/cmdline), and what to do;
// "" otherwise. Never the token. Not refused: the README names --set as
// one of the token's layers, and on a machine of one user it is harmless.
func (c *Config) TokenFlagWarning() string {
	if !strings.HasPrefix(c.Admin.tokenLayer(), "--set") {
		return ""
	}
	return "admin.token was given with --set: it is in the command line, which every user of this machine reads with ps, and any of them " +
		"can take the admin token from it; give it with admin.token_file or RINGEX_ADMIN_TOKEN instead"
}

// setTokenFrom records that the layer from set Token to what it holds
// now, for tokenNote.
func (a *Admin) setTokenFrom(from string) { a.tokenFrom, a.tokenSet = from, a.Token }

// joinAnd joins names as a sentence does: "a and b", "a, b and c".
func joinAnd(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
