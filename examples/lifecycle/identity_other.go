//go:build !linux

package lifecycle

// ProcessIdentity returns the contract's process identity token of the
// process that has pid now. Only Linux defines the token so far: here it
// returns ErrUnsupportedPlatform, for which errors.Is(err,
// errors.ErrUnsupported) is true, and Ensure starts no daemon (see the
// package documentation).
func ProcessIdentity(uint32) (string, error) { return "", ErrUnsupportedPlatform }

// readStat reports that /proc/<pid>/stat is a Linux matter.
func readStat(uint32) (procStat, error) { return procStat{}, ErrUnsupportedPlatform }

// supported says whether Ensure can vouch for a process it starts here.
const supported = false
