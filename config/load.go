package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

//go:embed default.yaml
var defaultYAML []byte

// EnvPrefix starts every environment variable Load reads.
const EnvPrefix = "RINGEX_"

// EnvConfigPath names the config file for the CLI (like --config). It is
// the one RINGEX_ variable that is not a key; Load ignores it.
const EnvConfigPath = "RINGEX_CONFIG"

// EnvAdminCA names a CA file the admin commands trust for an https://
// --admin. Like EnvConfigPath it is not a key; Load ignores it.
const EnvAdminCA = "RINGEX_ADMIN_CA"

// Sentinel errors, wrapped by the errors that carry details.
var (
	// ErrUnknownKey: a file, variable or Set names a key that does not
	// exist.
	ErrUnknownKey = errors.New("config: unknown key")
	// ErrBadValue: a value does not parse as its key's type.
	ErrBadValue = errors.New("config: bad value")
	// ErrInvalid: Validate found a setting that does not make sense.
	ErrInvalid = errors.New("config: invalid")
)

// Default returns the embedded defaults (default.yaml): a working demo
// exchange. Every call returns a fresh copy: default.yaml is parsed once
// (about half of a Load's time went to parsing it again, its comments
// mostly), and each caller gets a deep copy of that (Clone; the parsed
// defaults are never handed out, so no caller changes another's).
func Default() *Config {
	defaultOnce.Do(func() {
		c := &Config{}
		if err := decode(defaultYAML, c); err != nil {
			panic("config: embedded default.yaml: " + err.Error())
		}
		c.normalize()
		defaultParsed = c
	})
	return defaultParsed.Clone()
}

// defaultParsed is default.yaml parsed, set once by Default; read only
// after, and only through Clone.
var (
	defaultOnce   sync.Once
	defaultParsed *Config
)

// Load builds the effective config from, lowest to highest precedence:
// the embedded defaults, the YAML file at path (skipped when path is ""),
// and the RINGEX_* variables in env (os.Environ form; other variables are
// ignored). Flags come last, applied by the caller with Set.
//
// Load does not validate, so that a flag can still fix what a file got
// wrong: call Validate once every override is applied.
func Load(path string, env []string) (*Config, error) {
	c := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		before, values := c.Admin.Token, c.keyValues()
		if err := decode(data, c); err != nil {
			return nil, fmt.Errorf("config: %s: %w", path, err)
		}
		if c.Admin.Token != before {
			c.Admin.setTokenFrom(path) // the messages about it name the file
		}
		c.setFileLayers(values, path)
	}
	if err := c.applyEnv(env); err != nil {
		return nil, err
	}
	c.normalize()
	return c, nil
}

// decode merges one YAML document into c. Keys absent from the document
// keep their value in c; a list present in the document replaces c's list
// wholesale. Unknown keys are an error.
func decode(data []byte, c *Config) error {
	var doc yaml.Node
	lines := lineKeys{}
	if err := yaml.Unmarshal(data, &doc); err == nil {
		if err := checkScalars(&doc, reflect.TypeOf(c).Elem(), "", lines); err != nil {
			return err
		}
	} else if strings.Contains(err.Error(), "unknown anchor") {
		// yaml.v3 names the alias, and an unquoted secret starting with
		// '*' is one: the message showed the secret, less its '*'.
		return &decodeError{ErrBadValue, "an alias (a value starting with '*') names no anchor: quote a value that starts with '*' " +
			"(the name is not shown: it may be a secret)"}
	} // another syntax error is reported below, as before
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := decodeRecovering(dec, c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file changes nothing
		}
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for i, e := range te.Errors {
				te.Errors[i] = lines.name(e)
			}
		}
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if strings.Contains(msg, "not found in type") {
			return &decodeError{ErrUnknownKey, msg}
		}
		return &decodeError{ErrBadValue, msg}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return &decodeError{ErrBadValue, "more than one YAML document"}
	}
	return nil
}

// decodeRecovering is dec.Decode(v), with a panic of the decoder's an
// error: yaml.v3 (v3.0.1) panics "hash of unhashable type" where a merge
// key or an alias stands as a mapping key ("{<<, *d}"), and a config
// file must never take the process down. The message is the runtime's,
// which names a type and none of the file's text (a secret may be in it).
func decodeRecovering(dec *yaml.Decoder, v any) (err error) {
	defer func() {
		if p := recover(); p != nil {
			why := "the YAML decoder failed on it"
			if re, ok := p.(runtime.Error); ok {
				why += " (" + re.Error() + ")"
			}
			err = errors.New(why + ": a merge key (<<) or an alias (*name) used as a mapping key?")
		}
	}()
	return dec.Decode(v)
}

