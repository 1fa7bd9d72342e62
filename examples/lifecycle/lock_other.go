//go:build !linux

package lifecycle

import "context"

// lockFile reports that Ensure starts no daemon here, and needs no lock.
func lockFile(context.Context, string, string) (func(), error) { return nil, ErrUnsupportedPlatform }
