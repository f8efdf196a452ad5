package config

import (
	"reflect"
	"strings"
)

// keyLayer is the layer that set a key last — the config file's path,
// an environment variable's name, "--set", or the flag that set it
// (SetFlag) — and the value it set, in
// Get's form. Never shown but as the layer's name: a secret's value is
// held, not printed.
type keyLayer struct{ from, value string }

// setLayer records that the layer from set key to the value it holds now.
func (c *Config) setLayer(key, from string) {
	v, err := c.Get(key)
	if err != nil {
		return
	}
	if c.layers == nil {
		c.layers = map[string]keyLayer{}
	}
	c.layers[key] = keyLayer{from, v}
}

// setFileLayers records the config file at path as the layer of every
// key whose value it changed from before (keyValues): the keys it sets
// to the value they had are left as they were — their value is the
// lower layer's, which a message may name as well.
func (c *Config) setFileLayers(before map[string]string, path string) {
	for key, v := range c.keyValues() {
		if v != before[key] {
			c.setLayer(key, path)
		}
	}
}

// keyValues is every key's value in Get's form.
func (c *Config) keyValues() map[string]string {
	vals := map[string]string{}
	walk(reflect.ValueOf(c).Elem(), "", func(key string, f reflect.Value) {
		vals[key] = valueString(f)
	})
	return vals
}

// layerNote is " (from <layer>)", naming the layer that set key (a list
// entry's, "cluster.peers[2].raft", is the list's key's) while key still
// holds the value that layer set: a program that assigned the field
// itself since is told of no layer, not of the wrong one. "" when none is
// known: a default, a list of the file (instruments, accounts: only a
// file sets them), or a value assigned.
func (c *Config) layerNote(key string) string {
	key, _, _ = strings.Cut(key, "[")
	l, ok := c.layers[key]
	if !ok {
		return ""
	}
	if v, err := c.Get(key); err != nil || v != l.value {
		return ""
	}
	return " (from " + l.from + ")"
}