// textStyles are the scalar styles in which empty text is written
// explicitly: quoted, or a block scalar.
const textStyles = yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle | yaml.LiteralStyle | yaml.FoldedStyle

// checkScalars refuses a number with a fraction given to an integer
// key: yaml.v3 truncates it silently (max_order_qty: 0.5 became 0, no
// limit), where Set refuses it. And it refuses a text key's value that
// YAML does not take as text: unquoted, a value starting with '!' is a
// tag and one starting with '&' an anchor — admin.token "!x…" loaded as
// "" (an admin port asking for no token) or as the text after a space,
// and a standard tag (!!int x…) failed naming the value. The messages
// never show the value: it may be a secret. It notes in lines the key of
// every node it walks, at the node's line.
func checkScalars(n *yaml.Node, t reflect.Type, key string, lines lineKeys) error {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if key != "" {
		lines[n.Line] = append(lines[n.Line], key)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if err := checkScalars(c, t, key, lines); err != nil {
				return err
			}
		}
	case yaml.MappingNode:
		if t.Kind() != reflect.Struct {
			return nil
		}
		if err := checkCutSecret(n, t, key); err != nil {
			return err
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].ShortTag() == "!!merge" {
				// "<<: *defaults" (or [*a, *b], or the mapping written
				// in place): its keys are this mapping's, as the
				// decoder merges them, and checked as such.
				if err := checkMerge(n.Content[i+1], t, key, lines); err != nil {
					return err
				}
				continue
			}
			name := n.Content[i].Value
			if j, ok := fieldIndex(t, name); ok {
				if err := checkScalars(n.Content[i+1], t.Field(j).Type, joinKey(key, name), lines); err != nil {
					return err
				}
			}
		}
	case yaml.SequenceNode:
		if t.Kind() != reflect.Slice {
			return nil
		}
		for i, c := range n.Content {
			if err := checkScalars(c, t.Elem(), fmt.Sprintf("%s[%d]", key, i), lines); err != nil {
				return err
			}
		}
	case yaml.ScalarNode:
		if t.Kind() == reflect.String {
			switch {
			case n.Style&yaml.TaggedStyle != 0 && n.ShortTag() != "!!str" && n.ShortTag() != "!!binary":
				// !!binary is how Print writes a value that is not UTF-8.
				return &decodeError{ErrBadValue, fmt.Sprintf("line %d: %s: the value has a YAML tag (it starts with '!'), so it is not text: quote it "+
					"(the value is not shown: it may be a secret)", n.Line, key)}
			case n.Anchor != "" && isSecretKey(key):
				// An alias to it lands here too. "&x more" was "more".
				return &decodeError{ErrBadValue, fmt.Sprintf("line %d: %s: a secret takes no YAML anchor or alias (a value starting with '&' or '*'): quote it "+
					"(the value is not shown: it may be a secret)", n.Line, key)}
			case n.Anchor != "" && n.ShortTag() == "!!null",
				(n.Anchor != "" || n.Style&yaml.TaggedStyle != 0) && n.Value == "" && n.Style&textStyles == 0:
				// "!!str &x…" too: !!str, taken for a way to quote,
				// left the anchor that followed as the whole value.
				return &decodeError{ErrBadValue, fmt.Sprintf("line %d: %s: the value is a YAML anchor (it starts with '&') or tag with no text: quote it "+
					"(the value is not shown: it may be a secret)", n.Line, key)}
			}
			return nil
		}
		if n.ShortTag() != "!!float" || t == durationType {
			return nil
		}
		switch t.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			var f float64
			if err := n.Decode(&f); err == nil && f == math.Trunc(f) {
				return nil // 1e6: a whole number
			}
			return &decodeError{ErrBadValue, fmt.Sprintf("line %d: %s: %s is not a whole number", n.Line, key, n.Value)}
		}
	}
	return nil
}

// fieldIndex is the index of t's field that YAML key name names.
func fieldIndex(t reflect.Type, name string) (int, bool) {
	for j := 0; j < t.NumField(); j++ {
		if tag, _, _ := strings.Cut(t.Field(j).Tag.Get("yaml"), ","); tag == name && t.Field(j).IsExported() {
			return j, true
		}
	}
	return 0, false
}

func joinKey(key, name string) string {
	if key == "" {
		return name
	}
	return key + "." + name
}

