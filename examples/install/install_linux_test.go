package install_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rbee-keeper/daemoncontract"
	"github.com/rbee-keeper/daemoncontract/examples/install"
	"github.com/rbee-keeper/daemoncontract/internal/testenv"
)

// Install

func TestInstallWritesTheBinaryWithMode0755AndReturnsItsReceipt(t *testing.T) {
	// A umask that would take every bit but the owner's from a mode given
	// at creation: 0755 must come from fchmod.
	old := syscall.Umask(0o077)
	t.Cleanup(func() { syscall.Umask(old) })
	dir, other := newDir(t, "bin"), newDir(t, "other")
	data := randomBytes(3<<20+17, 1)
	src := source(t, data)

	before := time.Now()
	r, err := install.Install(context.Background(), install.Policy{Dirs: []string{other, dir}}, config(src, dir))
	after := time.Now()
	require.NoError(t, err)

	target := filepath.Join(dir, daemon)
	assert.Equal(t, target, r.BinaryPath)
	require.NotNil(t, r.SHA256)
	assert.Equal(t, sum(data), *r.SHA256, "the hash of the source's bytes")
	assert.Zero(t, r.InstallTime.Nanosecond(), "whole seconds")
	assert.Equal(t, time.UTC, r.InstallTime.Location())
	assert.False(t, r.InstallTime.Before(before.Truncate(time.Second)), "%v before %v", r.InstallTime, before)
	assert.False(t, r.InstallTime.After(after), "%v after %v", r.InstallTime, after)
	assert.NoError(t, r.Validate())

	got, err := os.ReadFile(target)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(data, got), "the installed bytes are the source's")
	fi, err := os.Lstat(target)
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o755), fi.Mode(), "a regular file, mode 0755 whatever the umask")
	assert.Equal(t, []string{daemon}, entries(t, dir), "no temporary file is left")
	assert.Empty(t, entries(t, other))

	// The receipt is a message: it goes over the wire and back unchanged.
	b, err := json.Marshal(r)
	require.NoError(t, err)
	var back daemoncontract.InstallResult
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, r, back)
}

func TestInstallDefaultsToThePolicysFirstDirectory(t *testing.T) {
	first, second := newDir(t, "first"), newDir(t, "second")
	data := randomBytes(1000, 2)
	src := source(t, data)
	cfg := config(src, first)
	cfg.TargetPath = nil

	r, err := install.Install(context.Background(), install.Policy{Dirs: []string{first, second}}, cfg)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(first, daemon), r.BinaryPath)
	assert.Equal(t, sum(data), hashFile(r.BinaryPath))
	assert.Empty(t, entries(t, second))
}

func TestInstallRequiresABinaryPath(t *testing.T) {
	dir := newDir(t, "bin")
	before := snapshot(t, dir)
	_, err := install.Install(context.Background(), install.Policy{Dirs: []string{dir}},
		daemoncontract.InstallConfig{BinaryName: daemon, TargetPath: &dir})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "binary_path is required: this installer finds no binary by itself")
	assert.Equal(t, before, snapshot(t, dir))
}

