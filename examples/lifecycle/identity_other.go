//go:build !linux

package lifecycle

import "errors"

// ProcessIdentity returns the contract's process identity token of the
// process that has pid now. Only Linux defines the token so far: here it
// returns errors.ErrUnsupported, and so Ensure cannot vouch for a process
// it starts (see the package documentation).
func ProcessIdentity(uint32) (string, error) { return "", errors.ErrUnsupported }

// readStat reports that /proc/<pid>/stat is a Linux matter.
func readStat(uint32) (procStat, error) { return procStat{}, errors.ErrUnsupported }
