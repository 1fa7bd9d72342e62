package install_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rbee-keeper/daemoncontract"
	"github.com/rbee-keeper/daemoncontract/internal/testenv"
)

// helperMode names what the test binary does when it runs as a helper
// (see TestMain).
const helperMode = "INSTALL_TEST_HELPER"

// lockDir names the directory that a helper in mode "lock" locks.
const lockDir = "INSTALL_TEST_LOCK_DIR"

// The helper that exits its main thread must run TestMain on that thread:
// LockOSThread in init keeps the main goroutine there (runtime package).
func init() {
	if os.Getenv(helperMode) == "leader-exits" {
		runtime.LockOSThread()
	}
}

// The test binary doubles as the daemon that the tests install and run:
// with INSTALL_TEST_HELPER set it writes "ready" and waits for its stdin
// to close, so that it cannot outlive the test. The mode says what it does
// first: "wait" nothing; "nondumpable" makes itself not dumpable
// (prctl(2) PR_SET_DUMPABLE, as a daemon that handles secrets does);
// "leader-exits" ends its main thread, the thread group leader, and runs
// on in another thread (see leaderExits); "lock" takes the lock of the
// directory that INSTALL_TEST_LOCK_DIR names, as Install and Uninstall
// take it (flock(2) LOCK_EX), and holds it until it exits.
func TestMain(m *testing.M) {
	switch os.Getenv(helperMode) {
	case "wait":
		waitForStdin()
	case "nondumpable":
		const prSetDumpable = 4 // include/uapi/linux/prctl.h
		if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetDumpable, 0, 0); errno != 0 {
			os.Stderr.WriteString("prctl(PR_SET_DUMPABLE, 0): " + errno.Error() + "\n")
			os.Exit(2)
		}
		waitForStdin()
	case "leader-exits":
		leaderExits()
	case "lock":
		f, err := os.Open(os.Getenv(lockDir))
		if err == nil {
			err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		}
		if err != nil {
			os.Stderr.WriteString("lock: " + err.Error() + "\n")
			os.Exit(2)
		}
		waitForStdin()
	}
	os.Exit(m.Run())
}

// waitForStdin writes "ready", and exits once stdin closes.
func waitForStdin() {
	os.Stdout.WriteString("ready\n")
	_, _ = io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// leaderExits ends the main thread with exit(2), which ends one thread, not
// the process: the process runs on in its other threads, and its leader
// stays behind as a zombie until they end. Another goroutine writes "ready"
// once the leader is a zombie, and waits for stdin to close.
func leaderExits() {
	pid := os.Getpid()
	if tid := syscall.Gettid(); tid != pid {
		os.Stderr.WriteString("leader-exits: TestMain does not run on the main thread\n")
		os.Exit(2)
	}
	go func() {
		// proc(5): the third field of /proc/<pid>/task/<tid>/stat is the
		// thread's state; Z once the leader has exited.
		stat := "/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(pid) + "/stat"
		for {
			b, err := os.ReadFile(stat)
			if i := bytes.LastIndexByte(b, ')'); err == nil && i >= 0 && bytes.HasPrefix(b[i:], []byte(") Z")) {
				break
			}
			time.Sleep(time.Millisecond)
		}
		waitForStdin()
	}()
	// Through Syscall, not RawSyscall: the runtime hands this thread's P to
	// another thread, so the goroutine above runs.
	_, _, _ = syscall.Syscall(syscall.SYS_EXIT, 0, 0, 0)
}

// daemon is the binary_name of every install, and the daemon_name of every
// uninstall: install_path must end in it.
const daemon = "queen-rbee"

// newDir makes a new directory called name in the test's temporary
// directory (which is never a top-level one), and returns its path.
func newDir(t *testing.T, name string) string {
	t.Helper()
	d := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.Mkdir(d, 0o755))
	return d
}

// randomBytes returns n bytes that seed decides.
func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	_, _ = r.Read(b)
	return b
}

// writeFile writes data to path with mode, whatever the umask.
func writeFile(t *testing.T, path string, data []byte, mode fs.FileMode) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, data, mode))
	require.NoError(t, os.Chmod(path, mode))
}

