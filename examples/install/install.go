// Package install is an example of code written against daemoncontract: a
// reference installer that writes a daemon binary atomically, returns a
// receipt that proves what it wrote, and removes only a binary it can prove
// it installed itself.
//
// It is an example of use, not part of the contract, of the same standing as
// [github.com/rbee-keeper/daemoncontract/examples/lifecycle]: decode, then
// Validate, then act, and act only inside the directories of a [Policy].
//
// # Install
//
// [Install] copies the file that binary_path names to <dir>/<binary_name>,
// where dir is target_path, or the policy's first directory when the config
// has none. It writes a temporary file in that directory, created
// exclusively (O_CREAT|O_EXCL, never through a symlink) and readable by its
// owner only, copies the source into it while it computes the SHA-256 of the
// bytes it writes, fsyncs it, sets its mode to 0755 (fchmod, which the umask
// does not touch), renames it over the target (rename(2): the name then
// names the new file, at once, for every reader) under the directory's lock
// (see below), and fsyncs the directory. A reader of the target sees the old
// binary or the new one, whole, never a mix. Only a regular file or a
// symlink at the target is replaced (looked for before the copy, and again
// just before the rename), never written through: what a symlink there
// points to is never opened, and another hard link to the old file keeps the
// old bytes. The receipt, an [daemoncontract.InstallResult], carries the
// path, the time in whole seconds, and the hash.
//
// Until the rename, every error, a cancelled context included (the copy
// checks it before every MiB), leaves the target as it was and removes the
// temporary file. Should that removal fail too, the file stays, and the
// error names it and wraps both causes: the one case, a crash aside, where
// Install leaves a file behind. A directory with the append-only attribute
// (chattr +a) is such a case: it lets a file be created, but neither renamed
// nor removed. Install cannot tell before it tries: the attribute is read
// with an ioctl(2) (FS_IOC_GETFLAGS) or statx(2), whose argument is a
// pointer that package syscall passes only through package unsafe, which
// this package does not import. The rename is the last change: after it,
// only the fsync of the directory can fail, and then Install returns the
// receipt with the error, because the new binary is in place (a crash may
// still undo the rename).
//
// # Uninstall
//
// [Uninstall] removes install_path only if every check below passes, in
// this order, and otherwise changes nothing at all (it reads the file
// without moving its access time, where the keeper owns it or is root):
//
//   - the config passes Validate;
//   - its directory is one of the policy's;
//   - the receipt names exactly install_path, carries a sha256, and passes
//     Validate;
//   - install_path, not followed if it is a symlink, is a regular file with
//     one link (a symlink, a directory, a device or a FIFO is
//     [ErrNotRegular]; a file with other hard links is not one Install made);
//   - its bytes hash to the receipt's sha256 ([ErrNotOurs] otherwise: it was
//     replaced, upgraded, or never installed);
//   - no process runs it ([ErrRunning]), by two tests (see Running
//     processes below): no /proc/<pid>/exe, nor /proc/<pid>/task/<tid>/exe
//     where the leader has exited, names the same file (device and inode),
//     and, just before the unlink, open(2) for writing does not fail with
//     ETXTBSY;
//   - just before the unlink, under the directory's lock, the name still
//     names the file that was hashed, as far as fstat(2) can tell unchanged
//     since (the same device, inode, links, size, mode, and modification and
//     change times), and still with one link.
//
// Every file operation goes through a descriptor of the directory, opened
// once (openat(2) with O_NOFOLLOW, unlinkat(2) without AT_REMOVEDIR, which
// never removes a directory), so that a symlink cannot send a check or the
// unlink anywhere else. The unlink is the one change Uninstall makes; the
// fsync of the directory after it is best effort, and its error is not
// reported, because the file is already gone.
//
// # Running processes
//
// Uninstall looks for a process that runs the binary in two ways, since
// neither sees every one:
//
//   - The /proc scan (proc(5)) compares /proc/<pid>/exe of every process,
//     and /proc/<pid>/task/<tid>/exe of a process whose main thread has
//     exited (its own exe link is gone then), with the file, by device and
//     inode. It names the pid in the error. It sees only what /proc lets
//     the keeper see: the exe link of a process is readable only where
//     ptrace(2)'s PTRACE_MODE_READ check passes, and unless the keeper has
//     CAP_SYS_PTRACE (root has it, but in a container often not), it does
//     not for another user's process, a process that is not dumpable
//     (prctl(2) PR_SET_DUMPABLE: one that changed its credentials, or
//     guards secrets), or one with capabilities the keeper lacks. Nor does
//     it see a process of a pid namespace that this /proc does not show (a
//     sibling container's).
//   - The ETXTBSY probe opens the very file that was hashed again, through
//     /proc/self/fd, for writing, and closes it at once without writing
//     (nothing changes; inotify(7) reports an open and a close-after-write):
//     open(2) fails with ETXTBSY while any process executes the file,
//     whoever's, in whatever pid namespace. It needs write permission on the
//     file, which the keeper has on what Install wrote as the keeper, or as
//     root; where it has none (EACCES), and for an immutable file (EPERM) or
//     a read-only mount (EROFS), it cannot tell, and the scan decides alone.
//     ETXTBSY also means that the kernel itself reads the file (a module or
//     firmware being loaded), which Uninstall refuses too. For the instant
//     the probe holds the file open for writing, an execve(2) of it fails
//     with ETXTBSY, in a child this process forks in that instant too.
//
// Neither sees a program that ld.so started (ld.so is then its executable,
// and the binary is only mapped), a binary mapped as a library, or a
// process that starts the binary after the check; and on Linux 6.11 and
// 6.12 releases that deny no write to a running executable (commit
// 2a010c412853, reverted for 6.13 by 3b832035387f), the probe sees nothing.
//
// # The directory's lock
//
// Install's rename, and Uninstall's last check and its unlink, hold the
// directory's lock: flock(2) LOCK_EX on the descriptor of the directory.
// Calls of this package take turns there, in one process or in many: an
// Install's rename never falls between an Uninstall's last check and its
// unlink, so an old receipt never removes the binary that a concurrent
// Install wrote. A call waits while another holds the lock (it polls, with
// pauses that grow to 50 ms), until its context ends; it then changes
// nothing.
//
// # What it cannot know
//
//   - A process that runs the binary other than as its executable (started
//     by ld.so, or loaded as a library), or starts it after the check, is
//     not seen; nor is any process the /proc scan cannot see, where the
//     ETXTBSY probe cannot tell (see Running processes).
//   - A read that never returns (a hung FUSE or network file system) holds
//     up Install, or Uninstall's hash, whatever the context: the context is
//     checked between reads, not during one.
//   - Anyone who may write to the directory can race any remover: between
//     the last check and unlinkat(2), such a writer can rename another file
//     into the name, and that file is removed. The check just before the
//     unlink narrows the window to one system call; it cannot close it. The
//     directory's lock holds back this package's calls only: flock(2) is
//     advisory, and mv, cp or another installer do not take it. Keep the
//     policy's directories writable by the keeper alone. The same writer
//     can replace Install's temporary file before the rename; the receipt's
//     hash then does not match what is installed, and Uninstall refuses it.
//   - Anyone who may open a policy directory may take its lock (flock(2)
//     needs no write permission), and so make Install and Uninstall wait
//     until their context ends. Where flock(2) fails on a directory (over
//     NFS, which emulates it with fcntl(2) locks, and an exclusive one of
//     those needs a file open for writing), Install and Uninstall fail, and
//     change nothing.
//   - A file's times move in steps of the kernel's clock tick (a few
//     milliseconds). A write into the file after Uninstall hashed it, within
//     the same tick as the file's change before it, leaves its times as they
//     were, and the file is removed with bytes that were not hashed. Only
//     the file's owner (the keeper, since Install wrote it) or root can
//     write into it.
//   - A receipt is a claim, as started_by_us is: a forged receipt that names
//     a file in a policy directory, with that file's hash, gets it removed.
//     Trust a receipt only if this tool made it, or stored it where only
//     this tool writes. The policy bounds what a forged one can reach.
//   - binary_path is the sender's choice: Install copies any regular file
//     that it can read, and the copy is mode 0755, readable by everyone. A
//     keeper that takes binary_path from a sender it does not trust
//     publishes every file it can read, unless it checks the source too.
//   - The policy's directories themselves are trusted: they are opened as
//     written, following any symlink in their path, once a call; the call
//     then keeps the directory it opened. Only what is inside them is
//     reached without following symlinks.
//   - A crash during Install (SIGKILL, power loss) can leave a temporary file
//     named .<binary_name>.<random>.tmp in the directory; no later call
//     removes it, since nothing proves it is Install's. So can an error
//     after which its removal fails (an append-only directory: see
//     Install above); the error then names the file.
//
// The package is written for Linux, which defines /proc/<pid>/exe; elsewhere
// Install and Uninstall check their messages and the policy, and then
// return an error that wraps errors.ErrUnsupported. It uses the standard
// library only.
package install

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/rbee-keeper/daemoncontract"
)

