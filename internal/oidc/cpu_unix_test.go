//go:build unix

package oidc

import (
	"syscall"
	"time"
)

// processCPU is the CPU time this process has used (all threads, user
// and system): a benchmark's cost that does not depend on how busy the
// machine is.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
