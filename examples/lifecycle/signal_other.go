//go:build !unix

package lifecycle

import (
	"errors"
	"syscall"
)

// sendSignal reports that signals are a Unix matter. Call it only through
// signal.
func sendSignal(int, syscall.Signal) error { return errors.ErrUnsupported }
