// Package pgtest starts throwaway PostgreSQL clusters for tests: initdb
// and pg_ctl on a loopback port under a temporary directory, stopped (and
// removed) by the test that started them. Nothing is mocked.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is one running cluster.
type Server struct {
	Dir  string
	Port int
	bin  string
	cred *syscall.Credential
	uid  int
	// also is an address listened on besides 127.0.0.1; trusted, the
	// network whose clients may connect through it.
	also, trusted string
}

// Option changes how Start runs a cluster.
type Option func(*Server)

// ListenAlso listens on addr too and trusts clients of the network cidr,
// for pods that reach the server on a node's address.
func ListenAlso(addr, cidr string) Option {
	return func(s *Server) { s.also, s.trusted = addr, cidr }
}

// binDir finds initdb and pg_ctl on PATH or in Debian's versioned dirs.
func binDir() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Strings(dirs)
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "pg_ctl")); err == nil {
			return dirs[i], nil
		}
	}
	return "", errors.New("no PostgreSQL server binaries (pg_ctl, initdb) on PATH or in /usr/lib/postgresql/*/bin: apt-get install postgresql")
}

// credential runs the server as the postgres user when we are root:
// PostgreSQL refuses to run as root.
func credential() (*syscall.Credential, int, error) {
	if os.Geteuid() != 0 {
		return nil, os.Geteuid(), nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, 0, fmt.Errorf("running as root needs a postgres user to run the server: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, uid, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start creates and starts a cluster.
func Start(opts ...Option) (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	cred, uid, err := credential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "apphub-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, bin: bin, cred: cred, uid: uid}
	for _, o := range opts {
		o(s)
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	if out, err := s.run("initdb", "-D", s.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	if err := s.trust(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if s.Port, err = freePort(); err != nil {
		return nil, err
	}
	if err := s.start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func (s *Server) data() string { return filepath.Join(s.Dir, "data") }

func (s *Server) run(name string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// trust lets the ListenAlso network in without a password, as initdb's
// --auth=trust does for loopback.
func (s *Server) trust() error {
	if s.trusted == "" {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(s.data(), "pg_hba.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(f, "host all all %s trust\n", s.trusted); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (s *Server) start() error {
	listen := "127.0.0.1"
	if s.also != "" {
		listen += "," + s.also
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=%s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300", s.Port, s.Dir, listen)
	if out, err := s.run("pg_ctl", "-D", s.data(), "-o", opts, "-l", filepath.Join(s.Dir, "server.log"), "-w", "-t", "60", "start"); err != nil {
		return fmt.Errorf("pg_ctl start: %v: %s", err, out)
	}
	return nil
}

// Stop stops the cluster at once and removes its files.
func (s *Server) Stop() error {
	out, err := s.run("pg_ctl", "-D", s.data(), "-m", "immediate", "-w", "stop")
	_ = os.RemoveAll(s.Dir)
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %v: %s", err, out)
	}
	return nil
}

// Restart stops the server (closing every session, as a crash or a
// failover would) and starts it again on the same port.
func (s *Server) Restart(down time.Duration) error {
	if out, err := s.run("pg_ctl", "-D", s.data(), "-m", "fast", "-w", "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop: %v: %s", err, out)
	}
	time.Sleep(down)
	return s.start()
}

// URL is a connection URL of database db.
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, db)
}

var dbSeq atomic.Int64

// NewDatabase creates an empty database and returns its URL.
func (s *Server) NewDatabase(ctx context.Context, prefix string) (string, error) {
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("%s_%d_%d", strings.ToLower(prefix), os.Getpid(), dbSeq.Add(1))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", err
	}
	return s.URL(name), nil
}

// Log is the server's log, for failure messages.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "server.log"))
	return string(b)
}

// Require starts a cluster for one test and stops it when the test ends.
// Without PostgreSQL binaries the test is skipped, saying why — unless
// APPHUB_REQUIRE_POSTGRES=1 (CI sets it), where that is a failure.
func Require(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := Start(opts...)
	if err != nil {
		if os.Getenv("APPHUB_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("PostgreSQL is required (APPHUB_REQUIRE_POSTGRES=1) but cannot be started: %v", err)
		}
		t.Skipf("no PostgreSQL can be started here, skipping the PostgreSQL tier: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Logf("stopping PostgreSQL: %v", err)
		}
	})
	return s
}
