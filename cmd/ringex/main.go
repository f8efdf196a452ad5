// Command ringex is the exchange server and its operator tools.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "ringex:", err)
		os.Exit(1)
	}
}
