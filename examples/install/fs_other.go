//go:build !linux

package install

import (
	"context"
	"errors"
	"fmt"

	"github.com/rbee-keeper/daemoncontract"
)

// errNotLinux is what Install and Uninstall return, once the messages and
// the policy are checked, where this installer does not run.
var errNotLinux = fmt.Errorf("install: this installer is written for Linux, whose /proc/<pid>/exe tells which process runs a binary: %w", errors.ErrUnsupported)

func install(context.Context, string, string, string) (daemoncontract.InstallResult, error) {
	return daemoncontract.InstallResult{}, errNotLinux
}

func uninstall(context.Context, string, string, string) error { return errNotLinux }
