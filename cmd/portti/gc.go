package main

import (
	"os"
	"runtime/debug"
)

// The server's garbage collector settings, unless the operator set GOGC
// or GOMEMLIMIT.
//
// portti's live heap is small (10–15 MB: caches, templates, catalogues),
// while every request allocates a few kilobytes; with Go's default GOGC
// of 100 the collector then runs a hundred times a second under load,
// marking the same live heap each time. Measured with portti-bench in the
// same runs (issue 7), GOGC 400 took a client_credentials grant from 2.9
// to 2.35 times the bare net/http floor and an introspection from 2.4 to
// 2.2. The soft memory limit keeps the heap from growing with the
// percentage when the live heap does (a burst of sign-ins): the collector
// works harder near it instead, so the process stays within its memory
// budget (argon2's hash memory is outside the Go heap and not counted).
// At 40 MiB a run of sign-ins peaked at 104.6 MB of RSS (2 × 19 MiB of hash
// memory beside the heap), over the 100 MB budget; at 30 MiB it peaked at
// 94 MB, with grants and introspections at the same cost.
const (
	serveGCPercent   = 400
	serveMemoryLimit = 30 << 20 // bytes of Go-managed memory
)

// tuneGC applies them; main calls it for `portti serve` only.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(serveMemoryLimit)
	}
}