func TestInstallAllowsOnlyThePolicysDirectoriesAsWritten(t *testing.T) {
	root := t.TempDir()
	allowed := filepath.Join(root, "allowed")
	sub := filepath.Join(allowed, "sub")
	evil := filepath.Join(root, "allowed-evil")
	link := filepath.Join(root, "link-to-allowed")
	elsewhere := newDir(t, "elsewhere")
	for _, d := range []string{allowed, sub, evil} {
		require.NoError(t, os.MkdirAll(d, 0o755))
	}
	require.NoError(t, os.Symlink(allowed, link))
	src := source(t, randomBytes(100, 3))
	p := install.Policy{Dirs: []string{allowed}}

	for _, tt := range []struct{ name, dir string }{
		{"a name that starts with the allowed one", evil},
		{"a subdirectory", sub},
		{"the parent", root},
		{"a symlink to the allowed directory", link},
		{"another directory", elsewhere},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := snapshot(t, root, elsewhere)
			_, err := install.Install(context.Background(), p, config(src, tt.dir))
			assert.ErrorIs(t, err, install.ErrNotAllowed)
			assert.Equal(t, before, snapshot(t, root, elsewhere), "nothing is written anywhere")
		})
	}
	for _, tt := range []struct {
		name string
		p    install.Policy
	}{
		{"no directory", install.Policy{}},
		{"a relative directory", install.Policy{Dirs: []string{allowed, "bin"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := snapshot(t, root)
			_, err := install.Install(context.Background(), tt.p, config(src, allowed))
			assert.ErrorIs(t, err, install.ErrNotAllowed)
			assert.Equal(t, before, snapshot(t, root))
		})
	}
	t.Run("an allowed directory that does not exist", func(t *testing.T) {
		absent := filepath.Join(root, "absent")
		before := snapshot(t, root)
		_, err := install.Install(context.Background(), install.Policy{Dirs: []string{absent}}, config(src, absent))
		assert.ErrorIs(t, err, fs.ErrNotExist)
		assert.Equal(t, before, snapshot(t, root), "nothing is created")
	})
	t.Run("a first directory, the default, that breaks InstallConfig's rules", func(t *testing.T) {
		bad := filepath.Join(root, "new\nline")
		cfg := config(src, allowed)
		cfg.TargetPath = nil
		before := snapshot(t, root)
		_, err := install.Install(context.Background(), install.Policy{Dirs: []string{bad, allowed}}, cfg)
		var fe *daemoncontract.FieldError
		require.ErrorAs(t, err, &fe)
		assert.Equal(t, "target_path", fe.Field)
		assert.Equal(t, before, snapshot(t, root))
	})
	t.Run("the allowed directory written with a trailing slash", func(t *testing.T) {
		r, err := install.Install(context.Background(), install.Policy{Dirs: []string{allowed + "/"}}, config(src, allowed))
		require.NoError(t, err)
		assert.Equal(t, filepath.Join(allowed, daemon), r.BinaryPath)
	})
}

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

func TestInstallReplacesASymlinkAtTheTargetNeverWritingThroughIt(t *testing.T) {
	dir, victims := newDir(t, "bin"), newDir(t, "victims")
	victim := filepath.Join(victims, "passwd")
	writeFile(t, victim, []byte("root:x:0:0::/root:/bin/sh\n"), 0o644)
	target := filepath.Join(dir, daemon)
	require.NoError(t, os.Symlink(victim, target))
	data := randomBytes(4096, 5)
	src := source(t, data)

	before := snapshot(t, victims)
	w := watch(t, victim)
	r, err := install.Install(context.Background(), install.Policy{Dirs: []string{dir}}, config(src, dir))
	require.NoError(t, err)
	assert.Empty(t, w.events(t), "the file the symlink pointed to is never opened")
	assert.Equal(t, before, snapshot(t, victims), "the victim is unchanged")

	fi, err := os.Lstat(target)
	require.NoError(t, err)
	assert.True(t, fi.Mode().IsRegular(), "the symlink is replaced by the binary")
	assert.Equal(t, sum(data), hashFile(target))
	assert.Equal(t, new(sum(data)), r.SHA256)
}

func TestInstallReplacesAHardLinkAndTheOtherNameKeepsItsBytes(t *testing.T) {
	dir, victims := newDir(t, "bin"), newDir(t, "victims")
	victim := filepath.Join(victims, "victim")
	writeFile(t, victim, []byte("someone else's bytes"), 0o644)
	target := filepath.Join(dir, daemon)
	require.NoError(t, os.Link(victim, target))
	victimIno := snapshot(t, victim)[victim].Ino
	data := randomBytes(4096, 6)

	w := watch(t, victim)
	_, err := install.Install(context.Background(), install.Policy{Dirs: []string{dir}}, config(source(t, data), dir))
	require.NoError(t, err)
	assert.NotContains(t, w.events(t), "written")
	after := snapshot(t, victim, target)
	assert.Equal(t, sum([]byte("someone else's bytes")), after[victim].Sum)
	assert.Equal(t, victimIno, after[victim].Ino)
	assert.Equal(t, uint64(1), after[victim].Nlink, "the target's name no longer links to it")
	assert.NotEqual(t, victimIno, after[target].Ino)
	assert.Equal(t, sum(data), after[target].Sum)
}

