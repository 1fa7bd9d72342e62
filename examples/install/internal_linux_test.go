package install

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rbee-keeper/daemoncontract"
)

// failSync makes the fsync of every directory fail with err until the test
// ends.
func failSync(t *testing.T, err error) {
	real := syncDir
	syncDir = func(*dir) error { return err }
	t.Cleanup(func() { syncDir = real })
}

func TestInstallReturnsTheReceiptWithTheErrorWhenTheDirectoryFsyncFails(t *testing.T) {
	// The rename is the last change; after it, a failed fsync is reported
	// with the receipt, because the new binary is in place.
	dir := filepath.Join(t.TempDir(), "bin")
	require.NoError(t, os.Mkdir(dir, 0o755))
	src := filepath.Join(t.TempDir(), "queen-rbee")
	data := []byte("the new binary")
	require.NoError(t, os.WriteFile(src, data, 0o755))
	eio := errors.New("EIO, as a failing disk says")
	failSync(t, eio)

	r, err := Install(context.Background(), Policy{Dirs: []string{dir}},
		daemoncontract.InstallConfig{BinaryName: "queen-rbee", BinaryPath: &src, TargetPath: &dir})
	assert.ErrorIs(t, err, eio)
	assert.ErrorContains(t, err, "is installed")
	want := sha256.Sum256(data)
	require.NotNil(t, r.SHA256, "the receipt comes with the error")
	assert.Equal(t, hex.EncodeToString(want[:]), *r.SHA256)
	got, err := os.ReadFile(filepath.Join(dir, "queen-rbee"))
	require.NoError(t, err)
	assert.Equal(t, data, got)
	names, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, names, 1, "no temporary file")
}

func TestUninstallIgnoresAFailedFsyncOnceTheFileIsGone(t *testing.T) {
	// The unlink is the last change: after it, Uninstall reports success,
	// so that an error always means that nothing changed.
	dir := filepath.Join(t.TempDir(), "bin")
	require.NoError(t, os.Mkdir(dir, 0o755))
	src := filepath.Join(t.TempDir(), "queen-rbee")
	require.NoError(t, os.WriteFile(src, []byte("bytes"), 0o755))
	p := Policy{Dirs: []string{dir}}
	r, err := Install(context.Background(), p, daemoncontract.InstallConfig{BinaryName: "queen-rbee", BinaryPath: &src, TargetPath: &dir})
	require.NoError(t, err)
	failSync(t, errors.New("EIO"))

	require.NoError(t, Uninstall(context.Background(), p, daemoncontract.UninstallConfig{DaemonName: "queen-rbee", InstallPath: r.BinaryPath}, r))
	assert.NoFileExists(t, r.BinaryPath)
}

func TestPolicyComparesCleanedPathsOnly(t *testing.T) {
	p := Policy{Dirs: []string{"/opt/rbee/bin/", "/usr/local/bin"}}
	for dir, want := range map[string]string{
		"/opt/rbee/bin":         "/opt/rbee/bin",
		"/opt/rbee/bin/":        "/opt/rbee/bin", // a trailing slash, on either side
		"/usr/local/bin/":       "/usr/local/bin",
		"/usr/local/bin/../bin": "/usr/local/bin", // Validate refuses it before; cleaned here
	} {
		got, err := p.allowed(dir)
		assert.NoError(t, err, dir)
		assert.Equal(t, want, got, dir)
	}
	for _, dir := range []string{"/opt/rbee", "/opt/rbee/bin/sub", "/opt/rbee/bin-evil", "/opt/rbee/binx", "/usr/local", "opt/rbee/bin", "/"} {
		_, err := p.allowed(dir)
		assert.ErrorIs(t, err, ErrNotAllowed, dir)
	}
}

