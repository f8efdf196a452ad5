package config

import (
	"reflect"
	"regexp"
	"strings"
)

// secretKeys is every key that holds a secret: the string fields tagged
// `secret:"true"`, a list entry's written with [] ("accounts[].secret").
// The one list: Masked masks these, and the loader refuses a YAML anchor
// or alias for them and keeps them and their neighbours out of its
// errors (isSecretKey). It listed them a second time, so a secret added
// to one was shown by the other.
var secretKeys = func() map[string]bool {
	keys := map[string]bool{}
	eachSecret(reflect.New(reflect.TypeFor[Config]()).Elem(), "", func(key string, _ reflect.Value) {
		keys[key] = true
	})
	return keys
}()

// eachSecret calls fn with every secret field under v and its key, a
// list's entries under key[] (so that, on a zero value, it walks each
// list's element type once, for secretKeys).
func eachSecret(v reflect.Value, key string, fn func(key string, f reflect.Value)) {
	t := v.Type()
	switch t.Kind() {
	case reflect.Struct:
		for i := range t.NumField() {
			sf := t.Field(i)
			k := joinKey(key, yamlName(sf))
			if sf.Tag.Get("secret") == "true" {
				if sf.Type.Kind() != reflect.String {
					panic("config: secret field " + k + " is not a string")
				}
				fn(k, v.Field(i))
				continue
			}
			eachSecret(v.Field(i), k, fn)
		}
	case reflect.Slice:
		if v.Len() == 0 {
			eachSecret(reflect.New(t.Elem()).Elem(), key+"[]", fn)
		}
		for i := range v.Len() {
			eachSecret(v.Index(i), key+"[]", fn)
		}
	}
}

// yamlName is the YAML key of a struct field.
func yamlName(sf reflect.StructField) string {
	name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
	return name
}

// listIndex matches a list entry's index in a key, "[3]".
var listIndex = regexp.MustCompile(`\[\d+\]`)

// isSecretKey reports whether key, as the loader names it
// ("accounts[3].secret"), holds a secret (secretKeys).
func isSecretKey(key string) bool {
	return secretKeys[listIndex.ReplaceAllString(key, "[]")]
}