// source writes data to a new executable file outside every policy
// directory, and returns its path.
func source(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(newDir(t, "build"), daemon)
	writeFile(t, p, data, 0o755)
	return p
}

// sum is the SHA-256 of data, in lower-case hex: computed here, never
// taken from the code under test.
func sum(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// hashFile returns the SHA-256 of what path holds now, or the error.
func hashFile(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "error: " + err.Error()
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "error: " + err.Error()
	}
	return hex.EncodeToString(h.Sum(nil))
}

// config is an InstallConfig that installs src into dir.
func config(src, dir string) daemoncontract.InstallConfig {
	return daemoncontract.InstallConfig{BinaryName: daemon, BinaryPath: &src, TargetPath: &dir}
}

// removal is the UninstallConfig of the daemon installed in dir.
func removal(dir string) daemoncontract.UninstallConfig {
	return daemoncontract.UninstallConfig{DaemonName: daemon, InstallPath: filepath.Join(dir, daemon)}
}

// fileState is what a test compares to say that a file is unchanged.
type fileState struct {
	Mode         fs.FileMode
	Ino, Nlink   uint64
	Size         int64
	Mtime, Ctime syscall.Timespec
	Sum, Link    string // a regular file's SHA-256; a symlink's target
}

// snapshot describes every file under roots, the roots included, without
// following a symlink: a directory's times move when an entry is created
// or removed in it, a file's when it is written, renamed or linked.
func snapshot(t *testing.T, roots ...string) map[string]fileState {
	t.Helper()
	out := map[string]fileState{}
	for _, root := range roots {
		require.NoError(t, filepath.WalkDir(root, func(path string, _ fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := os.Lstat(path)
			if err != nil {
				return err
			}
			st := fi.Sys().(*syscall.Stat_t)
			s := fileState{Mode: fi.Mode(), Ino: st.Ino, Nlink: uint64(st.Nlink), Size: fi.Size(), Mtime: st.Mtim, Ctime: st.Ctim}
			switch {
			case fi.Mode().IsRegular():
				s.Sum = hashFile(path)
			case fi.Mode()&fs.ModeSymlink != 0:
				s.Link, err = os.Readlink(path)
			}
			out[path] = s
			return err
		}))
	}
	return out
}

// withoutDirTimes drops the times of directories from s: for an error
// after which a temporary file was created and removed again.
func withoutDirTimes(s map[string]fileState) map[string]fileState {
	out := map[string]fileState{}
	for k, v := range s {
		if v.Mode.IsDir() {
			v.Mtime, v.Ctime = syscall.Timespec{}, syscall.Timespec{}
		}
		out[k] = v
	}
	return out
}

// entries lists the names in dir.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// watcher reports, through inotify(7), every time any process opens,
// reads, writes or changes a file: the kernel queues the event before the
// call returns, so what a call did is known once it has returned.
type watcher struct{ fd int }

// watch starts watching path (not following it, if it is a symlink).
func watch(t *testing.T, path string) *watcher {
	t.Helper()
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	require.NoError(t, err)
	t.Cleanup(func() { syscall.Close(fd) })
	_, err = syscall.InotifyAddWatch(fd, path, syscall.IN_ALL_EVENTS|syscall.IN_DONT_FOLLOW)
	require.NoError(t, err)
	return &watcher{fd}
}

// events returns the events seen since the watch began, or since the last
// call, by name.
func (w *watcher) events(t *testing.T) []string {
	t.Helper()
	names := map[uint32]string{
		syscall.IN_ACCESS: "read", syscall.IN_MODIFY: "written", syscall.IN_ATTRIB: "attributes changed",
		syscall.IN_CLOSE_WRITE: "closed after writing", syscall.IN_CLOSE_NOWRITE: "closed", syscall.IN_OPEN: "opened",
		syscall.IN_MOVE_SELF: "moved", syscall.IN_DELETE_SELF: "deleted",
	}
	var out []string
	buf := make([]byte, 64<<10)
	for {
		n, err := syscall.Read(w.fd, buf)
		if errors.Is(err, syscall.EAGAIN) {
			return out
		}
		require.NoError(t, err)
		for off := 0; off+16 <= n; {
			mask := binary.NativeEndian.Uint32(buf[off+4:])
			for bit, name := range names {
				if mask&bit != 0 {
					out = append(out, name)
				}
			}
			off += 16 + int(binary.NativeEndian.Uint32(buf[off+12:]))
		}
	}
}

