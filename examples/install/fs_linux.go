//go:build linux

package install

// The file operations of Install and Uninstall. Every name inside a policy
// directory is reached through a descriptor of that directory, opened once
// (openat(2), renameat(2), unlinkat(2)), and never through a path that a
// symlink could redirect after a check: openat with O_NOFOLLOW refuses a
// symlink in the last element, and a name has no other element.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/rbee-keeper/daemoncontract"
)

// oPath is open(2)'s O_PATH: a descriptor that names a file without opening
// it, so that fstat(2) describes a FIFO or a device without what opening
// one does (a waiting writer let through, a tape rewound). Its value is the
// same on every architecture Go runs Linux on; package syscall does not
// define it for all of them.
const oPath = 0x200000

// pseudoFS names the file system types, statfs(2)'s f_type, whose regular
// files hold the kernel's state rather than stored bytes: /proc/self/environ
// is a "regular file" of size 0 that holds the reader's environment, a file
// of mqueue is a message queue. Install refuses to copy them.
//
// It is a denylist, not an allowlist of the file systems that store bytes:
// an allowlist would refuse a source on every file system it does not name
// (ZFS, Lustre, a virtual machine's shared folder such as vboxsf: none is in
// the kernel's header), and a Policy has no way to add one. The refusal
// says what the bytes are; it is not a security boundary (binary_path may
// name any file the keeper can read, as the package documentation says).
// The list is every pseudo file system of include/uapi/linux/magic.h as of
// Linux 6.18, and the five that define their number in their own source
// (named below). A pseudo file system newer than that, or one outside the
// kernel's tree, is not refused.
var pseudoFS = map[uint32]string{
	// include/uapi/linux/magic.h
	0x9fa0:     "proc",
	0x62656572: "sysfs",
	0x64626720: "debugfs",
	0x74726163: "tracefs",
	0x73636673: "securityfs",
	0xf97cff8c: "selinuxfs",
	0x43415d53: "smackfs",
	0x5a3c69f0: "apparmorfs",
	0x27e0eb:   "cgroup",
	0x63677270: "cgroup2",
	0x7655821:  "resctrl",
	0xcafe4a11: "bpf",
	0xde5e81e4: "efivarfs",
	0x6165676c: "pstore",
	0x42494e4d: "binfmt_misc",
	0x6e736673: "nsfs",
	0x50494446: "pidfs",
	0x1cd1:     "devpts",
	0x6c6f6f70: "binderfs",
	0x0187:     "autofs",
	0x9fa1:     "openpromfs",
	0x9fa2:     "usbdevfs",
	0xabba1974: "xenfs",
	0xbad1dea:  "futexfs",
	0x62646576: "bdev",
	0x64646178: "dax",
	0x50495045: "pipefs",
	0x534f434b: "sockfs",
	0x09041934: "anon_inodefs",
	0x11307854: "mtd_inodefs",
	0x73727279: "btrfs_test_fs",
	0x444d4142: "dmabuf",
	0x454d444d: "devmem",
	0x5345434d: "secretmem",
	0x474d454d: "guest_memfd",
	// Defined in their own source files.
	0x19800202: "mqueue",     // ipc/mqueue.c
	0x62656570: "configfs",   // fs/configfs/mount.c
	0x65735543: "fusectl",    // fs/fuse/control.c
	0x67596969: "rpc_pipefs", // net/sunrpc/rpc_pipe.c
	0x6e667364: "nfsd",       // fs/nfsd/nfsctl.c
}

