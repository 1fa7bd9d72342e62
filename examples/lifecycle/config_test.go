// The messages must belong together, and say what they mean.
package lifecycle

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rbee-keeper/daemoncontract"
)

func TestEnsureRejectsAnInvalidConfig(t *testing.T) {
	called := false
	_, err := Ensure(context.Background(), config("", new("//evil.example/x")), func(context.Context) (uint32, error) {
		called = true
		return 1, nil
	})
	assert.Error(t, err)
	assert.False(t, called)
}

func TestOutcomeText(t *testing.T) {
	want := map[Outcome]string{
		Refused: "refused", NotOurs: "not ours", NotRunning: "not running",
		StoppedGracefully: "stopped gracefully", Killed: "killed", AskedOverHTTP: "asked over HTTP",
		Outcome(9): "Outcome(9)",
	}
	for o, s := range want {
		assert.Equal(t, s, o.String())
		b, err := o.MarshalText()
		assert.NoError(t, err)
		assert.Equal(t, s, string(b))
	}
}

func TestOriginKeepsTheZonesCase(t *testing.T) {
	// Origin lower-cased the zone of an IPv6 address,
	// and interface names are case-sensitive: Stop took a config on
	// fe80::1%ETH0 for a handle on fe80::1%eth0, and asked the other
	// interface's daemon to stop.
	h := daemoncontract.StartedByUs("test-daemon", "http://[fe80::1%25eth0]:7833", new(uint32(4242))).WithProcessIdentity("linux:0b2a0c47-1d8e-4b59-9c1e-4f3b2f7d9a10:1")
	for health, ok := range map[string]bool{
		"http://[fe80::1%25eth0]:7833/health": true,
		"http://[FE80::1%25eth0]:7833/health": true, // the address is hex: case-insensitive
		"http://[fe80::1%25ETH0]:7833/health": false,
		"http://[fe80::1%25eth1]:7833/health": false,
		"http://[fe80::1]:7833/health":        false,
	} {
		cfg := daemoncontract.HttpDaemonConfig{DaemonName: "test-daemon", HealthURL: health}
		err := belongTogether(h, shutdownConfig(4242, 5), cfg)
		assert.Equal(t, ok, err == nil, "%s: %v", health, err)
	}
}

func TestBaseURLIsHealthURLsOrigin(t *testing.T) {
	// The handle's base_url is health_url's scheme and host, with an empty
	// port, the scheme's default, left out (RFC 3986 §6.2.3).
	for health, want := range map[string]string{
		"http://localhost:7833/health":       "http://localhost:7833",
		"http://localhost:/health":           "http://localhost",
		"https://[::1]:/health?x=1":          "https://[::1]",
		"http://[fe80::1%25eth0]:7835/v1/up": "http://[fe80::1%25eth0]:7835",
	} {
		got, err := baseURL(health)
		require.NoError(t, err, health)
		assert.Equal(t, want, got, health)
		assert.NoError(t, daemoncontract.AlreadyRunning("q", got).Validate(), "%s: the base URL is valid", got)
	}
}