func TestInstallRefusesADirectoryOrASpecialFileAtTheTarget(t *testing.T) {
	src := source(t, randomBytes(100, 7))
	t.Run("a directory", func(t *testing.T) {
		dir := newDir(t, "bin")
		target := filepath.Join(dir, daemon)
		require.NoError(t, os.Mkdir(target, 0o755))
		writeFile(t, filepath.Join(target, "inside"), []byte("kept"), 0o644)
		before := snapshot(t, dir)
		_, err := install.Install(context.Background(), install.Policy{Dirs: []string{dir}}, config(src, dir))
		assert.ErrorIs(t, err, install.ErrNotRegular)
		assert.Equal(t, before, snapshot(t, dir))
	})
	t.Run("a FIFO", func(t *testing.T) {
		dir := newDir(t, "bin")
		target := filepath.Join(dir, daemon)
		require.NoError(t, syscall.Mkfifo(target, 0o644))
		before := snapshot(t, dir)
		w := watch(t, target)
		err := returns(t, func() error {
			_, err := install.Install(context.Background(), install.Policy{Dirs: []string{dir}}, config(src, dir))
			return err
		})
		assert.ErrorIs(t, err, install.ErrNotRegular)
		assert.Empty(t, w.events(t), "never opened")
		assert.Equal(t, before, snapshot(t, dir))
	})
}

func TestInstallReplacesTheBinaryAtomicallyForAConcurrentReader(t *testing.T) {
	const size = 64 << 20
	oldData, newData := randomBytes(size, 8), randomBytes(size, 9)
	oldSum, newSum := sum(oldData), sum(newData)
	dir := newDir(t, "bin")
	target := filepath.Join(dir, daemon)
	writeFile(t, target, oldData, 0o755)
	src := source(t, newData)
	newData = nil

	// A reader hashes the target over and over, from before Install starts
	// until it has seen something other than the old binary after Install
	// returned.
	var mu sync.Mutex
	seen := map[string]int{}
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			h := hashFile(target)
			mu.Lock()
			seen[h]++
			mu.Unlock()
			select {
			case <-stop:
				if h != oldSum {
					return
				}
			default:
			}
		}
	}()
	// And while the copy is under way (a temporary file holds part of the
	// new binary), the test reads the target itself, at known points.
	var midCopy []string
	calls := 0
	ctx := countingContext{context.Background(), func() {
		calls++
		if calls%16 == 3 && len(temporaryFiles(t, dir)) == 1 {
			midCopy = append(midCopy, hashFile(target))
		}
	}}

	r, err := install.Install(ctx, install.Policy{Dirs: []string{dir}}, config(src, dir))
	close(stop)
	<-stopped
	require.NoError(t, err)
	assert.Equal(t, new(newSum), r.SHA256)

	t.Logf("the reader hashed the target %d times: %d old, %d new; %d reads in mid-copy", seen[oldSum]+seen[newSum], seen[oldSum], seen[newSum], len(midCopy))
	for h := range seen {
		assert.Contains(t, []string{oldSum, newSum}, h, "a reader saw neither the old nor the new binary")
	}
	require.NotEmpty(t, midCopy, "the target was read while the copy was under way")
	for _, h := range midCopy {
		assert.Equal(t, oldSum, h, "mid-copy, the target is the old binary, whole")
	}
	assert.Equal(t, newSum, hashFile(target))
	assert.Equal(t, []string{daemon}, entries(t, dir))
}

func TestInstallCancelledMidCopyLeavesTheOldBinaryAndNoTemporaryFile(t *testing.T) {
	// With no umask, what the temporary file's mode at creation is shows.
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })
	dir := newDir(t, "bin")
	oldData := randomBytes(1<<20, 10)
	writeFile(t, filepath.Join(dir, daemon), oldData, 0o755)
	src := source(t, randomBytes(8<<20, 11))
	before := snapshot(t, dir, src)

	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	var atCancel []int64
	var tempMode fs.FileMode
	ctx := countingContext{parent, func() {
		// Cancel once the temporary file holds part of the new binary.
		if sizes := temporaryFiles(t, dir); atCancel == nil && len(sizes) == 1 && sizes[0] > 0 {
			atCancel = sizes
			for path, st := range snapshot(t, dir) {
				if filepath.Base(path) != daemon && !st.Mode.IsDir() {
					tempMode = st.Mode
				}
			}
			cancel()
		}
	}}
	_, err := install.Install(ctx, install.Policy{Dirs: []string{dir}}, config(src, dir))
	assert.ErrorIs(t, err, context.Canceled)
	require.Len(t, atCancel, 1, "cancelled in the middle of the copy")
	assert.Less(t, atCancel[0], int64(8<<20), "cancelled in the middle of the copy")
	assert.Equal(t, fs.FileMode(0o600), tempMode, "a partial binary is readable by its owner only, and executable by no one")
	assert.Equal(t, withoutDirTimes(before), withoutDirTimes(snapshot(t, dir, src)), "the old binary is intact, and no temporary file is left")
	assert.Equal(t, []string{daemon}, entries(t, dir))

	t.Run("a context cancelled before the call", func(t *testing.T) {
		before := snapshot(t, dir)
		_, err := install.Install(parent, install.Policy{Dirs: []string{dir}}, config(src, dir))
		assert.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, before, snapshot(t, dir))
	})
}

