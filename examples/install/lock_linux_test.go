package install_test

// Install and Uninstall take turns in a directory: an old receipt never
// removes the binary that a concurrent Install wrote.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rbee-keeper/daemoncontract/examples/install"
)

func TestAnOldReceiptNeverRemovesTheBinaryThatAConcurrentInstallWrote(t *testing.T) {
	// "An old receipt does not remove an upgraded binary", and the README's
	// advice, "Keep the policy's directories writable by the keeper
	// alone": the keeper itself, serving two requests at once, upgrades the
	// daemon (Install) while it uninstalls it with the old receipt. Here
	// the two are put in the one order that loses the new binary, on
	// purpose: Uninstall has made its last check, and before its
	// unlinkat(2), an Install of the new binary runs. The Install must wait
	// for the Uninstall (the directory's lock); had its rename come
	// between the check and the unlink, the unlink would remove the new
	// binary, and Install would return a receipt for a file that is gone.
	dir := newDir(t, "bin")
	p := install.Policy{Dirs: []string{dir}}
	v1, v2 := randomBytes(5000, 40), randomBytes(6000, 41)
	old := installed(t, dir, v1)
	src := source(t, v2)

	installDone := make(chan error, 1)
	installWaits := make(chan struct{})
	var waits, starts sync.Once
	install.At(t, func(at install.Point) {
		switch at {
		case install.LockBusy: // the Install, on its goroutine
			waits.Do(func() { close(installWaits) })
		case install.UninstallUnlinking:
			starts.Do(func() {
				go func() {
					_, err := install.Install(context.Background(), p, config(src, dir))
					installDone <- err
				}()
				// The Install has either renamed the new binary into place
				// (then the unlink comes after it), or it waits for the
				// lock this Uninstall holds.
				select {
				case err := <-installDone:
					installDone <- err
				case <-installWaits:
				}
			})
		}
	})

	require.NoError(t, install.Uninstall(context.Background(), p, removal(dir), old), "the old binary was there, unchanged, at the last check")
	require.NoError(t, <-installDone)
	assert.Equal(t, sum(v2), hashFile(filepath.Join(dir, daemon)), "the new binary is in place")
	assert.Equal(t, []string{daemon}, entries(t, dir))
}

func TestInstallAndUninstallWaitForTheDirectoryLockOfAnotherProcess(t *testing.T) {
	// The lock is flock(2) on the directory: a keeper in another process
	// that holds it makes both wait, until it lets go or their context
	// ends. A call that gives up changes nothing.
	dir := newDir(t, "bin")
	p := install.Policy{Dirs: []string{dir}}
	v1, v2 := randomBytes(3000, 42), randomBytes(4000, 43)
	r := installed(t, dir, v1)
	exe, err := os.Executable()
	require.NoError(t, err)
	t.Setenv(lockDir, dir)
	holder := startHelper(t, exe, "lock")
	before := snapshot(t, dir)

	// Each call waits until it has found the lock held; then its context
	// ends.
	givingUp := func() context.Context {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		install.At(t, func(at install.Point) {
			if at == install.LockBusy {
				cancel()
			}
		})
		return ctx
	}
	_, err = install.Install(givingUp(), p, config(source(t, v2), dir))
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, withoutDirTimes(before), withoutDirTimes(snapshot(t, dir)), "no temporary file is left, and the old binary is as it was")
	before = snapshot(t, dir)
	err = install.Uninstall(givingUp(), p, removal(dir), r)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, before, snapshot(t, dir), "the binary is kept")

	holder.stop(t) // its lock goes with it
	install.At(t, func(install.Point) {})
	require.NoError(t, install.Uninstall(context.Background(), p, removal(dir), r))
	assert.Empty(t, entries(t, dir))
}

func TestInstallAndUninstallRacingInOneDirectoryTakeTurns(t *testing.T) {
	// The test above makes the one bad order; this one lets the scheduler
	// choose, round after round: an Install of a new binary and an
	// Uninstall with the old receipt start together. Either the old binary
	// goes and the new one stays, or Uninstall refuses (the new one came
	// first); never may both succeed and leave no binary.
	//
	// Each round starts the Install a little later when Uninstall refused
	// and a little earlier when Uninstall won, so the rounds close in on
	// the window between Uninstall's last check and its unlink; and
	// Uninstall yields a few times in that window, so that it is wider than
	// a system call. The directory is a tmpfs, where an fsync costs
	// nothing. Without the directory's lock, 7 runs of these 100 rounds
	// under -race lost the new binary 12 to 35 times each.
	const rounds, widen = 100, 5
	dir := filepath.Join(tmpfsDir(t), "bin")
	require.NoError(t, os.Mkdir(dir, 0o755))
	p := install.Policy{Dirs: []string{dir}}
	v1, v2 := source(t, []byte("version 1")), source(t, []byte("version 2"))
	target := filepath.Join(dir, daemon)
	// How often the Install yields (runtime.Gosched) before it starts, or,
	// below zero, the Uninstall.
	spin := 0
	yield := func(n int) {
		for range n {
			runtime.Gosched()
		}
	}
	// And Uninstall yields widen times between its last check and its
	// unlink.
	install.At(t, func(at install.Point) {
		if at == install.UninstallUnlinking {
			yield(widen)
		}
	})
	outcomes := map[string]int{}
	for range rounds {
		old, err := install.Install(context.Background(), p, config(v1, dir))
		require.NoError(t, err)
		var installErr error
		var wg sync.WaitGroup
		wg.Go(func() {
			yield(spin)
			_, installErr = install.Install(context.Background(), p, config(v2, dir))
		})
		yield(-spin)
		uninstallErr := install.Uninstall(context.Background(), p, removal(dir), old)
		wg.Wait()
		require.NoError(t, installErr)
		_, statErr := os.Lstat(target)
		switch {
		case uninstallErr == nil && errors.Is(statErr, fs.ErrNotExist):
			outcomes["the old receipt removed the new binary"]++
		case uninstallErr == nil:
			require.NoError(t, statErr)
			outcomes["the old binary removed, the new one kept"]++
			spin -= 1 + abs(spin)/50
		default:
			require.ErrorIs(t, uninstallErr, install.ErrNotOurs)
			outcomes["refused: the new binary came first"]++
			spin += 1 + abs(spin)/50
		}
		require.NoError(t, os.RemoveAll(target))
	}
	t.Logf("%d rounds: %v", rounds, outcomes)
	assert.Zero(t, outcomes["the old receipt removed the new binary"], fmt.Sprint(outcomes))
}

func abs(n int) int { return max(n, -n) }

// tmpfsDir returns a directory on a tmpfs, removed when the test ends: a
// symlink in the test's temporary directory to a new directory in
// /dev/shm. (Validate refuses a target_path under /dev; a symlink in a
// policy directory's path is followed, as the package documents.) Where
// /dev/shm is not a tmpfs, it returns the test's temporary directory.
func tmpfsDir(t *testing.T) string {
	t.Helper()
	const tmpfsMagic = 0x01021994 // statfs(2), include/uapi/linux/magic.h
	var st syscall.Statfs_t
	if err := syscall.Statfs("/dev/shm", &st); err != nil || st.Type != tmpfsMagic {
		t.Logf("/dev/shm is not a tmpfs (%v): the test's temporary directory is used", err)
		return t.TempDir()
	}
	shm, err := os.MkdirTemp("/dev/shm", "install-test-")
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, os.RemoveAll(shm)) })
	link := filepath.Join(t.TempDir(), "tmpfs")
	require.NoError(t, os.Symlink(shm, link))
	return link
}
