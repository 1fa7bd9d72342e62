//go:build linux

package daemoncontract_test

import (
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rbee-keeper/daemoncontract"
)

// validate.go, checkPath: "an identifier of at most 4096 bytes (PATH_MAX)".
//
// PATH_MAX counts the terminating NUL (limits.h: "# chars in a path name
// including nul"), so the kernel refuses a path of 4096 bytes with
// ENAMETOOLONG before it looks anything up; Validate accepts it. This test
// asks the kernel first, so that the expected value is the kernel's.
func TestPathCapIsWhatTheKernelTakes(t *testing.T) {
	// 16 elements of 255 bytes (NAME_MAX), each after a /: 4096 bytes.
	p := strings.Repeat("/"+strings.Repeat("a", 255), 15) + "/" + strings.Repeat("b", 255)
	require.Len(t, p, 4096)
	_, err := os.Stat(p)
	require.ErrorIs(t, err, syscall.ENAMETOOLONG, "the kernel takes no path of 4096 bytes")
	err = daemoncontract.InstallConfig{BinaryName: "rbee-hive", BinaryPath: &p}.Validate()
	assert.ErrorIs(t, err, daemoncontract.ErrInvalidValue, "binary_path of 4096 bytes names no file")
}
