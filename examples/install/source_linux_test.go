package install_test

// Install's source: only a regular file of stored bytes is read.

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rbee-keeper/daemoncontract"
	"github.com/rbee-keeper/daemoncontract/examples/install"
	"github.com/rbee-keeper/daemoncontract/internal/testenv"
)

func TestInstallRefusesASourceThatIsNotARegularFileBeforeOpeningIt(t *testing.T) {
	dir := newDir(t, "bin")
	p := install.Policy{Dirs: []string{dir}}
	srcDir := newDir(t, "sources")
	// A deadline bounds the damage should a device ever be copied.
	ctx := func(t *testing.T) context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		t.Cleanup(cancel)
		return ctx
	}

	t.Run("a FIFO, with a writer waiting", func(t *testing.T) {
		fifo := filepath.Join(srcDir, "fifo")
		payload := []byte("what a writer sends")
		drain := fifoWithWriter(t, fifo, payload)
		before := snapshot(t, dir)
		w := watch(t, fifo)
		_, err := install.Install(ctx(t), p, config(fifo, dir))
		assert.ErrorIs(t, err, install.ErrNotRegular)
		assert.Empty(t, w.events(t), "the FIFO is never opened")
		assert.Equal(t, before, snapshot(t, dir), "nothing is written")
		assert.Equal(t, payload, drain(), "the writer was still waiting: no one opened the FIFO")
	})
	t.Run("a FIFO without a writer does not block", func(t *testing.T) {
		fifo := filepath.Join(srcDir, "lonely-fifo")
		require.NoError(t, syscall.Mkfifo(fifo, 0o644))
		err := returns(t, func() error { _, err := install.Install(context.Background(), p, config(fifo, dir)); return err })
		assert.ErrorIs(t, err, install.ErrNotRegular)
	})
	t.Run("a character device made with mknod", func(t *testing.T) {
		dev := filepath.Join(srcDir, "null")
		mknodNull(t, dev)
		before := snapshot(t, dir)
		w := watch(t, dev)
		_, err := install.Install(ctx(t), p, config(dev, dir))
		assert.ErrorIs(t, err, install.ErrNotRegular)
		assert.Empty(t, w.events(t), "the device is never opened")
		assert.Equal(t, before, snapshot(t, dir), "nothing is written")
	})
	t.Run("a directory", func(t *testing.T) {
		before := snapshot(t, dir)
		_, err := install.Install(ctx(t), p, config(srcDir, dir))
		assert.ErrorIs(t, err, install.ErrNotRegular)
		assert.Equal(t, before, snapshot(t, dir))
	})
	t.Run("a socket", func(t *testing.T) {
		sock := filepath.Join(srcDir, "sock")
		ln, err := net.Listen("unix", sock)
		require.NoError(t, err)
		defer ln.Close()
		before := snapshot(t, dir)
		_, err = install.Install(ctx(t), p, config(sock, dir))
		assert.ErrorIs(t, err, install.ErrNotRegular)
		assert.Equal(t, before, snapshot(t, dir))
	})
	for _, target := range []string{"/dev/zero", "/proc/self/environ"} {
		t.Run("a symlink to "+target, func(t *testing.T) {
			// Validate does not see through a symlink: the installer
			// itself refuses a device, and a pseudo-file of /proc.
			link := filepath.Join(srcDir, filepath.Base(target))
			require.NoError(t, os.Symlink(target, link))
			before := snapshot(t, dir)
			_, err := install.Install(ctx(t), p, config(link, dir))
			assert.ErrorIs(t, err, install.ErrNotRegular)
			assert.Equal(t, before, snapshot(t, dir))
		})
		t.Run(target+" itself", func(t *testing.T) {
			// Validate may refuse the path before the installer looks.
			before := snapshot(t, dir)
			_, err := install.Install(ctx(t), p, config(target, dir))
			assert.True(t, errors.Is(err, daemoncontract.ErrInvalidValue) || errors.Is(err, install.ErrNotRegular), "%v", err)
			assert.Equal(t, before, snapshot(t, dir))
		})
	}
	t.Run("a symlink to a file of /sys", func(t *testing.T) {
		var sysFile string
		files, _ := filepath.Glob("/sys/kernel/*")
		for _, f := range files {
			if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o444 != 0 {
				sysFile = f
				break
			}
		}
		if sysFile == "" {
			testenv.Skipf(t, "no readable file under /sys/kernel: is sysfs mounted?")
		}
		link := filepath.Join(srcDir, "sys")
		require.NoError(t, os.Symlink(sysFile, link))
		before := snapshot(t, dir)
		_, err := install.Install(ctx(t), p, config(link, dir))
		assert.ErrorIs(t, err, install.ErrNotRegular, sysFile)
		assert.Equal(t, before, snapshot(t, dir))
	})
	t.Run("an absent file", func(t *testing.T) {
		before := snapshot(t, dir)
		_, err := install.Install(ctx(t), p, config(filepath.Join(srcDir, "absent"), dir))
		assert.ErrorIs(t, err, fs.ErrNotExist)
		assert.Equal(t, before, snapshot(t, dir))
	})
}

