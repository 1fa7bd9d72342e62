package install_test

// Uninstall: it removes only the file its receipt describes, and changes
// nothing when it refuses.

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rbee-keeper/daemoncontract"
	"github.com/rbee-keeper/daemoncontract/examples/install"
)

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

func TestUninstallRefusesAFileLinkedElsewhereBeforeItWasOpened(t *testing.T) {
	// "a regular file with one link": Uninstall found one link, and before
	// it opens the file, someone links it to another name. What fstat(2)
	// says at the open (two links) then agrees with the last check, so the
	// last check must count the links again, against one.
	dir, elsewhere := newDir(t, "bin"), newDir(t, "elsewhere")
	r := installed(t, dir, randomBytes(5000, 27))
	target, other := filepath.Join(dir, daemon), filepath.Join(elsewhere, "copy")
	var linked map[string]fileState
	install.At(t, func(at install.Point) {
		if at == install.UninstallOpening {
			require.NoError(t, os.Link(target, other))
			linked = snapshot(t, dir, other)
		}
	})
	err := install.Uninstall(context.Background(), install.Policy{Dirs: []string{dir}}, removal(dir), r)
	require.NotNil(t, linked, "linked between the first check and the open")
	assert.ErrorIs(t, err, install.ErrNotOurs)
	assert.Equal(t, linked, snapshot(t, dir, other), "both names are kept")
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

func TestUninstallIgnoresAFailedFsyncOnceTheFileIsGone(t *testing.T) {
	// The unlink is the last change: after it, Uninstall reports success,
	// so that an error always means that nothing changed.
	dir := filepath.Join(t.TempDir(), "bin")
	require.NoError(t, os.Mkdir(dir, 0o755))
	src := filepath.Join(t.TempDir(), "queen-rbee")
	require.NoError(t, os.WriteFile(src, []byte("bytes"), 0o755))
	p := install.Policy{Dirs: []string{dir}}
	r, err := install.Install(context.Background(), p, daemoncontract.InstallConfig{BinaryName: "queen-rbee", BinaryPath: &src, TargetPath: &dir})
	require.NoError(t, err)
	install.FailSync(t, errors.New("EIO"))

	require.NoError(t, install.Uninstall(context.Background(), p, daemoncontract.UninstallConfig{DaemonName: "queen-rbee", InstallPath: r.BinaryPath}, r))
	assert.NoFileExists(t, r.BinaryPath)
}