// countingContext is a context whose Err calls hook first: Install and
// Uninstall check their context before every MiB they read, so hook runs
// in the middle of a copy or a hash, at a known point, without any timing.
type countingContext struct {
	context.Context
	hook func()
}

func (c countingContext) Err() error {
	c.hook()
	return c.Context.Err()
}

// temporaryFiles returns the size of each file in dir other than the
// daemon's binary: Install's temporary files.
func temporaryFiles(t *testing.T, dir string) []int64 {
	t.Helper()
	var sizes []int64
	for _, name := range entries(t, dir) {
		if name == daemon {
			continue
		}
		fi, err := os.Lstat(filepath.Join(dir, name))
		require.NoError(t, err)
		sizes = append(sizes, fi.Size())
	}
	return sizes
}

// helper is the test binary, started from an installed copy.
type helper struct {
	cmd   *exec.Cmd
	stdin io.Closer
	once  sync.Once
}

// start runs the binary at path as a helper that only waits (see
// TestMain), and returns once it is ready. It stops when the test ends, if
// not before.
func start(t *testing.T, path string) *helper {
	t.Helper()
	return startHelper(t, path, "wait")
}

// startHelper is start, for a helper in the given mode.
func startHelper(t *testing.T, path, mode string) *helper {
	t.Helper()
	cmd := exec.Command(path)
	cmd.Env = append(os.Environ(), helperMode+"="+mode, "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	h := &helper{cmd: cmd, stdin: stdin}
	t.Cleanup(func() { h.stop(t) })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "ready\n", line)
	return h
}

// stop makes the helper exit, and reaps it.
func (h *helper) stop(t *testing.T) {
	h.once.Do(func() {
		_ = h.stdin.Close()
		err := h.cmd.Wait()
		require.NoError(t, err, "the helper exits on its own once its stdin closes")
	})
}

// fifoWithWriter makes a FIFO at path with a writer waiting to write
// payload into it: the writer's open returns only once some process opens
// the FIFO for reading. drain opens it for reading itself, and returns
// what the writer wrote: all of payload if no one opened the FIFO before.
func fifoWithWriter(t *testing.T, path string, payload []byte) (drain func() []byte) {
	t.Helper()
	require.NoError(t, syscall.Mkfifo(path, 0o644))
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		_, _ = f.Write(payload)
		f.Close()
	}()
	var once sync.Once
	var got []byte
	drain = func() []byte {
		once.Do(func() {
			f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
			require.NoError(t, err)
			defer f.Close()
			<-wrote // the writer's open returned when the FIFO was opened for reading above, or earlier
			got, _ = io.ReadAll(f)
		})
		return got
	}
	t.Cleanup(func() { drain() })
	return drain
}

// mknodNull makes a character device node at path with the numbers of
// /dev/null (1, 3). Only root may; it skips, or fails under
// testenv.RequireNamespaces, where it cannot.
func mknodNull(t *testing.T, path string) {
	t.Helper()
	const major, minor = 1, 3
	dev := (minor & 0xff) | (major&0xfff)<<8 // makedev(3), for small numbers
	if err := syscall.Mknod(path, syscall.S_IFCHR|0o600, dev); err != nil {
		testenv.Skipf(t, "cannot make a device node (mknod needs root and CAP_MKNOD): %v", err)
	}
}

// holdsOpen reports whether this process has a descriptor open on path
// (proc(5): /proc/self/fd/<n> is a link to the file n refers to).
func holdsOpen(t *testing.T, path string) bool {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	for _, fd := range fds {
		if target, err := os.Readlink("/proc/self/fd/" + fd.Name()); err == nil && target == path {
			return true
		}
	}
	return false
}

// returns calls f, and fails the test if f has not returned after 30
// seconds: a FIFO opened by mistake blocks forever. It is a bound on a
// hang, not a measure of time.
func returns[T any](t *testing.T, f func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- f() }()
	select {
	case v := <-done:
		return v
	case <-time.After(30 * time.Second):
		t.Fatal("blocked for 30 seconds: a FIFO was opened?")
	}
	panic("unreachable")
}