func TestInstallFollowsASymlinkToARegularSource(t *testing.T) {
	dir := newDir(t, "bin")
	data := randomBytes(5000, 4)
	link := filepath.Join(newDir(t, "links"), "current")
	require.NoError(t, os.Symlink(source(t, data), link))
	r, err := install.Install(context.Background(), install.Policy{Dirs: []string{dir}}, config(link, dir))
	require.NoError(t, err)
	assert.Equal(t, new(sum(data)), r.SHA256)
	assert.Equal(t, sum(data), hashFile(r.BinaryPath))
	fi, err := os.Lstat(r.BinaryPath)
	require.NoError(t, err)
	assert.True(t, fi.Mode().IsRegular(), "a copy, not a symlink")
}

func TestInstallRefusesASourceSwappedForAFIFOAfterItsStat(t *testing.T) {
	// The source is a symlink to a regular file when stat(2) looks, and to
	// a FIFO without a writer when the file is opened: the open does not
	// block (O_PATH opens nothing), and fstat(2) on the descriptor refuses
	// it.
	root := t.TempDir()
	dir := filepath.Join(root, "bin")
	require.NoError(t, os.Mkdir(dir, 0o755))
	regular, fifo, link := filepath.Join(root, "regular"), filepath.Join(root, "fifo"), filepath.Join(root, "source")
	require.NoError(t, os.WriteFile(regular, []byte("a binary"), 0o755))
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	require.NoError(t, os.Symlink(regular, link))
	install.At(t, func(p install.Point) {
		if p == install.SourceStatted {
			require.NoError(t, os.Remove(link))
			require.NoError(t, os.Symlink(fifo, link))
		}
	})

	done := make(chan error, 1)
	go func() {
		_, err := install.Install(context.Background(), install.Policy{Dirs: []string{dir}},
			daemoncontract.InstallConfig{BinaryName: "queen-rbee", BinaryPath: &link, TargetPath: &dir})
		done <- err
	}()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, install.ErrNotRegular)
	case <-time.After(30 * time.Second): // a bound on a hang, not a measure
		t.Fatal("Install blocks on a FIFO swapped in after the stat")
	}
	names, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, names, "nothing is written")
}

func TestInstallNeverOpensASourceSwappedForAFIFOOrADeviceAfterItsStat(t *testing.T) {
	// The README: "a directory, a device, a FIFO or a socket is refused
	// before it is opened to read". The sender chooses binary_path, and so
	// the directory it is in: between stat(2) and open(2), it swaps the
	// symlink for one to a FIFO on which a writer waits, or to a device.
	// Opening the FIFO to read lets the writer through (fifo(7)), and
	// closing it again leaves the writer with EPIPE or SIGPIPE; opening a
	// device runs its driver (a watchdog is armed by an open). The source is
	// opened with O_PATH, which opens nothing, and checked, before it is
	// opened to read.
	for _, tt := range []struct {
		name string
		make func(t *testing.T, path string) (check func())
	}{
		{"a FIFO, with a writer waiting", func(t *testing.T, path string) func() {
			payload := []byte("what a writer sends")
			drain := fifoWithWriter(t, path, payload)
			return func() { assert.Equal(t, payload, drain(), "the writer was still waiting: no one opened the FIFO") }
		}},
		{"a character device made with mknod", func(t *testing.T, path string) func() {
			mknodNull(t, path)
			return func() {}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir, srcDir := newDir(t, "bin"), newDir(t, "sources")
			special, link := filepath.Join(srcDir, "special"), filepath.Join(srcDir, daemon)
			check := tt.make(t, special)
			require.NoError(t, os.Symlink(source(t, randomBytes(100, 28)), link))
			// inotify(7) queues IN_OPEN before open(2) returns: what
			// Install opened is known once it has returned.
			w := watch(t, special)
			install.At(t, func(p install.Point) {
				if p == install.SourceStatted {
					require.NoError(t, os.Remove(link))
					require.NoError(t, os.Symlink(special, link))
				}
			})
			before := snapshot(t, dir)
			err := returns(t, func() error {
				_, err := install.Install(context.Background(), install.Policy{Dirs: []string{dir}}, config(link, dir))
				return err
			})
			assert.ErrorIs(t, err, install.ErrNotRegular)
			assert.Empty(t, w.events(t), "never opened")
			assert.Equal(t, before, snapshot(t, dir), "nothing is written")
			check()
		})
	}
}

