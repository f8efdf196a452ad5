package config

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// A secret written unquoted in the config file that starts with one of
// YAML's indicators is not text: "!x…" is a tag, "&x…" an anchor, "*x…"
// an alias. Loaded as they were, admin.token "!x…" became "" — the
// node ran its admin port asking for no token, with no word said — and
// "*x…" failed naming the secret (less its '*') in the error, which
// `ringex serve` prints to its log. Each is refused, naming the key and
// the line, never the value.
func TestSecretWithAYAMLIndicatorIsRefused(t *testing.T) {
	const secret = "s3cr3t-plugh-0123456789"
	for _, tc := range []struct{ name, doc, key string }{
		{"token tag", "admin:\n  token: !" + secret + "\n", "admin.token"},
		{"token tag and text", "admin:\n  token: !" + secret + " more\n", "admin.token"},
		{"token anchor", "admin:\n  token: &" + secret + "\n", "admin.token"},
		{"token alias", "admin:\n  token: *" + secret + "\n", "alias"},
		{"token standard tag", "admin:\n  token: !!int " + secret + "\n", "admin.token"},
		{"account secret tag", "accounts:\n  - id: 1\n    secret: !" + secret + "\n", "accounts[0].secret"},
		{"account secret float tag", "accounts:\n  - id: 1\n    secret: !!float " + secret + "\n", "accounts[0].secret"},
		{"account secret alias", "accounts:\n  - id: 1\n    secret: *" + secret + "\n", "alias"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			refusedUnshown(t, tc.doc, secret, tc.key, "quote")
		})
	}
	// Quoted, or with YAML's own string tag, each is the secret itself;
	// an anchor given to a value (and its alias) still works.
	for _, doc := range []string{
		"admin:\n  token: \"!" + secret + "\"\n",
		"admin:\n  token: '&" + secret + "'\n",
		"admin:\n  token: !!str " + secret + "\n",
		"admin:\n  listen: &l 127.0.0.1:7480\n",
	} {
		if _, err := Load(writeFile(t, doc), nil); err != nil {
			t.Errorf("%q: %v", doc, err)
		}
	}
	// A value that is not UTF-8 is printed !!binary, and loads back.
	c := Default()
	c.Node.DataDir = "/data/\xff"
	var out bytes.Buffer
	if err := c.Print(&out); err != nil {
		t.Fatal(err)
	}
	back, err := Load(writeFile(t, out.String()), nil)
	if err != nil || back.Node.DataDir != c.Node.DataDir {
		t.Fatalf("a non-UTF-8 data_dir printed and loaded back: %q, %v", back.Node.DataDir, err)
	}
}

// A YAML merge key ("<<: *defaults", or the defaults written in place)
// brings its mapping's keys into the mapping that holds it, and the
// checks of a text or integer key hold there too: a secret "&x…" merged
// in loaded as "", a limit 0.5 merged in as 0 (no limit). Merges an
// operator writes for shared account settings still load.
func TestMergedValuesAreChecked(t *testing.T) {
	const secret = "s3cr3t-plugh-0123456789"
	for _, tc := range []struct{ name, doc, key string }{
		{"fraction in a merge anchored in place",
			"accounts:\n  - <<: &limits\n      max_order_qty: 0.5\n    id: 1\n    secret: one\n  - <<: *limits\n    id: 2\n    secret: two\n",
			"accounts[0].max_order_qty"},
		{"secret anchor merged",
			"accounts:\n  - id: 1\n    <<:\n      secret: &" + secret + "\n", "accounts[0].secret"},
		{"token tag merged",
			"admin:\n  <<:\n    token: !" + secret + "\n", "admin.token"},
		{"token tag in a merged list",
			"admin:\n  <<: [{listen: '127.0.0.1:1'}, {token: !" + secret + " x}]\n", "admin.token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			refusedUnshown(t, tc.doc, secret, tc.key, "")
		})
	}
	// A mapping merged into itself is refused, not followed for good.
	for _, doc := range []string{"admin: &a {<<: *a}\n", "admin: &a\n  <<: [*a]\n"} {
		if _, err := Load(writeFile(t, doc), nil); err == nil {
			t.Errorf("%q loaded", doc)
		}
	}
	doc := "accounts:\n" +
		"  - &base {id: 1, secret: one, max_order_qty: 1e3, max_open_orders: 10}\n" +
		"  - <<: *base\n    id: 2\n    secret: two\n" +
		"  - <<: [*base, {max_open_orders: 5}]\n    id: 3\n    secret: three\n"
	c, err := Load(writeFile(t, doc), nil)
	if err != nil {
		t.Fatalf("merged account settings: %v", err)
	}
	if a := c.Accounts; len(a) != 3 || a[1].MaxOrderQty != 1000 || a[2].Secret != "three" || a[2].MaxOpenOrders != 10 {
		t.Fatalf("merged account settings loaded as %+v", a)
	}
}

