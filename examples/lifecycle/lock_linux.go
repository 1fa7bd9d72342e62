//go:build linux

package lifecycle

// The lock that makes Ensure calls in different processes take turns.
//
// It is a name in the abstract namespace of Unix domain sockets, which a
// socket holds by binding it: @daemoncontract/<daemon name>.<port>.
// unix(7): an abstract socket address is one whose sun_path starts with a
// null byte; "The socket's address in this namespace is given by the
// additional bytes in sun_path", it "has no connection with filesystem
// pathnames", and the name "automatically disappears when all open
// references to the socket are closed". bind(2) of a name that another
// socket holds fails with EADDRINUSE. So the name is held until the
// holder closes its socket or dies, however it dies; the socket is
// SOCK_CLOEXEC, so a daemon that Ensure starts does not inherit it.
//
// Why not a lock file (flock(2)), as before: flock locks an open file, not
// a name, so a lock file that is removed or renamed over while it is held
// (an rm, a cleaner of the temporary directory) lets the next keeper lock
// a new file while the first still holds the old one, and no check by the
// next keeper can see the old one; and the file's directory came from the
// environment ($XDG_RUNTIME_DIR, else the temporary directory), so two
// keepers of one user in different environments (a login session and a
// cron job) locked different files. Both started a daemon. The abstract
// name has no file to remove and no directory to choose: every keeper
// computes the same name from the daemon's name and port alone.
//
// Its scope is the network namespace (the abstract namespace is one per
// network namespace, as the ports are): keepers of every user in it take
// turns, which is right, since they share the port. Any process in the
// namespace may bind the name first and keep it; then Ensure waits until
// its context ends, and says so. That is no more than any process can do
// by listening on the daemon's port.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// lockNamespace is the first part of every lock name. Tests give their
// own, so that test runs that share the machine do not take turns.
var lockNamespace = "daemoncontract"

// maxLockName is the longest abstract name: sun_path is 108 bytes, and
// the first is the null byte.
const maxLockName = 107

// lockName returns the name of the lock of the daemon called name on port,
// without the null byte: lockNamespace/name.port, or, for a name too long
// for sun_path, lockNamespace/sha256-<hex of name>.port.
func lockName(name, port string) string {
	n := lockNamespace + "/" + name + "." + port
	if len(n) > maxLockName {
		sum := sha256.Sum256([]byte(name))
		n = lockNamespace + "/sha256-" + hex.EncodeToString(sum[:]) + "." + port
	}
	return n
}

// lockProcesses takes the lock of the daemon called name on port, for
// this process and every other: it waits while another holds it, until
// ctx ends. It returns the function that releases it.
func lockProcesses(ctx context.Context, name, port string) (unlock func(), err error) {
	lock := lockName(name, port)
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("lifecycle: lock @%s: %w", lock, os.NewSyscallError("socket", err))
	}
	// Go's syscall writes a leading '@' as the null byte of an abstract
	// name.
	addr := &syscall.SockaddrUnix{Name: "@" + lock}
	wait := time.Millisecond
	for {
		err := syscall.Bind(fd, addr)
		switch {
		case err == nil:
			return func() { syscall.Close(fd) }, nil
		case errors.Is(err, syscall.EINTR):
			continue
		case !errors.Is(err, syscall.EADDRINUSE):
			syscall.Close(fd)
			return nil, fmt.Errorf("lifecycle: lock @%s: %w", lock, os.NewSyscallError("bind", err))
		}
		select {
		case <-ctx.Done():
			syscall.Close(fd)
			return nil, fmt.Errorf("lifecycle: waiting for the lock @%s, which another Ensure of %s holds, in this process or another (ss -xap | grep %s shows which process holds it): %w: %w", lock, name, lockNamespace, errLockBusy, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, FirstPollInterval)
	}
}