func TestInstallRefusesAFileOfAnyKernelPseudoFileSystem(t *testing.T) {
	// "A pseudo-file of the kernel's (/proc, /sys and the like), whose bytes
	// are the kernel's state, is ErrNotRegular too"; the README: "and so is
	// a file of /proc, /sys and the kernel's other pseudo file systems,
	// even behind a symlink". stat(2) calls these files regular.
	t.Run("nsfs: a namespace, /proc/self/ns/net", func(t *testing.T) {
		dir := newDir(t, "bin")
		link := filepath.Join(newDir(t, "src"), daemon)
		require.NoError(t, os.Symlink("/proc/self/ns/net", link))
		before := snapshot(t, dir)
		_, err := install.Install(context.Background(), install.Policy{Dirs: []string{dir}}, config(link, dir))
		assert.ErrorIs(t, err, install.ErrNotRegular)
		assert.ErrorContains(t, err, "nsfs", "the error names the file system")
		assert.Equal(t, withoutDirTimes(before), withoutDirTimes(snapshot(t, dir)), "nothing is written")
	})
	for _, fsys := range []struct{ fstype, file string }{
		// mq_overview(7): mounted at /dev/mqueue on most systems; a file
		// created in it is a message queue, and reading it gives the
		// queue's state ("QSIZE:0 NOTIFY:0 ...").
		{"mqueue", "queue"},
		// binfmt_misc: mounted at /proc/sys/fs/binfmt_misc on most systems;
		// "status" reads "enabled".
		{"binfmt_misc", "status"},
		// And three the list had before the review: a new mount of each
		// has a file to read.
		{"tracefs", "README"},
		{"securityfs", "lsm"},
		{"cgroup2", "cgroup.procs"},
	} {
		t.Run(fsys.fstype, func(t *testing.T) {
			dir, mnt := newDir(t, "bin"), newDir(t, fsys.fstype)
			inPrivateMount(t, fsys.fstype, mnt)
			file := filepath.Join(mnt, fsys.file)
			if _, err := os.Stat(file); err != nil {
				f, err := os.Create(file)
				require.NoError(t, err)
				require.NoError(t, f.Close())
			}
			link := filepath.Join(newDir(t, "src"), daemon)
			require.NoError(t, os.Symlink(file, link))
			before := snapshot(t, dir)
			_, err := install.Install(context.Background(), install.Policy{Dirs: []string{dir}}, config(link, dir))
			assert.ErrorIs(t, err, install.ErrNotRegular)
			assert.ErrorContains(t, err, "file of "+fsys.fstype+" ", "the error names the file system")
			assert.Equal(t, withoutDirTimes(before), withoutDirTimes(snapshot(t, dir)), "nothing is written")
		})
	}
}

// inPrivateMount mounts a file system of type fstype on mnt, in a new mount
// namespace of the calling thread only (unshare(2) CLONE_NEWNS), and
// unmounts it when the test ends. It locks the calling goroutine, which
// must be the one running t, to its thread for good: the runtime ends the
// thread, and the namespace with it, when the test's goroutine ends. It
// skips, or fails under requireNamespaces, where it may not.
func inPrivateMount(t *testing.T, fstype, mnt string) {
	t.Helper()
	runtime.LockOSThread() // never unlocked (see above)
	if err := syscall.Unshare(syscall.CLONE_NEWNS); err != nil {
		testenv.Skipf(t, "cannot make a mount namespace (unshare needs CAP_SYS_ADMIN): %v", err)
	}
	require.NoError(t, syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""))
	if err := syscall.Mount("none", mnt, fstype, 0, ""); err != nil {
		testenv.Skipf(t, "cannot mount %s: %v", fstype, err)
	}
	t.Cleanup(func() { require.NoError(t, syscall.Unmount(mnt, 0)) })
}
