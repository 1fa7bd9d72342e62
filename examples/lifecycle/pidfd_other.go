//go:build !linux

package lifecycle

import (
	"context"
	"os"
	"time"
)

// exited reports that pidfds are a Linux matter.
func exited(*os.Process) (bool, error) { return false, ErrUnsupportedPlatform }

// noPidfd reports that pidfds are a Linux matter.
func noPidfd(uint32) error { return ErrUnsupportedPlatform }

// waitExit reports that pidfds are a Linux matter.
func waitExit(context.Context, *proc, time.Duration) error { return ErrUnsupportedPlatform }