func TestInstallLeavesNoTemporaryFileWhenTheRenameFails(t *testing.T) {
	// While the copy is under way, someone puts a directory where the old
	// binary was: the rename fails, and the temporary file goes.
	dir := newDir(t, "bin")
	target := filepath.Join(dir, daemon)
	writeFile(t, target, []byte("old"), 0o755)
	src := source(t, randomBytes(3<<20, 22))
	ctx := countingContext{context.Background(), func() {
		if len(temporaryFiles(t, dir)) == 1 {
			if fi, err := os.Lstat(target); err == nil && !fi.IsDir() {
				require.NoError(t, os.Remove(target))
				require.NoError(t, os.Mkdir(target, 0o755))
				writeFile(t, filepath.Join(target, "inside"), []byte("kept"), 0o644)
			}
		}
	}}
	_, err := install.Install(ctx, install.Policy{Dirs: []string{dir}}, config(src, dir))
	assert.ErrorIs(t, err, syscall.EISDIR)
	assert.Equal(t, []string{daemon}, entries(t, dir), "no temporary file is left")
	assert.Equal(t, []string{"inside"}, entries(t, target), "the directory is untouched")
}

func TestInstallValidatesTheConfigFirst(t *testing.T) {
	// An invalid name, a directory outside the policy and a FIFO source:
	// the config's error comes first, and nothing is looked at.
	dir, outside := newDir(t, "bin"), newDir(t, "outside")
	fifo := filepath.Join(newDir(t, "sources"), "fifo")
	drain := fifoWithWriter(t, fifo, []byte("x"))
	before := snapshot(t, dir, outside)
	w := watch(t, fifo)
	cfg := config(fifo, outside)
	cfg.BinaryName = "../" + daemon
	_, err := install.Install(context.Background(), install.Policy{Dirs: []string{dir}}, cfg)
	var fe *daemoncontract.FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "binary_name", fe.Field)
	assert.NotErrorIs(t, err, install.ErrNotAllowed)
	assert.NotErrorIs(t, err, install.ErrNotRegular)
	assert.Empty(t, w.events(t))
	assert.Equal(t, before, snapshot(t, dir, outside))
	assert.Equal(t, []byte("x"), drain())
}

// Uninstall

// installed installs data into dir, and returns the receipt.
func installed(t *testing.T, dir string, data []byte) daemoncontract.InstallResult {
	t.Helper()
	r, err := install.Install(context.Background(), install.Policy{Dirs: []string{dir}}, config(source(t, data), dir))
	require.NoError(t, err)
	return r
}

func TestUninstallRemovesTheBinaryItInstalled(t *testing.T) {
	dir := newDir(t, "bin")
	r := installed(t, dir, randomBytes(2<<20+3, 12))
	require.Equal(t, []string{daemon}, entries(t, dir))
	require.NoError(t, install.Uninstall(context.Background(), install.Policy{Dirs: []string{dir}}, removal(dir), r))
	assert.Empty(t, entries(t, dir))
}

func TestUninstallThatRefusesLeavesEvenTheAccessTime(t *testing.T) {
	// The receipt's hash is another file's: Uninstall reads the whole file,
	// and refuses. The file's access time, which relatime (mount(8)) moves
	// on a read once it is a day old, stays where the test put it.
	dir := newDir(t, "bin")
	r := installed(t, dir, randomBytes(1<<20, 24))
	target := filepath.Join(dir, daemon)
	atime, mtime := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	require.NoError(t, os.Chtimes(target, atime, mtime))
	r.SHA256 = new(sum([]byte("another file")))
	assert.ErrorIs(t, install.Uninstall(context.Background(), install.Policy{Dirs: []string{dir}}, removal(dir), r), install.ErrNotOurs)
	var st syscall.Stat_t
	require.NoError(t, syscall.Stat(target, &st))
	assert.Equal(t, atime.Unix(), st.Atim.Sec, "the access time did not move")
}

