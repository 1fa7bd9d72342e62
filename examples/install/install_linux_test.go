package install_test

// Install: what it writes, where, and what it leaves on an error.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
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
	install.TempSuffix(t, func() string { s := suffixes[0]; suffixes = suffixes[1:]; return s })
	src := filepath.Join(t.TempDir(), "queen-rbee")
	require.NoError(t, os.WriteFile(src, []byte("the binary"), 0o755))

	_, err := install.Install(context.Background(), install.Policy{Dirs: []string{dir}},
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
	// The target is immutable (chattr +i; ioctl_iflags(2)), which the
	// checks before the rename do not look at: rename(2) fails with EPERM,
	// and the temporary file goes.
	dir := newDir(t, "bin")
	target := filepath.Join(dir, daemon)
	oldData := randomBytes(1000, 22)
	writeFile(t, target, oldData, 0o755)
	chattr(t, target, "i")
	before := snapshot(t, dir)
	_, err := install.Install(context.Background(), install.Policy{Dirs: []string{dir}}, config(source(t, randomBytes(3<<20, 23)), dir))
	assert.ErrorIs(t, err, syscall.EPERM, "rename(2) over an immutable file")
	assert.Equal(t, withoutDirTimes(before), withoutDirTimes(snapshot(t, dir)), "no temporary file is left, and the old binary is as it was")
}

func TestInstallRefusesATargetThatBecameADirectoryOrASpecialFileWhileItCopied(t *testing.T) {
	// The check before the copy saw a regular file at the target; while the
	// copy is under way, someone puts a FIFO, a device or a directory
	// there. rename(2) would replace the FIFO or the device without a word
	// (and fail for the directory): the last look at the target, under the
	// directory's lock just before the rename, refuses each of them, as the
	// first one would have, and the temporary file goes.
	for _, tt := range []struct {
		name string
		make func(t *testing.T, path string)
	}{
		{"a FIFO", func(t *testing.T, path string) { require.NoError(t, syscall.Mkfifo(path, 0o644)) }},
		{"a character device made with mknod", mknodNull},
		{"a directory", func(t *testing.T, path string) {
			require.NoError(t, os.Mkdir(path, 0o755))
			writeFile(t, filepath.Join(path, "inside"), []byte("kept"), 0o644)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := newDir(t, "bin")
			target := filepath.Join(dir, daemon)
			writeFile(t, target, []byte("old"), 0o755)
			src := source(t, randomBytes(3<<20, 24))
			var swapped map[string]fileState
			var w *watcher
			ctx := countingContext{context.Background(), func() {
				if swapped == nil && len(temporaryFiles(t, dir)) == 1 {
					require.NoError(t, os.Remove(target))
					tt.make(t, target)
					swapped = snapshot(t, target)
					w = watch(t, target)
				}
			}}
			err := returns(t, func() error {
				_, err := install.Install(ctx, install.Policy{Dirs: []string{dir}}, config(src, dir))
				return err
			})
			require.NotNil(t, swapped, "swapped while the copy was under way")
			assert.ErrorIs(t, err, install.ErrNotRegular)
			assert.Equal(t, []string{daemon}, entries(t, dir), "no temporary file is left")
			assert.Empty(t, w.events(t), "never opened")
			assert.Equal(t, swapped, snapshot(t, target), "what was put there is kept, as it was")
		})
	}
}

func TestInstallNamesTheTemporaryFileAnAppendOnlyDirectoryKeeps(t *testing.T) {
	// The README: on an error before the rename, Install leaves no
	// temporary file, but in one case: when removing it fails too. In a
	// directory with the append-only attribute (chattr +a; ioctl_iflags(2):
	// FS_APPEND_FL), a file can be created but neither renamed nor removed:
	// the rename fails, and so does the unlink of the temporary file. The
	// installer cannot tell before it tries (the flag is read with an
	// ioctl(2) that takes a pointer, which package syscall passes only
	// through package unsafe, which the project does not import), so what
	// is promised is the truth: the error names the file left behind, and
	// wraps both causes; the old binary is as it was.
	dir := newDir(t, "bin")
	target := filepath.Join(dir, daemon)
	oldData, newData := randomBytes(1000, 30), randomBytes(5000, 31)
	writeFile(t, target, oldData, 0o755)
	src := source(t, newData)
	chattr(t, dir, "a")

	_, err := install.Install(context.Background(), install.Policy{Dirs: []string{dir}}, config(src, dir))
	require.ErrorIs(t, err, syscall.EPERM, "rename(2) and unlink(2) in an append-only directory")
	names := entries(t, dir)
	require.Len(t, names, 2, "the binary, and the temporary file that could not be removed")
	left := names[0]
	if left == daemon {
		left = names[1]
	}
	assert.Regexp(t, `^\.`+daemon+`\.[0-9a-f]{16}\.tmp$`, left)
	assert.ErrorContains(t, err, filepath.Join(dir, left)+" is left behind", "the error names the file left behind")
	assert.NotContains(t, err.Error(), "unchanged", "the directory is not")
	var unlink *fs.PathError
	if assert.ErrorAs(t, err, &unlink, "the removal's error is wrapped") {
		assert.Equal(t, "unlinkat", unlink.Op)
	}
	var rename *os.LinkError
	if assert.ErrorAs(t, err, &rename, "the rename's error is wrapped") {
		assert.Equal(t, "renameat", rename.Op)
	}
	assert.Equal(t, sum(newData), hashFile(filepath.Join(dir, left)), "it holds the new binary")
	assert.Equal(t, sum(oldData), hashFile(target), "the old binary is as it was")
}

// chattr adds the inode flag attr (chattr(1): "a" append-only, "i"
// immutable; ioctl_iflags(2)) to path with chattr(1) of e2fsprogs, and
// takes it off again when the test ends. Only root may set these two
// flags, on a file system that has them: it skips, or fails under
// testenv.RequireNamespaces, where it cannot. (chattr(1), because the
// ioctl takes a pointer, which package syscall passes only through
// package unsafe, and the project imports no unsafe.)
func chattr(t *testing.T, path, attr string) {
	t.Helper()
	bin, err := exec.LookPath("chattr")
	if err != nil {
		testenv.Skipf(t, "needs chattr (e2fsprogs) to set the inode flag %q: %v", attr, err)
	}
	if out, err := exec.Command(bin, "+"+attr, path).CombinedOutput(); err != nil {
		testenv.Skipf(t, "cannot set the inode flag %q on %s (needs root, CAP_LINUX_IMMUTABLE, and a file system that has it): %v: %s", attr, path, err, out)
	}
	t.Cleanup(func() {
		out, err := exec.Command(bin, "-"+attr, path).CombinedOutput()
		require.NoError(t, err, "chattr -%s %s: %s", attr, path, out)
	})
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
	install.FailSync(t, eio)

	r, err := install.Install(context.Background(), install.Policy{Dirs: []string{dir}},
		daemoncontract.InstallConfig{BinaryName: "queen-rbee", BinaryPath: &src, TargetPath: &dir})
	assert.ErrorIs(t, err, eio)
	assert.ErrorContains(t, err, "is installed")
	require.NotNil(t, r.SHA256, "the receipt comes with the error")
	assert.Equal(t, sum(data), *r.SHA256)
	got, err := os.ReadFile(filepath.Join(dir, "queen-rbee"))
	require.NoError(t, err)
	assert.Equal(t, data, got)
	names, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, names, 1, "no temporary file")
}
