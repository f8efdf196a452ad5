package config

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// Masked and the loader agree on what is a secret: with every text field
// of a config set (each list with two entries), Masked masks exactly
// those the loader treats as secret (isSecretKey), and those include
// admin.token and every account's secret. A secret added to one list and
// not the other showed it where the other kept it hidden.
func TestMaskedMasksWhatTheLoaderHides(t *testing.T) {
	c := Default()
	c.Accounts = c.Accounts[:2]
	c.Cluster.Peers = []Peer{{1, "a:7500", "a:7400"}, {2, "b:7500", "b:7400"}}
	c.Instruments = c.Instruments[:2]
	set := map[string]string{} // key → the value set
	eachText(reflect.ValueOf(c).Elem(), "", func(key string, f reflect.Value) {
		v := "v-" + key
		f.SetString(v)
		set[key] = v
	})
	c.Admin.TokenFile = "" // with a file, Masked leaves the token out
	set["admin.token_file"] = ""
	m := reflect.ValueOf(c.Masked()).Elem()
	var secrets []string
	eachText(m, "", func(key string, f reflect.Value) {
		maskedHere := f.String() == masked && set[key] != masked
		if maskedHere != isSecretKey(key) {
			t.Errorf("%s: masked by Masked %v, secret to the loader %v", key, maskedHere, isSecretKey(key))
		}
		if !maskedHere && f.String() != set[key] {
			t.Errorf("%s: Masked changed it to %q", key, f.String())
		}
		if maskedHere {
			secrets = append(secrets, key)
		}
	})
	for _, want := range []string{"admin.token", "accounts[0].secret", "accounts[1].secret"} {
		if !strings.Contains(fmt.Sprint(secrets), want) {
			t.Errorf("%s is not among the secrets %v", want, secrets)
		}
	}
	for key := range secretKeys { // each a text key the walk reached
		found := false
		for _, s := range secrets {
			found = found || listIndex.ReplaceAllString(s, "[]") == key
		}
		if !found {
			t.Errorf("secretKeys holds %s, which Masked masked nowhere", key)
		}
	}
}

// eachText calls fn with every exported string field under v (a
// setting) and its key, as the loader names it (a list's entries as
// key[i]).
func eachText(v reflect.Value, key string, fn func(key string, f reflect.Value)) {
	switch v.Kind() {
	case reflect.String:
		fn(key, v)
	case reflect.Struct:
		for i := range v.NumField() {
			if !v.Type().Field(i).IsExported() {
				continue
			}
			eachText(v.Field(i), joinKey(key, yamlName(v.Type().Field(i))), fn)
		}
	case reflect.Slice:
		for i := range v.Len() {
			eachText(v.Index(i), fmt.Sprintf("%s[%d]", key, i), fn)
		}
	}
}