// Policy is what a receiver of install and uninstall messages allows.
type Policy struct {
	// Dirs are the directories binaries may be installed into and removed from:
	// absolute and clean. Dirs[0] is the target when a config has no target_path.
	//
	// A directory is allowed only as written, compared after filepath.Clean
	// (so a trailing / does not matter): a symlink to an allowed directory,
	// its parent, a subdirectory, or a name that merely starts with an
	// allowed one ("/opt/bin-evil" for "/opt/bin") is not allowed. A policy
	// without directories allows nothing, and one with a relative directory
	// is refused whole.
	Dirs []string
}

// The errors Install and Uninstall return, besides a *daemoncontract.FieldError
// for a message that fails Validate, errors that wrap fs.ErrNotExist for
// what is absent, and the context's error. Each is wrapped with the path and
// the reason: test with errors.Is.
var (
	// ErrNotAllowed: the directory is not one of the policy's Dirs.
	ErrNotAllowed = errors.New("install: the directory is not one of the policy's")
	// ErrNotOurs: the file is not the one the receipt describes (path, or
	// content), or the receipt has no sha256.
	ErrNotOurs = errors.New("install: not the file the receipt describes")
	// ErrRunning: a process is running the binary.
	ErrRunning = errors.New("install: a process is running the binary")
	// ErrNotRegular: a source or target that is not a regular file (device,
	// FIFO, directory; a symlink where a file is removed).
	ErrNotRegular = errors.New("install: not a regular file")
)