// install writes the file at srcPath to dirPath/name as the package
// documentation says, and returns its receipt. dirPath is allowed and
// clean; name is a bare file name.
func install(ctx context.Context, dirPath, name, srcPath string) (daemoncontract.InstallResult, error) {
	target := filepath.Join(dirPath, name)
	src, err := openSource(srcPath)
	if err != nil {
		return daemoncontract.InstallResult{}, err
	}
	defer src.Close()
	d, err := openDir(dirPath)
	if err != nil {
		return daemoncontract.InstallResult{}, err
	}
	defer d.close()
	if err := d.checkTarget(name); err != nil {
		return daemoncontract.InstallResult{}, err
	}

	tmp, tmpName, err := d.createTemp(name)
	if err != nil {
		return daemoncontract.InstallResult{}, err
	}
	sum, err := writeTemp(ctx, tmp, src)
	if err == nil {
		err = ctx.Err() // the last moment to give up
	}
	if err == nil {
		err = d.renameLocked(ctx, tmpName, name)
	}
	if err != nil {
		if rerr := d.unlink(tmpName); rerr != nil {
			// The one case where Install leaves a file: see the package
			// documentation.
			return daemoncontract.InstallResult{}, fmt.Errorf("install: %s is as it was, but the temporary file %s is left behind, since removing it failed too (%w; an append-only directory, chattr +a, allows neither a rename nor a removal): remove it by hand; what failed first: %w", target, d.join(tmpName), rerr, err)
		}
		return daemoncontract.InstallResult{}, fmt.Errorf("install: %s is unchanged: %w", target, err)
	}
	receipt := daemoncontract.InstallResult{BinaryPath: target, InstallTime: wholeSeconds(time.Now()), SHA256: &sum}
	if err := syncDir(d); err != nil {
		return receipt, fmt.Errorf("install: %s is installed, but the fsync of %s failed, so a crash may undo the rename: %w", target, dirPath, err)
	}
	return receipt, nil
}

