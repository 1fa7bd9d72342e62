//go:build unix

package lifecycle

import "syscall"

// sendSignal is kill(2). Call it only through signal.
func sendSignal(pid int, sig syscall.Signal) error { return syscall.Kill(pid, sig) }