// A tag or an anchor that comes with no text is refused on any text key,
// even YAML's own !!str: "token: !!str &x…" — !!str taken for a way to
// quote — loaded as "".
func TestEmptyTaggedValueIsRefused(t *testing.T) {
	const secret = "s3cr3t-plugh-0123456789"
	for _, tc := range []struct{ name, doc, key string }{
		{"!!str then anchor", "admin:\n  token: !!str &" + secret + "\n", "admin.token"},
		{"anchor then !!str", "admin:\n  token: &" + secret + " !!str\n", "admin.token"},
		{"!!str alone", "admin:\n  token: !!str\n", "admin.token"},
		{"!!str, anchor, a path", "node:\n  data_dir: !!str &data\n", "node.data_dir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			refusedUnshown(t, tc.doc, secret, tc.key, "quote")
		})
	}
	// Quoted empty text is empty text, anchored or tagged.
	for _, doc := range []string{
		"admin:\n  token_file: &t \"\"\n",
		"admin:\n  token: !!str ''\n",
		"admin:\n  token: !!str |\n    " + secret + "\n",
	} {
		if _, err := Load(writeFile(t, doc), nil); err != nil {
			t.Errorf("%q: %v", doc, err)
		}
	}
}

// A secret takes no anchor: "&x more" loaded as "more", a secret the
// operator never wrote and shorter than the one given (76d4bfc refused
// "!x more" but not this). Secrets are not shared between keys, so no
// config needs one; other text keys keep their anchors.
func TestSecretTakesNoAnchor(t *testing.T) {
	const secret = "s3cr3t-plugh-0123456789"
	for _, tc := range []struct{ name, doc, key string }{
		{"token", "admin:\n  token: &" + secret + " more\n", "admin.token"},
		{"account secret", "accounts:\n  - id: 1\n    secret: &" + secret + " more\n", "accounts[0].secret"},
		{"account secret in a merge", "accounts:\n  - id: 1\n    <<: {secret: &" + secret + " more}\n", "accounts[0].secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			refusedUnshown(t, tc.doc, secret, tc.key, "quote")
		})
	}
	for _, doc := range []string{
		"gateway:\n  listen: &l 127.0.0.1:7400\nadmin:\n  listen: *l\n",
		"admin:\n  token: '&" + secret + " more'\n",
		"accounts:\n  - &a {id: 1, secret: one, max_order_qty: 5}\n  - {<<: *a, id: 2, secret: two}\n",
	} {
		if _, err := Load(writeFile(t, doc), nil); err != nil {
			t.Errorf("%q: %v", doc, err)
		}
	}
}

// In a {…} mapping a ',' ends a value, so a secret holding one is cut
// there and its tail read as a key: the unknown key's error named the
// tail, in the log `ringex serve` writes. Beside a secret it is refused
// without its name.
func TestSecretCutByACommaIsNotShown(t *testing.T) {
	for _, tc := range []struct{ name, doc, key string }{
		{"account", "accounts: [{id: 1, secret: s3cr3t,plugh-0123456789}]\n", "accounts[0]"},
		{"account, a space after the comma", "accounts:\n  - {id: 1, secret: s3cr3t, plugh-0123456789}\n", "accounts[0]"},
		{"token", "admin: {token: s3cr3t,plugh-0123456789}\n", "admin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(writeFile(t, tc.doc), nil)
			if err == nil {
				t.Fatal("loaded")
			}
			if strings.Contains(err.Error(), "plugh") {
				t.Fatalf("the error shows the secret: %v", err)
			}
			if !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), tc.key) || !strings.Contains(err.Error(), "quote") {
				t.Fatalf("error %v: want ErrUnknownKey naming %s and saying to quote the secret", err, tc.key)
			}
		})
	}
	// Elsewhere an unknown key is named, for the typo it usually is.
	_, err := Load(writeFile(t, "admin: {tokn: x}\n"), nil)
	if !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), "tokn") {
		t.Fatalf("a typo: %v", err)
	}
}

// refusedUnshown loads doc and wants it refused, ErrBadValue naming key
// (and hint, when not empty), the error showing nothing of secret.
func refusedUnshown(t *testing.T, doc, secret, key, hint string) {
	t.Helper()
	c, err := Load(writeFile(t, doc), nil)
	if err == nil {
		t.Fatalf("loaded (admin.token %q, data_dir %q, accounts %+v): want the value refused", c.Admin.Token, c.Node.DataDir, c.Accounts)
	}
	if strings.Contains(err.Error(), secret[2:10]) {
		t.Fatalf("the error shows the secret: %v", err)
	}
	if !errors.Is(err, ErrBadValue) || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), hint) {
		t.Fatalf("error %v: want ErrBadValue naming %s (and %q)", err, key, hint)
	}
}
