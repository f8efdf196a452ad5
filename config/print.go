package config

import (
	"fmt"
	"io"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// Masked returns a deep copy with every secret (admin.token, each
// account's secret) replaced by "***". An unset secret stays "", so the
// output still shows that it is missing; a token read from
// admin.token_file is left out (the file name shows where it is).
// The secrets are the fields tagged secret (secretKeys), the loader's
// too. The copy keeps no record of where the token came from, of the
// file read (Admin's unexported fields) or of the layers that set the
// other keys (layers): it is the config as printed,
// which loading the print gives back.
func (c *Config) Masked() *Config {
	m := c.Clone()
	m.Admin.tokenFrom, m.Admin.tokenSet, m.Admin.tokenFileRead, m.layers = "", "", tokenFileRead{}, nil
	eachSecret(reflect.ValueOf(m).Elem(), "", func(_ string, f reflect.Value) {
		if f.String() != "" {
			f.SetString(masked)
		}
	})
	if m.Admin.TokenFile != "" {
		m.Admin.Token = "" // read from the file: the output loads back so
	}
	return m
}

// Print writes the effective config as YAML, secrets masked (see Masked).
// The output loads back with Load to the same config, except that the
// secrets are "***", which Validate refuses.
func (c *Config) Print(w io.Writer) error {
	if _, err := io.WriteString(w, "# ringex effective configuration; secrets are masked as \"***\".\n"); err != nil {
		return fmt.Errorf("config: print: %w", err)
	}
	m := c.Masked()
	var doc yaml.Node
	if err := doc.Encode(m); err != nil {
		return fmt.Errorf("config: print: %w", err)
	}
	quoteTexts(&doc, reflect.ValueOf(m))
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return fmt.Errorf("config: print: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("config: print: %w", err)
	}
	return nil
}

// quoteTexts writes each text of v holding a line break or a tab
// double-quoted, into n, the node v encoded to (the same fields in the
// same places; no field of Config has a yaml option such as inline).
// The encoder writes such a text as a block scalar, and one that begins
// with a line break reads back without it — "\n666" as "666", "\n" as
// "" (FuzzConfigEnv: an environment variable's value) — so the node
// holds the broken text too, and the text is taken from v.
func quoteTexts(n *yaml.Node, v reflect.Value) {
	switch {
	case n.Kind == yaml.DocumentNode:
		for _, c := range n.Content {
			quoteTexts(c, v)
		}
	case v.Kind() == reflect.Pointer:
		if !v.IsNil() {
			quoteTexts(n, v.Elem())
		}
	case v.Kind() == reflect.String && n.Kind == yaml.ScalarNode:
		// Text not valid UTF-8 is written !!binary, base64: no line
		// break to lose.
		if n.ShortTag() == "!!str" && strings.ContainsAny(v.String(), "\r\n\t") {
			n.Value, n.Style = v.String(), yaml.DoubleQuotedStyle
		}
	case v.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := make(map[string]reflect.Value, v.NumField())
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() && f.Tag.Get("yaml") != "" {
				fields[f.Tag.Get("yaml")] = v.Field(i)
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if f, ok := fields[n.Content[i].Value]; ok {
				quoteTexts(n.Content[i+1], f)
			}
		}
	case v.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode && v.Len() == len(n.Content):
		for i, c := range n.Content {
			quoteTexts(c, v.Index(i))
		}
	}
}
