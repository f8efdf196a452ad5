package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

//go:embed default.yaml
var defaultYAML []byte

// Config is a node's configuration. YAML keys are the field tags.
type Config struct {
	Node        Node         `yaml:"node"`
	Gateway     Gateway      `yaml:"gateway"`
	MarketData  MarketData   `yaml:"marketdata"`
	Admin       Admin        `yaml:"admin"`
	Rings       Rings        `yaml:"rings"`
	Journal     Journal      `yaml:"journal"`
	Snapshot    Snapshot     `yaml:"snapshot"`
	Log         Log          `yaml:"log"`
	Instruments []Instrument `yaml:"instruments"`
	Accounts    []Account    `yaml:"accounts"`
}

type Node struct {
	DataDir string `yaml:"data_dir"`
}

type Gateway struct {
	Listen           string        `yaml:"listen"`
	MaxFrameBytes    int           `yaml:"max_frame_bytes"`
	MaxConnections   int           `yaml:"max_connections"`
	HeartbeatTimeout time.Duration `yaml:"heartbeat_timeout"`
	RejectRate       int           `yaml:"reject_rate"`
	DisconnectRate   int           `yaml:"disconnect_rate"`
	SendBufferBytes  int           `yaml:"send_buffer_bytes"`
	TLSCert          string        `yaml:"tls_cert"`
	TLSKey           string        `yaml:"tls_key"`
}

type MarketData struct {
	Listen string `yaml:"listen"`
}

type Admin struct {
	Listen string `yaml:"listen"`
	Token  string `yaml:"token"`
}

type Rings struct {
	InputSlots  int    `yaml:"input_slots"`
	OutputSlots int    `yaml:"output_slots"`
	Wait        string `yaml:"wait"`
}

type Journal struct {
	Sync         string `yaml:"sync"`
	SegmentBytes int64  `yaml:"segment_bytes"`
}

type Snapshot struct {
	Schedule string `yaml:"schedule"`
	Keep     int    `yaml:"keep"`
}

type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

type Instrument struct {
	ID             uint32 `yaml:"id"`
	Symbol         string `yaml:"symbol"`
	TickSize       int64  `yaml:"tick_size"`
	LotSize        int64  `yaml:"lot_size"`
	PriceBand      int64  `yaml:"price_band"`
	ReferencePrice int64  `yaml:"reference_price"`
}

type Account struct {
	ID                 uint32 `yaml:"id"`
	Secret             string `yaml:"secret"`
	MaxOrderQty        int64  `yaml:"max_order_qty"`
	MaxNotional        int64  `yaml:"max_notional"`
	MaxOpenOrders      int64  `yaml:"max_open_orders"`
	CancelOnDisconnect bool   `yaml:"cancel_on_disconnect"`
}

// Default returns the embedded defaults.
func Default() *Config {
	c, err := parse(defaultYAML, &Config{})
	if err != nil {
		panic("config: embedded defaults do not parse: " + err.Error())
	}
	return c
}

func parse(data []byte, into *Config) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(into); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("config: %w", err)
	}
	return into, nil
}

// Load builds the effective config: defaults, then the file at path (if
// not ""), then RINGEX_* variables from env (os.Environ() form). It does
// not validate; call Validate after applying flags.
func Load(path string, env []string) (*Config, error) {
	c := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		// Lists in the file replace the defaults' lists.
		c.Instruments, c.Accounts = nil, nil
		fileCfg, err := parse(data, c)
		if err != nil {
			return nil, fmt.Errorf("%w (in %s)", err, path)
		}
		c = fileCfg
		if c.Instruments == nil {
			c.Instruments = Default().Instruments
		}
		if c.Accounts == nil {
			c.Accounts = Default().Accounts
		}
	}
	for _, kv := range env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, "RINGEX_") {
			continue
		}
		key, found := envKey(name)
		if !found {
			return nil, fmt.Errorf("config: %s: no such setting", name)
		}
		if err := c.Set(key, value); err != nil {
			return nil, fmt.Errorf("%w (from %s)", err, name)
		}
	}
	return c, nil
}