func TestUninstallRefusesAFileThatIsNotTheOneInstalled(t *testing.T) {
	dir := newDir(t, "bin")
	p := install.Policy{Dirs: []string{dir}}
	data := randomBytes(10000, 13)
	target := filepath.Join(dir, daemon)

	t.Run("replaced by other bytes of the same size", func(t *testing.T) {
		r := installed(t, dir, data)
		writeFile(t, target, randomBytes(len(data), 14), 0o755)
		before := snapshot(t, dir)
		assert.ErrorIs(t, install.Uninstall(context.Background(), p, removal(dir), r), install.ErrNotOurs)
		assert.Equal(t, before, snapshot(t, dir))
	})
	t.Run("a receipt without a sha256", func(t *testing.T) {
		r := installed(t, dir, data)
		r.SHA256 = nil // as a v0.1.0 receipt, or one a Rust peer wrote back
		before := snapshot(t, dir)
		assert.ErrorIs(t, install.Uninstall(context.Background(), p, removal(dir), r), install.ErrNotOurs)
		assert.Equal(t, before, snapshot(t, dir))
	})
	t.Run("a receipt for another path", func(t *testing.T) {
		r := installed(t, dir, data)
		r.BinaryPath = filepath.Join(dir, "rbee-hive")
		before := snapshot(t, dir)
		assert.ErrorIs(t, install.Uninstall(context.Background(), p, removal(dir), r), install.ErrNotOurs)
		assert.Equal(t, before, snapshot(t, dir))
	})
	t.Run("a receipt that breaks a rule", func(t *testing.T) {
		r := installed(t, dir, data)
		r.SHA256 = new(sum(data)[:63] + "G")
		before := snapshot(t, dir)
		err := install.Uninstall(context.Background(), p, removal(dir), r)
		assert.ErrorIs(t, err, install.ErrNotOurs)
		var fe *daemoncontract.FieldError
		require.ErrorAs(t, err, &fe)
		assert.Equal(t, "sha256", fe.Field)
		assert.Equal(t, before, snapshot(t, dir))
	})
	t.Run("a second hard link to the installed file", func(t *testing.T) {
		r := installed(t, dir, data)
		other := filepath.Join(newDir(t, "elsewhere"), "copy")
		require.NoError(t, os.Link(target, other))
		before := snapshot(t, dir, other)
		assert.ErrorIs(t, install.Uninstall(context.Background(), p, removal(dir), r), install.ErrNotOurs)
		assert.Equal(t, before, snapshot(t, dir, other))
	})
	t.Run("a victim hard-linked into the name, with a receipt of its hash", func(t *testing.T) {
		require.NoError(t, os.RemoveAll(target))
		victim := filepath.Join(newDir(t, "victims"), "shadow")
		secret := []byte("root:$6$secret:19000::::::\n")
		writeFile(t, victim, secret, 0o600)
		require.NoError(t, os.Link(victim, target))
		forged := daemoncontract.InstallResult{BinaryPath: target, InstallTime: time.Unix(1700000000, 0), SHA256: new(sum(secret))}
		before := snapshot(t, dir, victim)
		assert.ErrorIs(t, install.Uninstall(context.Background(), p, removal(dir), forged), install.ErrNotOurs)
		assert.Equal(t, before, snapshot(t, dir, victim))
	})
}

func TestUninstallAfterAnUpgradeKeepsTheNewBinary(t *testing.T) {
	dir := newDir(t, "bin")
	p := install.Policy{Dirs: []string{dir}}
	v1, v2 := randomBytes(5000, 15), randomBytes(6000, 16)
	old := installed(t, dir, v1)
	current := installed(t, dir, v2)

	before := snapshot(t, dir)
	assert.ErrorIs(t, install.Uninstall(context.Background(), p, removal(dir), old), install.ErrNotOurs, "the old receipt no longer removes anything")
	assert.Equal(t, before, snapshot(t, dir))
	assert.Equal(t, sum(v2), hashFile(filepath.Join(dir, daemon)))

	require.NoError(t, install.Uninstall(context.Background(), p, removal(dir), current))
	assert.Empty(t, entries(t, dir))
}

