//go:build !linux

package lifecycle

import (
	"context"
	"fmt"
	"net"
)

// servedBy reports that which process holds the far end of a connection is
// known on Linux only.
func servedBy(context.Context, net.Conn, *proc) error {
	return fmt.Errorf("%w: %w", errNotServed, ErrUnsupportedPlatform)
}

// fdsReadable reports that /proc/<pid>/fd is a Linux matter.
func fdsReadable(uint32) error { return ErrUnsupportedPlatform }
