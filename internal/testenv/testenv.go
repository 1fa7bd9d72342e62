// Package testenv holds what the tests of several packages of the module
// share about the machine they run on.
package testenv

import (
	"os"
	"testing"
)

// RequireNamespaces is the environment variable that makes the tests which
// need root's powers (new pid and mount namespaces, mknod, another uid) fail
// where they would skip. .ci/run sets it: CI machines allow all of them, so
// there such a test must run.
const RequireNamespaces = "DAEMONCONTRACT_REQUIRE_NAMESPACES"

// Skipf skips t with the message format and args, or fails it when
// RequireNamespaces is set.
func Skipf(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv(RequireNamespaces) != "" {
		t.Fatalf("%s is set, but: "+format, append([]any{RequireNamespaces}, args...)...)
	}
	t.Skipf(format, args...)
}