func TestInstallNeverWritesThroughASymlinkAtItsTemporaryName(t *testing.T) {
	// Someone who guessed the temporary file's name put a symlink there,
	// to a victim: O_CREAT|O_EXCL refuses the name, and Install takes
	// another.
	root := t.TempDir()
	dir := filepath.Join(root, "bin")
	require.NoError(t, os.Mkdir(dir, 0o755))
	victim := filepath.Join(root, "victim")
	require.NoError(t, os.WriteFile(victim, []byte("kept"), 0o644))
	require.NoError(t, os.Symlink(victim, filepath.Join(dir, ".queen-rbee.guessed.tmp")))
	suffixes := []string{"guessed", "other"}
	real := tempSuffix
	tempSuffix = func() string { s := suffixes[0]; suffixes = suffixes[1:]; return s }
	t.Cleanup(func() { tempSuffix = real })
	src := filepath.Join(t.TempDir(), "queen-rbee")
	require.NoError(t, os.WriteFile(src, []byte("the binary"), 0o755))

	_, err := Install(context.Background(), Policy{Dirs: []string{dir}},
		daemoncontract.InstallConfig{BinaryName: "queen-rbee", BinaryPath: &src, TargetPath: &dir})
	require.NoError(t, err)
	assert.Empty(t, suffixes, "a second name was taken")
	got, err := os.ReadFile(victim)
	require.NoError(t, err)
	assert.Equal(t, "kept", string(got))
	link, err := os.Readlink(filepath.Join(dir, ".queen-rbee.guessed.tmp"))
	require.NoError(t, err)
	assert.Equal(t, victim, link, "someone else's symlink is left alone")
}

func TestInstallRefusesASourceSwappedForAFIFOAfterItsStat(t *testing.T) {
	// The source is a symlink to a regular file when stat(2) looks, and to
	// a FIFO without a writer when the file is opened: the open does not
	// block (O_NONBLOCK), and fstat(2) on the descriptor refuses it.
	root := t.TempDir()
	dir := filepath.Join(root, "bin")
	require.NoError(t, os.Mkdir(dir, 0o755))
	regular, fifo, link := filepath.Join(root, "regular"), filepath.Join(root, "fifo"), filepath.Join(root, "source")
	require.NoError(t, os.WriteFile(regular, []byte("a binary"), 0o755))
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	require.NoError(t, os.Symlink(regular, link))
	real := betweenStatAndOpen
	betweenStatAndOpen = func() {
		require.NoError(t, os.Remove(link))
		require.NoError(t, os.Symlink(fifo, link))
	}
	t.Cleanup(func() { betweenStatAndOpen = real })

	done := make(chan error, 1)
	go func() {
		_, err := Install(context.Background(), Policy{Dirs: []string{dir}},
			daemoncontract.InstallConfig{BinaryName: "queen-rbee", BinaryPath: &link, TargetPath: &dir})
		done <- err
	}()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, ErrNotRegular)
	case <-time.After(30 * time.Second): // a bound on a hang, not a measure
		t.Fatal("Install blocks on a FIFO swapped in after the stat")
	}
	names, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, names, "nothing is written")
}

func TestInstallNeverOpensASourceSwappedForAFIFOAfterItsStat(t *testing.T) {
	// The README: "a directory, a device, a FIFO or a socket is refused
	// before it is opened (a FIFO does not block, a device is never
	// read)". The sender chooses binary_path, and so the directory it is
	// in: between stat(2) and open(2), it swaps the symlink for one to a
	// FIFO on which a writer waits. Opening the FIFO to read lets the
	// writer through (fifo(7)), and closing it again leaves the writer
	// with EPIPE or SIGPIPE; opening a device runs its driver (a
	// watchdog is armed by an open). The package opens names it has not
	// checked with O_PATH (see oPath) for this reason; the source must be
	// opened so too, and checked before it is opened to read.
	root := t.TempDir()
	dir := filepath.Join(root, "bin")
	require.NoError(t, os.Mkdir(dir, 0o755))
	regular, fifo, link := filepath.Join(root, "regular"), filepath.Join(root, "fifo"), filepath.Join(root, "source")
	require.NoError(t, os.WriteFile(regular, []byte("a binary"), 0o755))
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	require.NoError(t, os.Symlink(regular, link))
	// inotify(7) queues IN_OPEN before open(2) returns: what Install
	// opened is known once it has returned.
	in, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	require.NoError(t, err)
	defer syscall.Close(in)
	_, err = syscall.InotifyAddWatch(in, fifo, syscall.IN_OPEN)
	require.NoError(t, err)
	real := betweenStatAndOpen
	betweenStatAndOpen = func() {
		require.NoError(t, os.Remove(link))
		require.NoError(t, os.Symlink(fifo, link))
	}
	t.Cleanup(func() { betweenStatAndOpen = real })

	_, err = Install(context.Background(), Policy{Dirs: []string{dir}},
		daemoncontract.InstallConfig{BinaryName: "queen-rbee", BinaryPath: &link, TargetPath: &dir})
	assert.ErrorIs(t, err, ErrNotRegular)
	buf := make([]byte, 4096)
	n, err := syscall.Read(in, buf)
	assert.ErrorIs(t, err, syscall.EAGAIN, "the FIFO was opened (%d bytes of inotify events)", n)
	names, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, names, "nothing is written")
}
