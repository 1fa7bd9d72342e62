package install_test

// The policy: only its directories, as written.

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/rbee-keeper/daemoncontract/examples/install"
)

func TestPolicyComparesCleanedPathsOnly(t *testing.T) {
	p := install.Policy{Dirs: []string{"/opt/rbee/bin/", "/usr/local/bin"}}
	for dir, want := range map[string]string{
		"/opt/rbee/bin":         "/opt/rbee/bin",
		"/opt/rbee/bin/":        "/opt/rbee/bin", // a trailing slash, on either side
		"/usr/local/bin/":       "/usr/local/bin",
		"/usr/local/bin/../bin": "/usr/local/bin", // Validate refuses it before; cleaned here
	} {
		got, err := install.Allowed(p, dir)
		assert.NoError(t, err, dir)
		assert.Equal(t, want, got, dir)
	}
	for _, dir := range []string{"/opt/rbee", "/opt/rbee/bin/sub", "/opt/rbee/bin-evil", "/opt/rbee/binx", "/usr/local", "opt/rbee/bin", "/"} {
		_, err := install.Allowed(p, dir)
		assert.ErrorIs(t, err, install.ErrNotAllowed, dir)
	}
}