// Keys lists every scalar key, dotted.
func Keys() []string {
	var keys []string
	walk(reflect.ValueOf(Default()).Elem(), "", func(key string, _ reflect.Value, _ reflect.StructField) {
		keys = append(keys, key)
	})
	return keys
}

// EnvName is the environment variable for a dotted key.
func EnvName(key string) string {
	return "RINGEX_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))
}

func envKey(name string) (string, bool) {
	for _, k := range Keys() {
		if EnvName(k) == name {
			return k, true
		}
	}
	return "", false
}

func walk(v reflect.Value, prefix string, fn func(key string, field reflect.Value, sf reflect.StructField)) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		key := prefix + sf.Tag.Get("yaml")
		switch sf.Type.Kind() {
		case reflect.Struct:
			walk(v.Field(i), key+".", fn)
		case reflect.Slice:
			// lists come from files only
		default:
			fn(key, v.Field(i), sf)
		}
	}
}

// Set assigns one scalar key ("gateway.listen") from a string.
func (c *Config) Set(key, value string) error {
	var target reflect.Value
	walk(reflect.ValueOf(c).Elem(), "", func(k string, f reflect.Value, _ reflect.StructField) {
		if k == key {
			target = f
		}
	})
	if !target.IsValid() {
		return fmt.Errorf("config: %s: no such setting", key)
	}
	bad := func(err error) error { return fmt.Errorf("config: %s: %q: %v", key, value, err) }
	switch target.Interface().(type) {
	case time.Duration:
		d, err := time.ParseDuration(value)
		if err != nil {
			return bad(err)
		}
		target.SetInt(int64(d))
		return nil
	}
	switch target.Kind() {
	case reflect.String:
		target.SetString(value)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return bad(err)
		}
		target.SetInt(n)
	case reflect.Uint32:
		n, err := strconv.ParseUint(value, 10, 32)
		if err != nil {
			return bad(err)
		}
		target.SetUint(n)
	case reflect.Bool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return bad(err)
		}
		target.SetBool(b)
	default:
		return bad(errors.New("unsupported type"))
	}
	return nil
}

