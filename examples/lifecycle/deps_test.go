// The package uses the standard library only, and the contract.

package lifecycle

import (
	"go/build"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestThePackageUsesTheStandardLibraryOnly(t *testing.T) {
	// sock_diag and pidfds are spoken through package syscall, so that the
	// root module keeps testify as its only requirement. (Tests may use
	// testify.)
	for _, goos := range []string{"linux", "darwin", "freebsd", "windows"} {
		ctx := build.Default
		ctx.GOOS = goos
		pkg, err := ctx.ImportDir(".", 0)
		require.NoError(t, err, goos)
		for _, path := range pkg.Imports {
			first, _, _ := strings.Cut(path, "/")
			std := !strings.Contains(first, ".")
			assert.True(t, std || path == "github.com/rbee-keeper/daemoncontract", "%s: imports %s", goos, path)
		}
	}
}
