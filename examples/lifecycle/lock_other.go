//go:build !linux

package lifecycle

import "context"

// lockProcesses reports that Ensure starts no daemon here, and needs no
// lock.
func lockProcesses(context.Context, string, string) (func(), error) {
	return nil, ErrUnsupportedPlatform
}
