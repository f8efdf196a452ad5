// Package crash is the process-level crash test of ringex's durability
// promise: every order acknowledged to a client survives kill -9, and the
// state a node rebuilds from its snapshot and journal equals an offline
// replay of that journal. It builds the ringex binary and runs it as a
// real process on loopback; it has no library code.
package crash
