package testpg

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// port only names the socket file (.s.PGSQL.5432): the server listens on no
// TCP port and its socket directory is private, so every server can use the
// default.
const port = 5432

// dirPrefix names the temporary directories of testpg servers, so that a
// later run can find those a killed test binary left behind.
const dirPrefix = "salon-testpg-"

const (
	startTimeout = time.Minute
	stopTimeout  = 30 * time.Second
)

// server is one running PostgreSQL server and the directory holding it.
type server struct {
	dir     string // temporary root: data/, sock/, postgres.log, owner
	sockDir string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the postmaster has exited
	waitErr error         // the postmaster's exit status, once exited is closed
	admin   *sql.DB
}

// identity is how to run the PostgreSQL programs, which refuse to run as
// root.
type identity struct {
	attr  *syscall.SysProcAttr
	chown func(path string) error // gives a path to the user the programs run as
	desc  string
}

// startServer runs initdb and starts postgres; it returns once the server
// accepts connections.
func startServer() (*server, error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	id, err := chooseIdentity()
	if err != nil {
		return nil, err
	}
	removeStaleDirs()

	dir, err := os.MkdirTemp(baseDir(), dirPrefix)
	if err != nil {
		return nil, fmt.Errorf("testpg: %w", err)
	}
	s := &server{
		dir:     dir,
		sockDir: filepath.Join(dir, "sock"),
		logPath: filepath.Join(dir, "postgres.log"),
		exited:  make(chan struct{}),
	}
	if err := s.prepare(id); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.initdb(bin, id); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.start(bin, id); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.waitReady(); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// prepare makes the directories and records which process owns them.
func (s *server) prepare(id identity) error {
	// The server's user must reach its directories; MkdirTemp makes 0700.
	if err := os.Chmod(s.dir, 0o755); err != nil {
		return fmt.Errorf("testpg: %w", err)
	}
	if err := os.Mkdir(s.sockDir, 0o755); err != nil {
		return fmt.Errorf("testpg: %w", err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, "owner"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return fmt.Errorf("testpg: %w", err)
	}
	for _, p := range []string{s.dir, s.sockDir} {
		if err := id.chown(p); err != nil {
			return fmt.Errorf("testpg: give %s to the server's user: %w", p, err)
		}
	}
	return nil
}

func (s *server) initdb(bin string, id identity) error {
	cmd := exec.Command(filepath.Join(bin, "initdb"),
		"--pgdata", filepath.Join(s.dir, "data"),
		"--username", superuser,
		"--auth", "trust",
		"--encoding", "UTF8",
		"--locale", "C",
		"--no-sync",
		"--no-instructions")
	cmd.Env = childEnv()
	cmd.SysProcAttr = id.attr
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("testpg: initdb (%s) failed: %v\n%s", id.desc, err, out)
	}
	return nil
}

// start runs the postmaster as a child of this process. It is told to quit
// when this process dies (Pdeathsig), so a test binary killed by a timeout
// does not leave a server behind.
func (s *server) start(bin string, id identity) error {
	logFile, err := os.Create(s.logPath)
	if err != nil {
		return fmt.Errorf("testpg: %w", err)
	}
	defer logFile.Close()
	cmd := exec.Command(filepath.Join(bin, "postgres"),
		"-D", filepath.Join(s.dir, "data"),
		"-k", s.sockDir,
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=",
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "max_connections=300",
		// Shared memory segments as files in the data directory, so
		// that a server killed with its test binary leaves nothing
		// outside it.
		"-c", "dynamic_shared_memory_type=mmap",
		"-c", "logging_collector=off")
	cmd.Env = childEnv()
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	attr := *id.attr
	attr.Pdeathsig = syscall.SIGQUIT // immediate shutdown
	// The server and its backends are one group, so a signal from a
	// terminal running the tests reaches them through us, not directly.
	attr.Setpgid = true
	cmd.SysProcAttr = &attr
	s.cmd = cmd

	started := make(chan error, 1)
	go func() {
		// Linux sends Pdeathsig when the thread that forked the child
		// exits, not the process. Pin this goroutine to its thread and
		// keep it, parked in Wait, for as long as the server lives.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("testpg: start postgres (%s): %w", id.desc, err)
	}
	return nil
}

// waitReady polls the server until it accepts a query, it exits, or
// startTimeout passes.
func (s *server) waitReady() error {
	admin, err := s.openAdmin()
	if err != nil {
		return fmt.Errorf("testpg: %w", err)
	}
	s.admin = admin
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = admin.PingContext(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("testpg: postgres exited during start-up (%v)%s", s.waitErr, s.logTail())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("testpg: postgres did not accept connections within %s: %v%s", startTimeout, err, s.logTail())
		}
	}
}

