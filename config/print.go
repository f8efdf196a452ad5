package config

import (
	"fmt"
	"io"
	"reflect"

	"gopkg.in/yaml.v3"
)

// Masked returns a deep copy with every secret (admin.token, each
// account's secret) replaced by "***". An unset secret stays "", so the
// output still shows that it is missing; a token read from
// admin.token_file is left out (the file name shows where it is).
// The secrets are the fields tagged secret (secretKeys), the loader's
// too. The copy keeps no record of where the token came from or of the
// file read (Admin's unexported fields): it is the config as printed,
// which loading the print gives back.
func (c *Config) Masked() *Config {
	m := c.Clone()
	m.Admin.tokenFrom, m.Admin.tokenFileRead = "", tokenFileRead{}
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
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(c.Masked()); err != nil {
		return fmt.Errorf("config: print: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("config: print: %w", err)
	}
	return nil
}
