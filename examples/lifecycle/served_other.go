//go:build !linux

package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"net"
)

// servedBy reports that which process holds the far end of a connection is
// known on Linux only.
func servedBy(context.Context, net.Conn, *proc) error {
	return fmt.Errorf("%w: %w", errNotServed, errors.ErrUnsupported)
}