// Validate checks the whole config and names every bad key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("config: %s: %s", key, fmt.Sprintf(format, a...)))
	}
	pow2 := func(key string, n int) {
		if n < 2 || n&(n-1) != 0 {
			bad(key, "%d is not a power of two >= 2", n)
		}
	}
	addr := func(key, a string) {
		if _, _, err := net.SplitHostPort(a); err != nil {
			bad(key, "%q is not host:port: %v", a, err)
		}
	}
	if c.Node.DataDir == "" {
		bad("node.data_dir", "must be set")
	}
	addr("gateway.listen", c.Gateway.Listen)
	addr("marketdata.listen", c.MarketData.Listen)
	addr("admin.listen", c.Admin.Listen)
	if c.Gateway.MaxFrameBytes < 64 || c.Gateway.MaxFrameBytes > 1<<20 {
		bad("gateway.max_frame_bytes", "%d not in 64…1048576", c.Gateway.MaxFrameBytes)
	}
	if c.Gateway.MaxConnections < 1 {
		bad("gateway.max_connections", "must be at least 1")
	}
	if c.Gateway.HeartbeatTimeout < 100*time.Millisecond {
		bad("gateway.heartbeat_timeout", "%v is shorter than 100ms", c.Gateway.HeartbeatTimeout)
	}
	if c.Gateway.RejectRate < 0 || c.Gateway.DisconnectRate < 0 ||
		(c.Gateway.DisconnectRate > 0 && c.Gateway.DisconnectRate < c.Gateway.RejectRate) {
		bad("gateway.disconnect_rate", "must be 0 or at least gateway.reject_rate")
	}
	if c.Gateway.SendBufferBytes < 4096 {
		bad("gateway.send_buffer_bytes", "%d is below 4096", c.Gateway.SendBufferBytes)
	}
	if (c.Gateway.TLSCert == "") != (c.Gateway.TLSKey == "") {
		bad("gateway.tls_cert", "tls_cert and tls_key go together")
	}
	if host, _, err := net.SplitHostPort(c.Admin.Listen); err == nil && !isLoopback(host) && c.Admin.Token == "" {
		bad("admin.token", "required when admin.listen (%s) is not a loopback address", c.Admin.Listen)
	}
	pow2("rings.input_slots", c.Rings.InputSlots)
	pow2("rings.output_slots", c.Rings.OutputSlots)
	if !oneOf(c.Rings.Wait, "adaptive", "yielding", "busyspin") {
		bad("rings.wait", "%q is not adaptive, yielding or busyspin", c.Rings.Wait)
	}
	if !oneOf(c.Journal.Sync, "batch", "none") {
		bad("journal.sync", "%q is not batch or none", c.Journal.Sync)
	}
	if c.Journal.SegmentBytes < 1<<20 {
		bad("journal.segment_bytes", "%d is below 1 MiB", c.Journal.SegmentBytes)
	}
	if c.Snapshot.Schedule != "" {
		if _, err := time.Parse("15:04", c.Snapshot.Schedule); err != nil {
			bad("snapshot.schedule", "%q is not HH:MM", c.Snapshot.Schedule)
		}
	}
	if c.Snapshot.Keep < 1 {
		bad("snapshot.keep", "must be at least 1")
	}
	if !oneOf(c.Log.Level, "debug", "info", "warn", "error") {
		bad("log.level", "%q is not debug, info, warn or error", c.Log.Level)
	}
	if !oneOf(c.Log.Format, "json", "console") {
		bad("log.format", "%q is not json or console", c.Log.Format)
	}
	if len(c.Instruments) == 0 {
		bad("instruments", "at least one instrument is needed")
	}
	ids, syms := map[uint32]bool{}, map[string]bool{}
	for i, in := range c.Instruments {
		key := fmt.Sprintf("instruments[%d]", i)
		switch {
		case in.ID == 0 || ids[in.ID]:
			bad(key+".id", "%d is zero or repeated", in.ID)
		case in.Symbol == "" || syms[in.Symbol]:
			bad(key+".symbol", "%q is empty or repeated", in.Symbol)
		case in.TickSize <= 0 || in.LotSize <= 0:
			bad(key, "tick_size and lot_size must be positive")
		case in.PriceBand < 0 || in.ReferencePrice < 0:
			bad(key, "price_band and reference_price must not be negative")
		}
		ids[in.ID], syms[in.Symbol] = true, true
	}
	accts := map[uint32]bool{}
	for i, a := range c.Accounts {
		key := fmt.Sprintf("accounts[%d]", i)
		switch {
		case a.ID == 0 || accts[a.ID]:
			bad(key+".id", "%d is zero or repeated", a.ID)
		case a.Secret == "":
			bad(key+".secret", "must be set")
		case a.MaxOrderQty < 0 || a.MaxNotional < 0 || a.MaxOpenOrders < 0:
			bad(key, "limits must not be negative")
		}
		accts[a.ID] = true
	}
	return errors.Join(errs...)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func oneOf(s string, options ...string) bool {
	for _, o := range options {
		if s == o {
			return true
		}
	}
	return false
}

// Masked returns a copy with every secret replaced by "***".
func (c *Config) Masked() *Config {
	m := *c
	m.Accounts = append([]Account(nil), c.Accounts...)
	if m.Admin.Token != "" {
		m.Admin.Token = "***"
	}
	for i := range m.Accounts {
		m.Accounts[i].Secret = "***"
	}
	return &m
}

// Print writes the effective config as YAML, secrets masked.
func (c *Config) Print(w io.Writer) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(c.Masked()); err != nil {
		return err
	}
	return enc.Close()
}
