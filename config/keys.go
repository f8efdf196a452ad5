package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

var (
	durationType = reflect.TypeOf(time.Duration(0))
	peersType    = reflect.TypeOf([]Peer(nil))
)

// Keys lists every key that Set and environment variables accept, dotted,
// in the order of the YAML file. The instruments and accounts lists are
// not among them: they come only from files.
func Keys() []string {
	var keys []string
	walk(reflect.ValueOf(&Config{}).Elem(), "", func(key string, _ reflect.Value) {
		keys = append(keys, key)
	})
	return keys
}

// EnvName is the environment variable that sets key: RINGEX_ followed by
// the key in upper case with dots as underscores (gateway.tls.cert_file →
// RINGEX_GATEWAY_TLS_CERT_FILE).
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// envKeys maps each variable name to its key.
func envKeys() map[string]string {
	m := map[string]string{}
	for _, k := range Keys() {
		m[EnvName(k)] = k
	}
	return m
}

// walk calls fn for every settable field under v, with its dotted key.
// An unexported field is no setting (Admin's tokenFileRead: what
// ReadTokenFile read) and has no key.
func walk(v reflect.Value, prefix string, fn func(key string, field reflect.Value)) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		if !t.Field(i).IsExported() {
			continue
		}
		key := prefix + t.Field(i).Tag.Get("yaml")
		f := v.Field(i)
		switch {
		case f.Type() == peersType:
			fn(key, f)
		case f.Kind() == reflect.Struct:
			walk(f, key+".", fn)
		case f.Kind() == reflect.Slice:
			// instruments and accounts: files only
		default:
			fn(key, f)
		}
	}
}

// Set assigns the key (dotted, as in YAML: "gateway.listen") from its
// string form, the way a flag or environment variable gives it: durations
// as Go durations ("5s"), booleans as strconv.ParseBool accepts, numbers in
// decimal, cluster.peers as comma-separated "id=raft_addr=gateway_addr".
// Set checks only that the value parses; Validate checks that it makes
// sense.
func (c *Config) Set(key, value string) error { return c.set(key, value, "--set") }

// SetFlag is Set for a flag of the CLI's own that sets one key (serve's
// --node-id sets node.id, --log-level log.level): its errors, and
// Validate's about the key while it holds the value, name flag — the
// flag the operator typed — where Set's name --set.
func (c *Config) SetFlag(flag, key, value string) error { return c.set(key, value, flag) }

// set is Set, for the layer from: "--set" or another flag (SetFlag), or
// an environment variable's name (applyEnv), which its errors name, as do Validate's
// about the key while it holds the value set (setLayer) and the messages
// about admin.token (Admin.tokenFrom).
func (c *Config) set(key, value, from string) error {
	var target reflect.Value
	walk(reflect.ValueOf(c).Elem(), "", func(k string, f reflect.Value) {
		if k == key {
			target = f
		}
	})
	if !target.IsValid() {
		if key == "instruments" || key == "accounts" || strings.HasPrefix(key, "instruments.") || strings.HasPrefix(key, "accounts.") {
			return &KeyError{key, "lists are set only in the config file", ErrUnknownKey}
		}
		return &KeyError{key, "no such key (`ringex config print` lists every key)", ErrUnknownKey}
	}
	bad := func(what string) error {
		return &KeyError{key, fmt.Sprintf("%q is not %s (from %s)", value, what, from), ErrBadValue}
	}
	// A variable left empty by mistake (a compose file's
	// ${RINGEX_ADMIN_TOKEN} unset on the host) took the lower layer's
	// token, or token file, away, and a loopback admin port asked for none.
	if key == "admin.token" && value == "" && c.Admin.Token != "" {
		return &KeyError{key, fmt.Sprintf("given empty (from %s) over the token set%s: the admin port would ask for none; "+
			"leave it out to keep the token, or remove the token where it is set to run without one (none is shown)", from, c.Admin.tokenNote()), ErrBadValue}
	}
	if key == "admin.token_file" && value == "" && c.Admin.TokenFile != "" {
		return &KeyError{key, fmt.Sprintf("given empty (from %s) over admin.token_file %s%s: the admin port would ask for no token; "+
			"leave it out to keep the file, or remove it where it is set to run without one", from, c.Admin.TokenFile, c.layerNote(key)), ErrBadValue}
	}
	switch {
	case target.Type() == durationType:
		d, err := time.ParseDuration(value)
		if err != nil {
			return bad("a duration like 5s or 250ms")
		}
		target.SetInt(int64(d))
	case target.Type() == peersType:
		peers, err := parsePeers(value)
		if err != nil {
			return &KeyError{key, fmt.Sprintf("%v (from %s)", err, from), ErrBadValue}
		}
		target.Set(reflect.ValueOf(peers))
	case target.Kind() == reflect.String:
		target.SetString(value)
	case target.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return bad("true or false")
		}
		target.SetBool(b)
	case target.CanInt():
		n, err := strconv.ParseInt(value, 10, target.Type().Bits())
		if err != nil {
			return bad(fmt.Sprintf("a %d-bit integer", target.Type().Bits()))
		}
		target.SetInt(n)
	case target.CanUint():
		n, err := strconv.ParseUint(value, 10, target.Type().Bits())
		if err != nil {
			return bad(fmt.Sprintf("a %d-bit unsigned integer", target.Type().Bits()))
		}
		target.SetUint(n)
	default:
		panic(fmt.Sprintf("config: key %s has unsupported type %s", key, target.Type()))
	}
	if key == "admin.token" {
		c.Admin.setTokenFrom(from)
	}
	c.setLayer(key, from)
	return nil
}

// Get returns the key's value in the form Set accepts.
func (c *Config) Get(key string) (string, error) {
	var out string
	found := false
	walk(reflect.ValueOf(c).Elem(), "", func(k string, f reflect.Value) {
		if k != key {
			return
		}
		found = true
		out = valueString(f)
	})
	if !found {
		return "", &KeyError{key, "no such key (`ringex config print` lists every key)", ErrUnknownKey}
	}
	return out, nil
}

// valueString is the value of a key's field f in the form Set accepts.
func valueString(f reflect.Value) string {
	if f.Type() == peersType {
		ps := make([]string, f.Len())
		for i := range ps {
			ps[i] = f.Index(i).Interface().(Peer).String()
		}
		return strings.Join(ps, ",")
	}
	return fmt.Sprint(f.Interface())
}
