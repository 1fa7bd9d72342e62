//go:build linux

package lifecycle

// The lock that makes Ensure calls in different processes take turns.
//
// flock(2): an advisory lock on an open file description, which "is
// released either by an explicit LOCK_UN operation on any of these
// duplicate file descriptors, or when all such file descriptors have been
// closed" - so also when the process that holds it dies, however it dies.
// The descriptor is opened O_CLOEXEC (open(2)): a daemon that Ensure
// starts does not inherit it, and does not hold the lock for its life.
//
// The directory is the user's own: $XDG_RUNTIME_DIR/daemoncontract (the
// XDG Base Directory Specification: "owned by the user, and he MUST be the
// only one having read and write access to it"), or, where XDG_RUNTIME_DIR
// is unset or not absolute, daemoncontract-<uid> in os.TempDir(). A
// directory that another user owns, that others may read or write, or
// that is a symbolic link is refused: in a world-writable /tmp, anyone
// could have made it first.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// lockDir returns the directory of the lock files.
func lockDir() string {
	if xdg := os.Getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(xdg) {
		return filepath.Join(xdg, "daemoncontract")
	}
	return filepath.Join(os.TempDir(), "daemoncontract-"+strconv.Itoa(os.Geteuid()))
}

// lockFile takes the lock of the daemon called name on port, for this
// process and every other: it waits while another holds it, until ctx
// ends. It returns the function that releases it.
func lockFile(ctx context.Context, name, port string) (unlock func(), err error) {
	dir := lockDir()
	path := filepath.Join(dir, name+"."+port+".lock")
	fd, err := openLockFile(dir, filepath.Base(path))
	if err != nil {
		return nil, fmt.Errorf("lifecycle: lock file %s: %w", path, err)
	}
	wait := time.Millisecond
	for {
		err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return func() { syscall.Close(fd) }, nil
		case errors.Is(err, syscall.EINTR):
			continue
		case !errors.Is(err, syscall.EWOULDBLOCK):
			syscall.Close(fd)
			return nil, fmt.Errorf("lifecycle: lock file %s: %w", path, os.NewSyscallError("flock", err))
		}
		select {
		case <-ctx.Done():
			syscall.Close(fd)
			return nil, fmt.Errorf("lifecycle: waiting for the lock %s, which another Ensure of %s holds (in this process or another): %w: %w", path, name, errLockBusy, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, FirstPollInterval)
	}
}

// openLockFile opens (or creates) the lock file name in dir (or creates
// dir), and returns its descriptor, close-on-exec. dir must be a
// directory, not a symbolic link, owned by this user, and closed to
// everyone else; the file must be a regular file owned by this user.
func openLockFile(dir, name string) (int, error) {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return -1, err
	}
	dfd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.ENOTDIR) {
		return -1, fmt.Errorf("%s is a symbolic link or not a directory: remove it, or set XDG_RUNTIME_DIR (or TMPDIR) to a directory of your own", dir)
	}
	if err != nil {
		return -1, os.NewSyscallError("open", err)
	}
	defer syscall.Close(dfd)
	if err := ownedAlone(dfd, dir, syscall.S_IFDIR, "chmod 700 "+dir); err != nil {
		return -1, err
	}
	fd, err := syscall.Openat(dfd, name, syscall.O_RDWR|syscall.O_CREAT|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if errors.Is(err, syscall.ELOOP) {
		return -1, fmt.Errorf("%s is a symbolic link: remove it", filepath.Join(dir, name))
	}
	if err != nil {
		return -1, os.NewSyscallError("openat", err)
	}
	if err := ownedAlone(fd, filepath.Join(dir, name), syscall.S_IFREG, "chmod 600 "+filepath.Join(dir, name)); err != nil {
		syscall.Close(fd)
		return -1, err
	}
	return fd, nil
}

// ownedAlone checks that fd, the file path, is of type typ (S_IFDIR or
// S_IFREG), owned by this process's effective user, and closed to group
// and others; fix says how to mend the mode.
func ownedAlone(fd int, path string, typ uint32, fix string) error {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return os.NewSyscallError("fstat", err)
	}
	switch uid := os.Geteuid(); {
	case st.Mode&syscall.S_IFMT != typ:
		return fmt.Errorf("%s is not a %s", path, map[uint32]string{syscall.S_IFDIR: "directory", syscall.S_IFREG: "regular file"}[typ])
	case int(st.Uid) != uid:
		return fmt.Errorf("%s belongs to uid %d, not to this user (uid %d): another user made it; remove it, or set XDG_RUNTIME_DIR (or TMPDIR) to a directory of your own", path, st.Uid, uid)
	case st.Mode&0o077 != 0:
		return fmt.Errorf("%s has mode %#o: others may use it (%s)", path, st.Mode&0o777, fix)
	}
	return nil
}