// stop shuts the server down (fast shutdown: sessions are ended) and removes
// its directory.
func (s *server) stop() error {
	if s.admin != nil {
		s.admin.Close()
	}
	var err error
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.exited:
		case <-time.After(stopTimeout):
			s.cmd.Process.Kill()
			<-s.exited
			err = fmt.Errorf("postgres did not stop within %s; killed it", stopTimeout)
		}
	}
	if rmErr := os.RemoveAll(s.dir); rmErr != nil && err == nil {
		err = rmErr
	}
	return err
}

// logTail is the end of the server's log, to explain a failure.
func (s *server) logTail() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return ""
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return "\npostgres log:\n" + string(b)
}

// findBinaries returns the directory holding initdb and postgres: the newest
// Debian installation under /usr/lib/postgresql, else the one on PATH.
func findBinaries() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return versionOf(b) - versionOf(a) })
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		d := filepath.Dir(p)
		if isExecutable(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", errors.New("PostgreSQL not found: install the Debian package postgresql (apt-get install -y postgresql)")
}

// versionOf reads the major version from /usr/lib/postgresql/{version}/bin.
func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// chooseIdentity decides which user runs initdb and postgres. Not root: this
// process's own user. Root: the postgres system user that Debian's package
// creates. Root of a user namespace that maps only itself (unshare
// --map-root-user, as make test uses when not run as root): no other user
// exists to switch to, so the programs run in a nested user namespace where
// this same user appears as the postgres user rather than as root.
func chooseIdentity() (identity, error) {
	if os.Geteuid() != 0 {
		return identity{attr: &syscall.SysProcAttr{}, chown: func(string) error { return nil }, desc: "as the current user"}, nil
	}
	uid, gid, err := postgresUser()
	if err != nil {
		return identity{}, err
	}
	if inInitialUserNamespace() {
		return identity{
			attr: &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}},
			chown: func(p string) error {
				return os.Chown(p, int(uid), int(gid))
			},
			desc: "as the postgres system user",
		}, nil
	}
	return identity{
		attr: &syscall.SysProcAttr{
			Cloneflags:  syscall.CLONE_NEWUSER,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: int(uid), HostID: 0, Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: int(gid), HostID: 0, Size: 1}},
		},
		chown: func(string) error { return nil },
		desc:  "in a nested user namespace",
	}, nil
}

// postgresUser looks up the system user the programs run as when salon's
// tests run as root. initdb needs a user that exists in /etc/passwd.
func postgresUser() (uid, gid uint32, err error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return 0, 0, fmt.Errorf("testpg: PostgreSQL refuses to run as root and the postgres system user is missing (%v): reinstall the Debian package postgresql-common, or run the tests as another user", err)
	}
	id, err1 := strconv.ParseUint(u.Uid, 10, 32)
	g, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("testpg: postgres user has uid %q gid %q: not numbers", u.Uid, u.Gid)
	}
	return uint32(id), uint32(g), nil
}

// inInitialUserNamespace reports whether this process sees every user ID,
// as it does outside any user namespace.
func inInitialUserNamespace() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return true
	}
	return strings.Join(strings.Fields(string(b)), " ") == "0 0 4294967295"
}

// childEnv is the environment of the PostgreSQL programs: enough to run, in
// the C locale so that messages and sorting do not depend on the machine.
func childEnv() []string {
	return []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C", "LANG=C"}
}

// shmDir is memory-backed on Linux. A server there starts in a fraction of
// the time and creates a database in about 12 ms instead of 230 ms on the
// disk of the test machine, even with fsync off.
const shmDir = "/dev/shm"

// minShmFree is the room baseDir wants in shmDir: a server takes about 40
// MB and each live test database 8 MB more. Containers often give /dev/shm
// only 64 MB.
const minShmFree = 1 << 30

// baseDir is where servers put their directories: shmDir when it has room,
// else the usual temporary directory.
func baseDir() string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(shmDir, &st); err == nil && st.Bavail*uint64(st.Bsize) >= minShmFree {
		if f, err := os.CreateTemp(shmDir, dirPrefix+"probe-"); err == nil {
			f.Close()
			os.Remove(f.Name())
			return shmDir
		}
	}
	return os.TempDir()
}

// removeStaleDirs deletes the directories of servers whose test binary was
// killed before Run could clean up (their server quit with it). A directory
// counts as stale when the process that made it is gone and it is old
// enough not to belong to a binary that is starting in another PID
// namespace.
func removeStaleDirs() {
	var dirs []string
	for _, base := range []string{shmDir, os.TempDir()} {
		found, _ := filepath.Glob(filepath.Join(base, dirPrefix+"*"))
		dirs = append(dirs, found...)
	}
	for _, d := range dirs {
		fi, err := os.Stat(d)
		if err != nil || time.Since(fi.ModTime()) < 10*time.Minute {
			continue
		}
		b, err := os.ReadFile(filepath.Join(d, "owner"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(d)
		}
	}
}