// writeTemp copies src into tmp, makes it durable and executable, and
// closes it. It returns the hash of what it wrote.
func writeTemp(ctx context.Context, tmp *os.File, src io.Reader) (string, error) {
	sum, err := copyHashed(ctx, tmp, src)
	if err == nil {
		err = tmp.Sync()
	}
	if err == nil {
		err = tmp.Chmod(0o755) // fchmod(2): the umask applies to creation only
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	return sum, err
}

// uninstall removes dirPath/name as the package documentation says, if its
// bytes hash to want. dirPath is allowed and clean; name is a bare file
// name. The unlink is its one change, and its last step.
func uninstall(ctx context.Context, dirPath, name, want string) error {
	path := filepath.Join(dirPath, name)
	d, err := openDir(dirPath)
	if err != nil {
		return err
	}
	defer d.close()
	st, err := d.lstat(name)
	switch {
	case err != nil:
		return err // an absent file wraps fs.ErrNotExist
	case !isRegular(st):
		return fmt.Errorf("%w: %s is %s, and Uninstall removes only a regular file", ErrNotRegular, path, describe(st))
	case st.Nlink != 1:
		return fmt.Errorf("%w: %s has %d hard links, where a file that Install wrote has one", ErrNotOurs, path, st.Nlink)
	}
	hook(uninstallOpening)
	f, hashed, err := d.openRegular(name, st)
	if err != nil {
		return err
	}
	defer f.Close()
	sum, err := copyHashed(ctx, io.Discard, f)
	if err != nil {
		return fmt.Errorf("install: hashing %s, which is kept: %w", path, err)
	}
	if sum != want {
		return fmt.Errorf("%w: %s has sha256 %s, the receipt says %s: it was replaced (by an upgrade?), or never installed", ErrNotOurs, path, sum, want)
	}
	switch pid, err := runningPID(hashed); {
	case err != nil:
		return fmt.Errorf("install: %s is kept: cannot tell whether a process runs it: %w", path, err)
	case pid != 0:
		return fmt.Errorf("%w: pid %d runs %s", ErrRunning, pid, path)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("install: %s is kept: %w", path, err)
	}
	unlock, err := d.lock(ctx)
	if err != nil {
		return fmt.Errorf("install: %s is kept: %w", path, err)
	}
	err = checkNotExecuted(f, path)
	if err == nil {
		err = d.unlinkChecked(name, hashed)
	}
	unlock()
	if err != nil {
		return err
	}
	_ = syncDir(d) // the file is gone; a failed fsync means only that a crash may bring it back
	return nil
}

// checkNotExecuted returns nil if the ETXTBSY probe (execProbe) finds that no
// process executes the file f, the one Uninstall hashed at path, or cannot
// tell; ErrRunning if one does.
func checkNotExecuted(f *os.File, path string) error {
	switch found, err := execProbe(f); {
	case err != nil:
		return fmt.Errorf("install: %s is kept: cannot tell whether a process runs it: %w", path, err)
	case found == executed:
		return fmt.Errorf("%w: %s: a process that /proc does not show this keeper runs it (another user's, one that is not dumpable, or one in another pid namespace), or the kernel reads it: open(2) for writing fails with ETXTBSY", ErrRunning, path)
	}
	return nil
}

// unlinkChecked removes name if it still names the file that hashed
// describes, unchanged since, as far as fstat(2) can tell, and with one
// link: the count is compared with 1, not with hashed's, since a link made
// before the open is in both. The caller holds the directory's lock.
func (d *dir) unlinkChecked(name string, hashed syscall.Stat_t) error {
	now, err := d.lstat(name)
	switch {
	case err != nil:
		return err
	case !sameFile(now, hashed):
		return fmt.Errorf("%w: %s was replaced or changed after it was hashed", ErrNotOurs, d.join(name))
	case now.Nlink != 1:
		return fmt.Errorf("%w: %s has %d hard links, where a file that Install wrote has one", ErrNotOurs, d.join(name), now.Nlink)
	}
	hook(uninstallUnlinking)
	return d.unlink(name)
}

// openSource opens the file to install for reading. It must be a regular
// file, or a symlink to one, of stored bytes: stat(2) says so first, and
// then the file is opened with O_PATH (open(2): a descriptor that names the
// file without opening it, so no driver's open runs and no writer waiting
// on a FIFO is let through), fstat(2) on that descriptor says again that it
// is the same regular file (device, inode, type), and fstatfs(2) that its
// file system is not one of the kernel's pseudo file systems (see
// pseudoFS). Only then is that very file opened to read, through
// /proc/self/fd/<n> (proc(5)), and checked once more. What a symlink
// named at stat(2), swapped before the open, is never opened to read.
func openSource(path string) (*os.File, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if !isRegular(st) {
		return nil, fmt.Errorf("%w: the source %s is %s", ErrNotRegular, path, describe(st))
	}
	hook(sourceStatted)
	pfd, err := retry(func() (int, error) { return syscall.Open(path, oPath|syscall.O_CLOEXEC, 0) })
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(pfd)
	var pst syscall.Stat_t
	if err := syscall.Fstat(pfd, &pst); err != nil {
		return nil, &fs.PathError{Op: "fstat", Path: path, Err: err}
	}
	if err := sameRegular(pst, st); err != nil {
		return nil, fmt.Errorf("%w: the source %s changed between stat and open: %w", ErrNotRegular, path, err)
	}
	var sfs syscall.Statfs_t
	if err := syscall.Fstatfs(pfd, &sfs); err != nil {
		return nil, &fs.PathError{Op: "fstatfs", Path: path, Err: err}
	}
	if name, ok := pseudoFS[uint32(sfs.Type)]; ok {
		return nil, fmt.Errorf("%w: the source %s is a file of %s (statfs(2) f_type %#x), a pseudo file system whose files hold the kernel's state, not stored bytes", ErrNotRegular, path, name, uint32(sfs.Type))
	}
	fd, err := retry(func() (int, error) {
		return syscall.Open(procFD(pfd), syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	})
	if err != nil {
		return nil, fmt.Errorf("install: opening the source %s to read it, through %s (is /proc mounted?): %w", path, procFD(pfd), err)
	}
	opened, _, err := checkOpened(fd, path, st)
	if err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("%w: the source %s changed while it was opened: %w", ErrNotRegular, path, err)
	}
	return opened, nil
}

// procFD is the name under which proc(5) shows this process's descriptor
// fd: opening it opens the file fd refers to, whatever its path now
// names.
func procFD(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// sameRegular says why fst, what fstat(2) says of a descriptor, is not the
// regular file st describes (the same device and inode), or returns nil.
func sameRegular(fst, st syscall.Stat_t) error {
	if !isRegular(fst) || fst.Dev != st.Dev || fst.Ino != st.Ino {
		return fmt.Errorf("it is now %s, inode %d", describe(fst), fst.Ino)
	}
	return nil
}

// hook does nothing. Tests replace it, to act at a point of Install or
// Uninstall where a race would: another process that swaps a file, or a
// concurrent call.
var hook = func(point) {}

// point names a place where Install or Uninstall calls hook.
type point int

const (
	// sourceStatted: Install has stat(2)ed the source, and not opened it yet.
	sourceStatted point = iota
	// uninstallOpening: Uninstall has found a regular file with one link
	// at the name, and not opened it yet.
	uninstallOpening
	// uninstallUnlinking: Uninstall holds the directory's lock, and its
	// last check has passed; unlinkat(2) comes next.
	uninstallUnlinking
	// lockBusy: another call, or another process, holds the directory's
	// lock; the caller waits for it.
	lockBusy
)

// checkOpened checks that fd, just opened with O_NONBLOCK for path, is the
// regular file that st describes, and returns it as an *os.File in
// blocking mode, with what fstat(2) says of it.
func checkOpened(fd int, path string, st syscall.Stat_t) (*os.File, syscall.Stat_t, error) {
	var fst syscall.Stat_t
	if err := syscall.Fstat(fd, &fst); err != nil {
		return nil, fst, err
	}
	if err := sameRegular(fst, st); err != nil {
		return nil, fst, err
	}
	if err := syscall.SetNonblock(fd, false); err != nil {
		return nil, fst, err
	}
	return os.NewFile(uintptr(fd), path), fst, nil
}

// dir is a directory opened once, through which every name in it is
// reached.
type dir struct {
	fd   int
	path string // for errors
}

// openDir opens the directory path. A symlink in path is followed: the
// policy's directories are trusted as written.
func openDir(path string) (*dir, error) {
	fd, err := retry(func() (int, error) {
		return syscall.Open(path, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	})
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return &dir{fd: fd, path: path}, nil
}

func (d *dir) close() { syscall.Close(d.fd) }

func (d *dir) join(name string) string { return filepath.Join(d.path, name) }

// lstat describes name, not following a symlink, without opening it (see
// oPath). A name that is absent is an error that wraps fs.ErrNotExist.
func (d *dir) lstat(name string) (syscall.Stat_t, error) {
	var st syscall.Stat_t
	fd, err := retry(func() (int, error) {
		return syscall.Openat(d.fd, name, oPath|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	})
	if err != nil {
		return st, &fs.PathError{Op: "lstat", Path: d.join(name), Err: err}
	}
	defer syscall.Close(fd)
	if err := syscall.Fstat(fd, &st); err != nil {
		return st, &fs.PathError{Op: "lstat", Path: d.join(name), Err: err}
	}
	return st, nil
}

// openRegular opens name for reading, not following a symlink, and checks
// that it is the regular file that st, from lstat, describes. It returns
// the file and what fstat(2) says of it. Reading it does not move its
// access time (O_NOATIME), where this process owns the file or is root.
func (d *dir) openRegular(name string, st syscall.Stat_t) (*os.File, syscall.Stat_t, error) {
	flags := syscall.O_RDONLY | syscall.O_NOFOLLOW | syscall.O_NONBLOCK | syscall.O_NOCTTY | syscall.O_CLOEXEC
	fd, err := retry(func() (int, error) { return syscall.Openat(d.fd, name, flags|syscall.O_NOATIME, 0) })
	if err == syscall.EPERM { // open(2): O_NOATIME needs the file's owner, or CAP_FOWNER
		fd, err = retry(func() (int, error) { return syscall.Openat(d.fd, name, flags, 0) })
	}
	if err != nil {
		return nil, st, &fs.PathError{Op: "open", Path: d.join(name), Err: err}
	}
	f, fst, err := checkOpened(fd, d.join(name), st)
	if err != nil {
		syscall.Close(fd)
		return nil, st, fmt.Errorf("%w: %s was replaced while it was checked: %w", ErrNotOurs, d.join(name), err)
	}
	return f, fst, nil
}

// createTemp creates a new temporary file for name in d, exclusively
// (O_CREAT|O_EXCL, which never follows a symlink), readable and writable by
// its owner only, and returns it with its name.
func (d *dir) createTemp(name string) (*os.File, string, error) {
	var err error
	for range 10 {
		tmp := "." + name + "." + tempSuffix() + ".tmp"
		var fd int
		fd, err = retry(func() (int, error) {
			return syscall.Openat(d.fd, tmp, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
		})
		if err == nil {
			return os.NewFile(uintptr(fd), d.join(tmp)), tmp, nil
		}
		if err != syscall.EEXIST {
			break
		}
	}
	return nil, "", &fs.PathError{Op: "create", Path: d.join("." + name + ".*.tmp"), Err: err}
}

// tempSuffix returns 16 random hex digits, for a temporary file's name.
// Tests replace it.
var tempSuffix = func() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// lock takes the directory's lock (flock(2) LOCK_EX on its descriptor),
// for the last check and the one change of an Install (the rename) or an
// Uninstall (the unlink), so that they take turns: an Uninstall's last
// check and its unlink never have an Install's rename between them. It
// waits while another holds the lock, until ctx ends, and returns the
// function that releases it.
//
// flock(2): the lock belongs to the open file description, and every call
// opens the directory itself, so two calls of one process exclude each
// other as two processes do. It is advisory: a writer that does not take it
// (mv, cp, another installer) is not held back. It is polled (LOCK_NB)
// rather than waited for, because flock needs no write permission: anyone
// who may open the directory may hold the lock, and a call must still end
// when its context does. (Over NFS, flock is emulated with fcntl(2) locks,
// and an exclusive one needs a file open for writing, which a directory
// never is: the lock fails there, and with it the call.)
func (d *dir) lock(ctx context.Context) (unlock func(), err error) {
	wait := time.Millisecond
	for {
		err := syscall.Flock(d.fd, syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return func() { _ = syscall.Flock(d.fd, syscall.LOCK_UN) }, nil
		case err == syscall.EINTR:
			continue
		case err != syscall.EWOULDBLOCK:
			return nil, &fs.PathError{Op: "flock", Path: d.path, Err: err}
		}
		hook(lockBusy)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("install: waiting for the lock of %s, which another Install or Uninstall holds (of this process or another): %w", d.path, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, maxLockWait)
	}
}

// maxLockWait is the longest pause between two attempts at the lock.
const maxLockWait = 50 * time.Millisecond

// checkTarget checks that name, the target of an Install, is absent, a
// regular file or a symlink: what Install may replace. rename(2) would
// replace a FIFO or a device just as well, and fail for a directory.
func (d *dir) checkTarget(name string) error {
	switch st, err := d.lstat(name); {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case !isRegular(st) && !isSymlink(st):
		return fmt.Errorf("%w: %s is %s: Install replaces only a file or a symlink", ErrNotRegular, d.join(name), describe(st))
	}
	return nil
}

// renameLocked renames oldName over newName, under the directory's lock,
// once checkTarget has looked at newName again: what was there when the
// copy began may have been replaced since.
func (d *dir) renameLocked(ctx context.Context, oldName, newName string) error {
	unlock, err := d.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	if err := d.checkTarget(newName); err != nil {
		return err
	}
	return d.rename(oldName, newName)
}

// rename renames oldName over newName: renameat(2), which replaces what
// newName names (a file, or a symlink itself, never what it points to),
// atomically, and fails for a directory.
func (d *dir) rename(oldName, newName string) error {
	if err := syscall.Renameat(d.fd, oldName, d.fd, newName); err != nil {
		return &os.LinkError{Op: "renameat", Old: d.join(oldName), New: d.join(newName), Err: err}
	}
	return nil
}

// unlink removes name: unlinkat(2) without AT_REMOVEDIR, which never removes
// a directory.
func (d *dir) unlink(name string) error {
	if err := syscall.Unlinkat(d.fd, name); err != nil {
		return &fs.PathError{Op: "unlinkat", Path: d.join(name), Err: err}
	}
	return nil
}

// syncDir fsyncs d, so that a rename or an unlink in it survives a crash.
// Tests replace it.
var syncDir = func(d *dir) error {
	if err := syscall.Fsync(d.fd); err != nil {
		return &fs.PathError{Op: "fsync", Path: d.path, Err: err}
	}
	return nil
}

// sameFile reports whether a and b describe the same file in the same
// state: the same device and inode, links, size, mode, and modification
// and change times (the change time moves on any write, and cannot be set).
func sameFile(a, b syscall.Stat_t) bool {
	return a.Dev == b.Dev && a.Ino == b.Ino && a.Nlink == b.Nlink && a.Size == b.Size && a.Mode == b.Mode &&
		a.Mtim == b.Mtim && a.Ctim == b.Ctim
}

func isRegular(st syscall.Stat_t) bool { return st.Mode&syscall.S_IFMT == syscall.S_IFREG }
func isSymlink(st syscall.Stat_t) bool { return st.Mode&syscall.S_IFMT == syscall.S_IFLNK }

// describe names the kind of file st describes, for an error.
func describe(st syscall.Stat_t) string {
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		return "a regular file"
	case syscall.S_IFDIR:
		return "a directory"
	case syscall.S_IFLNK:
		return "a symlink"
	case syscall.S_IFIFO:
		return "a FIFO"
	case syscall.S_IFCHR:
		return "a character device"
	case syscall.S_IFBLK:
		return "a block device"
	case syscall.S_IFSOCK:
		return "a socket"
	}
	return "not a regular file"
}

// retry calls f again while it fails with EINTR, which open(2) can return
// on some file systems (NFS, FUSE) when a signal arrives.
func retry(f func() (int, error)) (int, error) {
	for {
		n, err := f()
		if err != syscall.EINTR {
			return n, err
		}
	}
}