func TestUninstallRefusesASymlinkEvenToTheInstalledBytes(t *testing.T) {
	dir, victims := newDir(t, "bin"), newDir(t, "victims")
	data := randomBytes(3000, 17)
	r := installed(t, dir, data)
	target := filepath.Join(dir, daemon)
	victim := filepath.Join(victims, "victim")
	writeFile(t, victim, data, 0o755)
	require.NoError(t, os.Remove(target))
	require.NoError(t, os.Symlink(victim, target))

	before := snapshot(t, dir, victims)
	w := watch(t, victim)
	err := install.Uninstall(context.Background(), install.Policy{Dirs: []string{dir}}, removal(dir), r)
	assert.ErrorIs(t, err, install.ErrNotRegular)
	assert.Empty(t, w.events(t), "the file the symlink points to is never opened")
	assert.Equal(t, before, snapshot(t, dir, victims))
}

func TestUninstallRefusesADirectoryOrASpecialFile(t *testing.T) {
	dir := newDir(t, "bin")
	p := install.Policy{Dirs: []string{dir}}
	target := filepath.Join(dir, daemon)
	r := daemoncontract.InstallResult{BinaryPath: target, InstallTime: time.Unix(1700000000, 0), SHA256: new(sum(nil))}

	for _, tt := range []struct {
		name string
		make func(t *testing.T)
	}{
		{"an empty directory", func(t *testing.T) { require.NoError(t, os.Mkdir(target, 0o755)) }},
		{"a FIFO", func(t *testing.T) { require.NoError(t, syscall.Mkfifo(target, 0o644)) }},
		{"a character device made with mknod", func(t *testing.T) { mknodNull(t, target) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.make(t)
			defer os.Remove(target)
			before := snapshot(t, dir)
			w := watch(t, target)
			err := returns(t, func() error { return install.Uninstall(context.Background(), p, removal(dir), r) })
			assert.ErrorIs(t, err, install.ErrNotRegular)
			assert.Empty(t, w.events(t), "never opened")
			assert.Equal(t, before, snapshot(t, dir))
		})
	}
}

func TestUninstallReportsAnAbsentFileAsNotExist(t *testing.T) {
	dir := newDir(t, "bin")
	r := daemoncontract.InstallResult{BinaryPath: filepath.Join(dir, daemon), InstallTime: time.Unix(1700000000, 0), SHA256: new(sum(nil))}
	before := snapshot(t, dir)
	err := install.Uninstall(context.Background(), install.Policy{Dirs: []string{dir}}, removal(dir), r)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.Equal(t, before, snapshot(t, dir))
}

func TestUninstallAllowsOnlyThePolicysDirectoriesAsWritten(t *testing.T) {
	root := t.TempDir()
	allowed := filepath.Join(root, "allowed")
	require.NoError(t, os.Mkdir(allowed, 0o755))
	link := filepath.Join(root, "link-to-allowed")
	require.NoError(t, os.Symlink(allowed, link))
	evil := filepath.Join(root, "allowed-evil")
	require.NoError(t, os.Mkdir(evil, 0o755))
	data := randomBytes(2000, 18)
	p := install.Policy{Dirs: []string{allowed}}

	t.Run("a symlink to the allowed directory", func(t *testing.T) {
		r := installed(t, allowed, data)
		r.BinaryPath = filepath.Join(link, daemon) // the receipt agrees with the config
		before := snapshot(t, root)
		assert.ErrorIs(t, install.Uninstall(context.Background(), p, removal(link), r), install.ErrNotAllowed)
		assert.Equal(t, before, snapshot(t, root))
	})
	t.Run("a name that starts with the allowed one", func(t *testing.T) {
		r := installed(t, evil, data)
		before := snapshot(t, root)
		assert.ErrorIs(t, install.Uninstall(context.Background(), p, removal(evil), r), install.ErrNotAllowed)
		assert.Equal(t, before, snapshot(t, root))
	})
}

func TestUninstallValidatesTheConfigFirst(t *testing.T) {
	dir, outside := newDir(t, "bin"), newDir(t, "outside")
	r := installed(t, dir, randomBytes(100, 19))
	before := snapshot(t, dir, outside)
	// install_path does not name the daemon's binary, in a directory
	// outside the policy: the config's error comes first.
	cfg := daemoncontract.UninstallConfig{DaemonName: "rbee-hive", InstallPath: filepath.Join(outside, daemon)}
	err := install.Uninstall(context.Background(), install.Policy{Dirs: []string{dir}}, cfg, r)
	var fe *daemoncontract.FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "install_path", fe.Field)
	assert.NotErrorIs(t, err, install.ErrNotAllowed)
	assert.Equal(t, before, snapshot(t, dir, outside))
}

