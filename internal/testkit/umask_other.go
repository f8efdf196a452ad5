//go:build !unix

package testkit

import "testing"

// Umask0 skips t: there is no umask and no owner-only modes here to test.
func Umask0(t testing.TB) { t.Skip("no umask or unix file modes on this system") }