// checkCutSecret refuses, without naming it, a key that names no field
// in a {…} mapping (n, of type t) that holds a secret: there a ',' ends
// a value, so a secret holding one was cut and its tail read as a key —
// which the decoder's unknown-field error showed.
func checkCutSecret(n *yaml.Node, t reflect.Type, key string) error {
	if n.Style&yaml.FlowStyle == 0 {
		return nil
	}
	secret := false
	for i := 0; i < len(n.Content); i += 2 {
		name := n.Content[i].Value
		if _, ok := fieldIndex(t, name); ok && isSecretKey(joinKey(key, name)) {
			secret = true
		}
	}
	for i := 0; secret && i < len(n.Content); i += 2 {
		if _, ok := fieldIndex(t, n.Content[i].Value); !ok && n.Content[i].ShortTag() != "!!merge" {
			return &decodeError{ErrUnknownKey, fmt.Sprintf("line %d: %s: a key names no field; beside a secret in {…} it may be the secret's tail, "+
				"cut at a ',': quote the secret (the key is not shown: it may be a secret)", n.Content[i].Line, key)}
		}
	}
	return nil
}

// checkMerge checks the value of a merge key ("<<") in a mapping of type
// t: a mapping written in place, or a sequence of them. An alias is not
// followed: the mapping it names is checked where it is written (an
// anchor elsewhere fails as an unknown key), and following it could loop
// for good — "admin: &a {<<: *a}" overflowed the stack.
func checkMerge(v *yaml.Node, t reflect.Type, key string, lines lineKeys) error {
	if v.Kind != yaml.SequenceNode {
		v = &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{v}}
	}
	for _, m := range v.Content {
		if m.Kind == yaml.AliasNode {
			continue
		}
		if err := checkScalars(m, t, key, lines); err != nil {
			return err
		}
	}
	return nil
}

// lineKeys holds, for each line of a config file, the keys of the nodes
// on it (checkScalars), outermost first: "gateway", "gateway.listen".
type lineKeys map[int][]string

// name is the decoder's error e ("line 2: cannot unmarshal !!str `xx`
// into time.Duration") with the key of the value it could not decode
// after the line: "line 2: gateway.read_timeout: cannot unmarshal …".
// The key is the innermost of its line's, when each is within the next
// (a block mapping's); keys side by side on the line ({id: 1, symbol:
// X}) leave e as it is, as does an error of another kind.
func (l lineKeys) name(e string) string {
	var line int
	if _, err := fmt.Sscanf(e, "line %d: cannot unmarshal ", &line); err != nil {
		return e
	}
	keys := l[line]
	for i := 1; i < len(keys); i++ {
		if k := keys[i]; k != keys[i-1] && !strings.HasPrefix(k, keys[i-1]+".") && !strings.HasPrefix(k, keys[i-1]+"[") {
			return e
		}
	}
	if len(keys) == 0 {
		return e
	}
	prefix := fmt.Sprintf("line %d: ", line)
	return prefix + keys[len(keys)-1] + ": " + strings.TrimPrefix(e, prefix)
}

// decodeError is a YAML problem (the message names the line) that
// matches ErrUnknownKey or ErrBadValue with errors.Is.
type decodeError struct {
	kind error
	msg  string
}

func (e *decodeError) Error() string { return e.msg }
func (e *decodeError) Unwrap() error { return e.kind }

// applyEnv applies every RINGEX_* variable of env with Set, in sorted
// order so the first error reported does not depend on env's order. A
// later duplicate of a variable wins, as in os/exec.
func (c *Config) applyEnv(env []string) error {
	vals := map[string]string{}
	for _, kv := range env {
		name, value, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(name, EnvPrefix) && name != EnvConfigPath && name != EnvAdminCA {
			vals[name] = value
		}
	}
	names := make([]string, 0, len(vals))
	for name := range vals {
		names = append(names, name)
	}
	sort.Strings(names)
	byEnv := envKeys()
	for _, name := range names {
		key, ok := byEnv[name]
		if !ok {
			return &KeyError{name, "environment variable matches no key (`ringex config print` lists every key)", ErrUnknownKey}
		}
		if err := c.set(key, vals[name], name); err != nil {
			return err
		}
	}
	return nil
}

// normalize makes empty lists non-nil, so a config equals itself after a
// trip through YAML.
func (c *Config) normalize() {
	if c.Instruments == nil {
		c.Instruments = []Instrument{}
	}
	if c.Accounts == nil {
		c.Accounts = []Account{}
	}
	if c.Cluster.Peers == nil {
		c.Cluster.Peers = []Peer{}
	}
}