// Install installs the binary that cfg describes into a directory of p, and
// returns its receipt. See the package documentation for how, and for what
// it leaves behind on an error (nothing, but in the one case it names).
//
// cfg must pass Validate (else its *daemoncontract.FieldError is returned),
// and must have a binary_path: this installer finds no binary by itself. The
// directory is target_path, or p.Dirs[0] when cfg has none; it must be one
// of p.Dirs ([ErrNotAllowed]). The source must be a regular file, or a
// symlink to one; a directory, a device, a FIFO or a socket is
// [ErrNotRegular], refused before it is opened, so that a FIFO does not
// block, no writer waiting on it is let through, and no device's driver
// runs. The source is looked at through stat(2), then through a descriptor
// opened with O_PATH, which names the file without opening it (open(2)):
// fstat(2) on it must find the same regular file, and fstatfs(2) a file
// system of stored bytes. Only then is that very file opened to read,
// through /proc/self/fd (proc(5)), so a source swapped after the stat(2) is
// never opened to read. A pseudo-file of the kernel's, whose bytes are the
// kernel's state, is [ErrNotRegular] too, and the error names its file
// system: those of /proc, /sys, nsfs, mqueue and every other pseudo file
// system of linux/magic.h, and five more (see pseudoFS in fs_linux.go, and
// the README for why it is a denylist); one newer than that list is not
// refused.
//
// A directory or a special file at the target is [ErrNotRegular] too,
// looked for before the copy and again just before the rename (under the
// directory's lock), since rename(2) would replace a FIFO or a device
// without a word.
//
// The receipt's binary_path is <dir>/<binary_name>, its install_time the
// time of the rename in whole seconds (UTC), and its sha256 the hash of the
// bytes Install wrote, computed as it wrote them.
func Install(ctx context.Context, p Policy, cfg daemoncontract.InstallConfig) (daemoncontract.InstallResult, error) {
	if err := cfg.Validate(); err != nil {
		return daemoncontract.InstallResult{}, err
	}
	if cfg.BinaryPath == nil {
		return daemoncontract.InstallResult{}, errors.New("install: binary_path is required: this installer finds no binary by itself; name the file to install")
	}
	if err := p.check(); err != nil {
		return daemoncontract.InstallResult{}, err
	}
	if cfg.TargetPath == nil {
		// The default directory meets the rules a target_path meets.
		withDefault := cfg
		withDefault.TargetPath = &p.Dirs[0]
		if err := withDefault.Validate(); err != nil {
			return daemoncontract.InstallResult{}, fmt.Errorf("install: the policy's first directory, the default target, breaks a rule of InstallConfig: %w", err)
		}
		cfg = withDefault
	}
	dir, err := p.allowed(*cfg.TargetPath)
	if err != nil {
		return daemoncontract.InstallResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return daemoncontract.InstallResult{}, fmt.Errorf("install: %s: %w", cfg.BinaryName, err)
	}
	return install(ctx, dir, cfg.BinaryName, *cfg.BinaryPath)
}