func TestUninstallRefusesWhileAProcessRunsTheBinary(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	dir := newDir(t, "bin")
	p := install.Policy{Dirs: []string{dir}}
	r, err := install.Install(context.Background(), p, config(exe, dir))
	require.NoError(t, err)

	h := start(t, r.BinaryPath)
	before := snapshot(t, dir)
	err = install.Uninstall(context.Background(), p, removal(dir), r)
	assert.ErrorIs(t, err, install.ErrRunning)
	assert.ErrorContains(t, err, "pid "+strconv.Itoa(h.cmd.Process.Pid)+" ")
	assert.Equal(t, before, snapshot(t, dir))

	h.stop(t) // exits, and is reaped
	require.NoError(t, install.Uninstall(context.Background(), p, removal(dir), r))
	assert.Empty(t, entries(t, dir))
}

func TestUninstallRefusesAFileSwappedAfterItWasHashed(t *testing.T) {
	// Whenever Uninstall checks its context (before each MiB it hashes),
	// the test renames a fresh copy of the same bytes over the binary: the
	// content still matches the receipt, but the name no longer names the
	// file that was hashed when the unlink comes.
	dir, spare := newDir(t, "bin"), newDir(t, "spare")
	data := randomBytes(3<<20, 20)
	r := installed(t, dir, data)
	target := filepath.Join(dir, daemon)
	var lastIno uint64
	ctx := countingContext{context.Background(), func() {
		fresh := filepath.Join(spare, "fresh")
		writeFile(t, fresh, data, 0o755)
		require.NoError(t, os.Rename(fresh, target))
		lastIno = snapshot(t, target)[target].Ino
	}}
	err := install.Uninstall(ctx, install.Policy{Dirs: []string{dir}}, removal(dir), r)
	assert.ErrorIs(t, err, install.ErrNotOurs)
	after := snapshot(t, target)
	require.Contains(t, after, target, "the file swapped in is kept")
	assert.Equal(t, lastIno, after[target].Ino)
	assert.Equal(t, sum(data), after[target].Sum)
}

func TestUninstallRefusesAFileChangedAfterItWasHashed(t *testing.T) {
	// The same file, the same bytes, but its modification time moves
	// whenever Uninstall checks its context: what was hashed is not what
	// would be removed.
	dir := newDir(t, "bin")
	r := installed(t, dir, randomBytes(2<<20, 23))
	target := filepath.Join(dir, daemon)
	ino := snapshot(t, target)[target].Ino
	times := []time.Time{time.Unix(1e9, 0), time.Unix(2e9, 0)}
	calls := 0
	ctx := countingContext{context.Background(), func() {
		calls++
		at := times[calls%2]
		require.NoError(t, os.Chtimes(target, at, at))
	}}
	err := install.Uninstall(ctx, install.Policy{Dirs: []string{dir}}, removal(dir), r)
	assert.ErrorIs(t, err, install.ErrNotOurs)
	after := snapshot(t, target)
	require.Contains(t, after, target, "the file is kept")
	assert.Equal(t, ino, after[target].Ino)
	assert.Equal(t, *r.SHA256, after[target].Sum)
}

func TestUninstallIsNotStoppedByAProcessRunningTheBinaryItReplaced(t *testing.T) {
	// Files are compared by device and inode, not by path: a process that
	// still runs the old binary, after an upgrade renamed the new one over
	// it, does not run the file that Uninstall removes.
	exe, err := os.Executable()
	require.NoError(t, err)
	v1, err := os.ReadFile(exe)
	require.NoError(t, err)
	dir := newDir(t, "bin")
	p := install.Policy{Dirs: []string{dir}}
	old := installed(t, dir, v1)
	running := start(t, old.BinaryPath)
	current := installed(t, dir, append(v1, "v2"...))

	require.NoError(t, install.Uninstall(context.Background(), p, removal(dir), current))
	assert.Empty(t, entries(t, dir))
	running.stop(t)
}

