package lifecycle

import (
	"os"
	"syscall"
	"testing"
)

// The tests' hooks into signal, the one way the package signals a process.

// observe lets f see every signal the package sends, pid and signal, until
// the test ends. The signals are still sent. f may be called concurrently.
func observe(t *testing.T, f func(pid int, sig syscall.Signal)) {
	t.Helper()
	real := signal
	signal = func(p *os.Process, sig syscall.Signal) error {
		f(p.Pid, sig)
		return real(p, sig)
	}
	t.Cleanup(func() { signal = real })
}

// intercept sends every signal the package would send to f instead, until
// the test ends. Nothing reaches the kernel.
func intercept(t *testing.T, f func(pid int, sig syscall.Signal)) {
	t.Helper()
	real := signal
	signal = func(p *os.Process, sig syscall.Signal) error {
		f(p.Pid, sig)
		return nil
	}
	t.Cleanup(func() { signal = real })
}

// failSignal makes every attempt to send which fail with err, as EPERM
// would, until the test ends. Other signals are sent.
func failSignal(t *testing.T, which syscall.Signal, err error) {
	t.Helper()
	real := signal
	signal = func(p *os.Process, sig syscall.Signal) error {
		if sig == which {
			return err
		}
		return real(p, sig)
	}
	t.Cleanup(func() { signal = real })
}