// Uninstall removes the binary that cfg names, if receipt proves that it is
// the file Install wrote there and no process runs it. See the package
// documentation for every check, and for what it cannot know.
//
// It returns nil once the file is removed. Otherwise it has changed
// nothing, and returns: cfg's *daemoncontract.FieldError if cfg fails
// Validate; [ErrNotAllowed] for a directory outside p; [ErrNotOurs] for a
// receipt that names another path, has no sha256, fails Validate (its
// *daemoncontract.FieldError is wrapped too), or whose hash the file does
// not have; [ErrNotRegular] for a symlink, a directory or a special file at
// install_path; [ErrRunning] if a process runs it; an error that wraps
// fs.ErrNotExist if it is absent; the context's error if ctx ends first.
func Uninstall(ctx context.Context, p Policy, cfg daemoncontract.UninstallConfig, receipt daemoncontract.InstallResult) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := p.check(); err != nil {
		return err
	}
	dir, err := p.allowed(filepath.Dir(cfg.InstallPath))
	if err != nil {
		return err
	}
	switch {
	case receipt.BinaryPath != cfg.InstallPath:
		return fmt.Errorf("%w: the receipt is for %q, not %q", ErrNotOurs, receipt.BinaryPath, cfg.InstallPath)
	case receipt.SHA256 == nil:
		return fmt.Errorf("%w: the receipt for %s has no sha256, so nothing proves that the file there is the one installed (a receipt from before v0.2.0, or one a Rust peer wrote back)", ErrNotOurs, cfg.InstallPath)
	}
	if err := receipt.Validate(); err != nil {
		return fmt.Errorf("%w: the receipt for %s breaks a rule of InstallResult: %w", ErrNotOurs, cfg.InstallPath, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("install: uninstall %s: %w", cfg.InstallPath, err)
	}
	return uninstall(ctx, dir, filepath.Base(cfg.InstallPath), *receipt.SHA256)
}

// check reports whether p can allow anything: it has directories, and each
// is absolute.
func (p Policy) check() error {
	if len(p.Dirs) == 0 {
		return fmt.Errorf("%w: the policy has no directory", ErrNotAllowed)
	}
	for i, d := range p.Dirs {
		if !filepath.IsAbs(d) || strings.ContainsRune(d, 0) {
			return fmt.Errorf("%w: the policy's directory %d, %q, must be an absolute path", ErrNotAllowed, i, d)
		}
	}
	return nil
}

// allowed returns dir, cleaned, if it is one of p's directories, and
// ErrNotAllowed otherwise. Paths are compared as strings after
// filepath.Clean: no symlink is resolved, and no prefix is enough.
func (p Policy) allowed(dir string) (string, error) {
	clean := filepath.Clean(dir)
	for _, d := range p.Dirs {
		if filepath.Clean(d) == clean {
			return clean, nil
		}
	}
	return "", fmt.Errorf("%w: %q is not one of %q", ErrNotAllowed, dir, p.Dirs)
}

// wholeSeconds returns t as the wire carries it: whole seconds, in UTC.
func wholeSeconds(t time.Time) time.Time { return time.Unix(t.Unix(), 0).UTC() }

// chunk is how much the copy and the hash read at a time; the context is
// checked before each.
const chunk = 1 << 20

// copyHashed copies src to dst, and returns the SHA-256 of the bytes it
// copied, in lower-case hex: the hash of what dst was given, computed as it
// was given, never read back. It checks ctx before every chunk.
func copyHashed(ctx context.Context, dst io.Writer, src io.Reader) (string, error) {
	h := sha256.New()
	buf := make([]byte, chunk)
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return "", werr
			}
			h.Write(buf[:n]) // a hash.Hash never fails
		}
		if err == io.EOF {
			return hex.EncodeToString(h.Sum(nil)), nil
		}
		if err != nil {
			return "", err
		}
	}
}
