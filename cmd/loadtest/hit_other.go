//go:build !linux

package main

import (
	"fmt"
	"os"
)

// hitSupported says whether this platform has the built-in generator.
const hitSupported = false

func hitCommand([]string) int {
	fmt.Fprintln(os.Stderr, "loadtest hit: the built-in load generator needs Linux (epoll)")
	return 1
}
