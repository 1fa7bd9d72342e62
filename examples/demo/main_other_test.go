//go:build !linux

package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/rbee-keeper/daemoncontract/examples/lifecycle"
)

// Elsewhere than Linux, the demo says that it needs Linux, and starts
// nothing. (CI runs on Linux: this test is compiled for darwin, freebsd and
// windows there, not run.)
func TestDemoNeedsLinux(t *testing.T) {
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := run(ctx, &out)
	assert.ErrorIs(t, err, lifecycle.ErrUnsupportedPlatform)
	assert.Empty(t, out.String(), "no step ran")
}
