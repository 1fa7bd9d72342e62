// Status says whether the daemon answers, in words of its own.
package lifecycle

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rbee-keeper/daemoncontract"
)

func TestStatusWritesNoCredentials(t *testing.T) {
	// Status wrote http://admin:s3cret@… into health_status, by
	// following a redirect to it and quoting the error. Now health_status
	// holds the status alone, or a fixed text when there is no answer.
	closed := freeAddr(t)
	addr := redirector(t, http.StatusFound, "http://admin:s3cret@"+closed+"/health")
	resp, err := Status(context.Background(), config(addr, nil), daemoncontract.StatusRequest{ID: "hive"})
	require.NoError(t, err)
	require.NotNil(t, resp.HealthStatus)
	assert.Equal(t, "302 Found", *resp.HealthStatus)
	assert.NotContains(t, *resp.HealthStatus, "admin")

	resp, err = Status(context.Background(), config(closed, nil), daemoncontract.StatusRequest{ID: "hive"})
	require.NoError(t, err)
	assert.False(t, resp.IsRunning)
	assert.Equal(t, "no answer", *resp.HealthStatus, "not net/http's error, which quotes the URL")
	assert.NoError(t, resp.Validate())
}

func TestStatusHealthStatusIsCodeAndText(t *testing.T) {
	// Health_status copied the server's reason phrase verbatim,
	// up to megabytes; one with NUL and \xff made a StatusResponse that
	// failed its own Validate and could not be marshalled. Now it is the
	// code and http.StatusText, and never the reason phrase or the body.
	tests := []struct {
		name, statusLine string
		running          bool
		want             string
	}{
		{"NUL, \\xff and 100 KB in the reason phrase", "200 OK\x00\xff" + strings.Repeat("x", 100_000), true, "200 OK"},
		{"another reason phrase", "503 the password is s3cret", false, "503 Service Unavailable"},
		{"a code without a standard text", "299 Whatever", true, "299"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := rawServer(t, "HTTP/1.1 "+tt.statusLine+"\r\nContent-Length: 12\r\nConnection: close\r\n\r\nsecret body\n")
			resp, err := Status(context.Background(), config(addr, nil), daemoncontract.StatusRequest{ID: "worker-1"})
			require.NoError(t, err)
			assert.Equal(t, tt.running, resp.IsRunning)
			require.NotNil(t, resp.HealthStatus)
			assert.Equal(t, tt.want, *resp.HealthStatus)
			assert.NoError(t, resp.Validate())
			_, err = resp.MarshalJSON()
			assert.NoError(t, err)
		})
	}
}

func TestStatus(t *testing.T) {
	addr := freeAddr(t)
	cfg := config(addr, nil)
	req := daemoncontract.StatusRequest{ID: "workstation"}

	resp, err := Status(context.Background(), cfg, req)
	require.NoError(t, err)
	assert.Equal(t, "workstation", resp.ID)
	assert.False(t, resp.IsRunning)
	require.NotNil(t, resp.HealthStatus)
	assert.Equal(t, "no answer", *resp.HealthStatus)

	cfg = config(serveHTTP(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})), nil)
	resp, err = Status(context.Background(), cfg, req)
	require.NoError(t, err)
	assert.True(t, resp.IsRunning)
	assert.Equal(t, "200 OK", *resp.HealthStatus)

	_, err = Status(context.Background(), cfg, daemoncontract.StatusRequest{})
	var fe *daemoncontract.FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "id", fe.Field)
}
