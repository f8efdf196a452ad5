package config

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// Config holds no reference but its three lists (instruments, accounts,
// cluster.peers) and its record of layers (a map), and their elements
// hold none: Clone, which copies those four, is a deep copy — what Default relies on to hand out the defaults
// parsed once. A field of a reference kind added anywhere (a slice, map,
// pointer, …) fails here until Clone copies it and this list names it.
func TestConfigReferencesAreTheListsCloneCopies(t *testing.T) {
	copied := map[string]bool{"Instruments": true, "Accounts": true, "Cluster.Peers": true, "layers": true}
	var walk func(typ reflect.Type, path string, inList bool)
	walk = func(typ reflect.Type, path string, inList bool) {
		switch typ.Kind() {
		case reflect.Struct:
			for i := range typ.NumField() {
				f := typ.Field(i)
				p := f.Name
				if path != "" {
					p = path + "." + f.Name
				}
				walk(f.Type, p, inList)
			}
		case reflect.Slice, reflect.Map:
			if inList || !copied[path] {
				t.Errorf("%s (%s) is a %s Clone does not copy", path, typ, typ.Kind())
				return
			}
			delete(copied, path)
			if typ.Kind() == reflect.Map {
				walk(typ.Key(), path+"[key]", true)
			}
			walk(typ.Elem(), path+"[]", true)
		case reflect.Pointer, reflect.Interface, reflect.Chan, reflect.Func, reflect.UnsafePointer, reflect.Array:
			t.Errorf("%s (%s) is a reference (or array) Clone does not copy", path, typ)
		}
	}
	walk(reflect.TypeOf(Config{}), "", false)
	for p := range copied {
		t.Errorf("Clone copies %s, which Config no longer has: update Clone and this test", p)
	}
}

// mutate changes every setting reachable in v — every exported field,
// every element of every list too — and adds an element to every list.
func mutate(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				mutate(v.Field(i))
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			mutate(v.Index(i))
		}
		v.Set(reflect.Append(v, reflect.New(v.Type().Elem()).Elem()))
	case reflect.String:
		v.SetString(v.String() + "x")
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(v.Int() + 1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(v.Uint() + 1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(v.Float() + 1)
	default:
		panic("mutate: " + v.Type().String())
	}
}

// Default parses default.yaml once and hands each caller its own deep
// copy: a config from Default or Load, changed in every field and every
// element of every list (as Set, a file's list or a caller may change
// it), leaves the next Default and Load as default.yaml says, and each
// is its own too.
func TestChangingALoadedConfigLeavesTheDefaults(t *testing.T) {
	want := &Config{}
	if err := decode(defaultYAML, want); err != nil {
		t.Fatal(err)
	}
	want.normalize()
	file := filepath.Join(t.TempDir(), "ringex.yaml")
	if err := os.WriteFile(file, []byte("node:\n  id: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	load := func(path string) func() *Config {
		return func() *Config {
			c, err := Load(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
	}
	for _, get := range []struct {
		name string
		get  func() *Config
	}{{"Default", Default}, {"Load without a file", load("")}, {"Load of a file", load(file)}} {
		c := get.get()
		if !reflect.DeepEqual(c, want) {
			t.Fatalf("%s before any change: %+v, want default.yaml's %+v", get.name, c, want)
		}
		mutate(reflect.ValueOf(c).Elem())
		if reflect.DeepEqual(c, want) {
			t.Fatalf("%s: mutate changed nothing", get.name)
		}
		for _, next := range []func() *Config{Default, load(""), load(file)} {
			if got := next(); !reflect.DeepEqual(got, want) {
				t.Fatalf("after changing a config from %s, the next one is %+v, want default.yaml's %+v", get.name, got, want)
			}
		}
	}
}

// BenchmarkLoad is Load of a small file, as FuzzConfigFile and every
// `ringex` command load one.
func BenchmarkLoad(b *testing.B) {
	file := filepath.Join(b.TempDir(), "ringex.yaml")
	if err := os.WriteFile(file, []byte("node:\n  id: 2\ngateway:\n  listen: 127.0.0.1:7400\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(file, nil); err != nil {
			b.Fatal(err)
		}
	}
}