func TestUninstallReportsTheFirstCheckThatFails(t *testing.T) {
	// The checks run in the order the documentation gives: each case
	// breaks two, and the first decides the error.
	root := t.TempDir()
	dir, outside := filepath.Join(root, "bin"), filepath.Join(root, "outside")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, os.Mkdir(outside, 0o755))
	p := install.Policy{Dirs: []string{dir}}
	victim := filepath.Join(root, "victim")
	writeFile(t, victim, []byte("v"), 0o644)
	require.NoError(t, os.Symlink(victim, filepath.Join(dir, daemon)))
	require.NoError(t, os.Symlink(victim, filepath.Join(outside, daemon)))
	noHash := func(d string) daemoncontract.InstallResult {
		return daemoncontract.InstallResult{BinaryPath: filepath.Join(d, daemon), InstallTime: time.Unix(1, 0)}
	}
	for _, tt := range []struct {
		name    string
		cfg     daemoncontract.UninstallConfig
		receipt daemoncontract.InstallResult
		want    error
	}{
		{"outside the policy, and a receipt without a hash", removal(outside), noHash(outside), install.ErrNotAllowed},
		{"a receipt without a hash, for a symlink", removal(dir), noHash(dir), install.ErrNotOurs},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := snapshot(t, root)
			assert.ErrorIs(t, install.Uninstall(context.Background(), p, tt.cfg, tt.receipt), tt.want)
			assert.Equal(t, before, snapshot(t, root))
		})
	}
}

func TestUninstallActsInTheDirectoryItOpened(t *testing.T) {
	// Once Uninstall has opened the policy's directory, the directory is
	// renamed away and a symlink to another directory, holding the same
	// bytes, takes its name. Uninstall removes the file it checked, in the
	// directory it opened, and nothing through the symlink. (A symlink put
	// there before Uninstall opens the directory is followed: the policy's
	// directories are trusted as written.)
	root := t.TempDir()
	dir, moved, other := filepath.Join(root, "bin"), filepath.Join(root, "moved"), filepath.Join(root, "other")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, os.Mkdir(other, 0o755))
	data := randomBytes(3<<20, 25)
	r := installed(t, dir, data)
	writeFile(t, filepath.Join(other, daemon), data, 0o755)
	swapped := false
	ctx := countingContext{context.Background(), func() {
		if !swapped && holdsOpen(t, dir) {
			swapped = true
			require.NoError(t, os.Rename(dir, moved))
			require.NoError(t, os.Symlink(other, dir))
		}
	}}
	require.NoError(t, install.Uninstall(ctx, install.Policy{Dirs: []string{dir}}, removal(dir), r))
	require.True(t, swapped)
	assert.Empty(t, entries(t, moved), "the file it checked is gone")
	assert.Equal(t, sum(data), hashFile(filepath.Join(other, daemon)), "the file behind the symlink is kept")
}

func TestInstallWritesInTheDirectoryItOpened(t *testing.T) {
	// The same swap while Install copies: the binary lands in the
	// directory Install opened, and nothing is written through the symlink.
	root := t.TempDir()
	dir, moved, other := filepath.Join(root, "bin"), filepath.Join(root, "moved"), filepath.Join(root, "other")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, os.Mkdir(other, 0o755))
	data := randomBytes(3<<20, 26)
	src := source(t, data)
	swapped := false
	ctx := countingContext{context.Background(), func() {
		if !swapped && len(temporaryFiles(t, dir)) == 1 {
			swapped = true
			require.NoError(t, os.Rename(dir, moved))
			require.NoError(t, os.Symlink(other, dir))
		}
	}}
	r, err := install.Install(ctx, install.Policy{Dirs: []string{dir}}, config(src, dir))
	require.NoError(t, err)
	require.True(t, swapped)
	assert.Equal(t, sum(data), hashFile(filepath.Join(moved, daemon)))
	assert.Equal(t, new(sum(data)), r.SHA256)
	assert.Empty(t, entries(t, other), "nothing is written through the symlink")
}

func TestUninstallCancelledKeepsTheFile(t *testing.T) {
	dir := newDir(t, "bin")
	r := installed(t, dir, randomBytes(4<<20, 21))
	before := snapshot(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := install.Uninstall(countingContext{ctx, func() {
		if calls++; calls == 3 {
			cancel() // in the middle of the hash
		}
	}}, install.Policy{Dirs: []string{dir}}, removal(dir), r)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, before, snapshot(t, dir))
}
