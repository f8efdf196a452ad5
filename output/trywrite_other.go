//go:build !unix

package output

// tryWrite writes nothing off Unix: a cut's farewell is written under
// its cutWait deadline alone (no node runs on Windows; nor on js, wasip1
// or plan9, where golang.org/x/sys/unix does not build).
func tryWrite(conn any, b []byte) int { return 0 }
