package lifecycle

import (
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProcessIdentityOfThisProcess(t *testing.T) {
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	require.NoError(t, err)
	id, err := ProcessIdentity(uint32(os.Getpid()))
	require.NoError(t, err)
	assert.Regexp(t, "^linux:"+regexp.QuoteMeta(strings.TrimSuffix(string(boot), "\n"))+":[1-9][0-9]*$", id)
	again, err := ProcessIdentity(uint32(os.Getpid()))
	require.NoError(t, err)
	assert.Equal(t, id, again, "the same process, the same token")
}

func TestProcessIdentityOfNoProcess(t *testing.T) {
	// A pid that names no process is "not exist", which callers tell
	// from "cannot read".
	for _, pid := range []uint32{0, math.MaxInt32, math.MaxUint32} {
		_, err := ProcessIdentity(pid)
		assert.ErrorIs(t, err, os.ErrNotExist, "pid %d", pid)
	}
	d, err := startDaemon(t, "record", "")
	require.NoError(t, err)
	d.ready(t)
	require.NoError(t, d.stdin.Close())
	require.True(t, d.gone(5*time.Second))
	_, err = ProcessIdentity(d.pid())
	assert.ErrorIs(t, err, os.ErrNotExist, "exited and reaped")
}

func TestProcessIdentityWithATrickyCommandName(t *testing.T) {
	// Field 2 of /proc/<pid>/stat, the command name, may hold spaces and
	// parentheses; the starttime is counted from the last ')'.
	d, err := startDaemon(t, "rename", "")
	require.NoError(t, err)
	d.ready(t)
	stat, err := os.ReadFile("/proc/" + strconv.FormatUint(uint64(d.pid()), 10) + "/stat")
	require.NoError(t, err)
	require.Contains(t, string(stat), "(x) y (z)", "the helper renamed itself")

	st, err := readStat(d.pid())
	require.NoError(t, err)
	assert.Equal(t, os.Getpid(), st.ppid)
	assert.False(t, st.leaderExited(), "state %c", st.state)
	// The name came after the start: the token is the one from before.
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	assert.True(t, strings.HasSuffix(st.identity, ":"+fields[19]))
}

func TestParseStat(t *testing.T) {
	// Fields 5 to 21, then starttime (22), then two more.
	fields5to21 := " 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21"
	tail := fields5to21 + " 123456 23 24\n"
	tests := []struct {
		name, stat string
		state      byte
		ppid       int
		starttime  string
	}{
		{"plain", "42 (sleep) S 7" + tail, 'S', 7, "123456"},
		{"spaces", "42 (a b c) R 7" + tail, 'R', 7, "123456"},
		{"parentheses", "42 (x) y (z) Z 1" + tail, 'Z', 1, "123456"},
		{"a forged tail in the name", "42 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 99 (y) S 7" + tail, 'S', 7, "123456"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state, ppid, starttime, err := parseStat([]byte(tt.stat))
			require.NoError(t, err)
			assert.Equal(t, tt.state, state)
			assert.Equal(t, tt.ppid, ppid)
			assert.Equal(t, tt.starttime, starttime)
		})
	}
	for _, bad := range []string{"", "42 sleep S 7" + tail, "42 (sleep) S 7 4 5", "42 (sleep) SS 7" + tail, "42 (sleep) S x" + tail,
		"42 (sleep) S 7" + fields5to21 + " -1 23\n", "42 (sleep) S 7" + fields5to21 + " 0123 23\n"} {
		_, _, _, err := parseStat([]byte(bad))
		assert.ErrorIs(t, err, errMalformedStat, "%q", bad)
	}
}
