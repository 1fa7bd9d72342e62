package install

import "testing"

// What the tests of package install_test reach inside the package (Go's
// export_test.go convention), so that every test lives in the file of the
// promise it checks: the points where a test acts as a race would, and the
// steps a test replaces.

// Allowed is Policy.allowed.
var Allowed = Policy.allowed

// Point is a place where Install or Uninstall calls hook.
type Point = point

// The points; see point.
const (
	SourceStatted      = sourceStatted
	UninstallOpening   = uninstallOpening
	UninstallUnlinking = uninstallUnlinking
	LockBusy           = lockBusy
)

// At calls f at every point that Install and Uninstall reach, on the
// goroutine that reaches it, until the test ends.
func At(t testing.TB, f func(Point)) {
	real := hook
	hook = f
	t.Cleanup(func() { hook = real })
}

// FailSync makes the fsync of every directory fail with err until the test
// ends.
func FailSync(t testing.TB, err error) {
	real := syncDir
	syncDir = func(*dir) error { return err }
	t.Cleanup(func() { syncDir = real })
}

// TempSuffix makes f choose the random part of the temporary files' names
// until the test ends.
func TempSuffix(t testing.TB, f func() string) {
	real := tempSuffix
	tempSuffix = f
	t.Cleanup(func() { tempSuffix = real })
}
