package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// stateLockFile marks the state directory a serve process owns.
const stateLockFile = "serve.lock"

// stateHolder is what the lock file says about its holder.
type stateHolder struct {
	PID   int       `json:"pid"`
	Host  string    `json:"host"`
	Since time.Time `json:"since"`
}

// lockStateDir gives this process the state directory for as long as it
// runs: two servers on one directory would share one SQLite queue, one
// file:// backend and the stacks' work directories. The kernel holds the
// lock (flock), so a holder that dies leaves nothing to break by hand.
func lockStateDir(dir string) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, stateLockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state directory lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("state directory lock %s: %w", path, err)
		}
		var h stateHolder
		b, _ := os.ReadFile(path)
		if json.Unmarshal(b, &h) != nil || h.PID == 0 {
			return nil, fmt.Errorf("state directory %s is served by another process (it holds %s); give this one its own --state-dir", dir, path)
		}
		return nil, fmt.Errorf("state directory %s is served by pid %d on %s since %s (it holds %s); stop it, or give this one its own --state-dir",
			dir, h.PID, h.Host, h.Since.Format(time.RFC3339), path)
	}
	host, _ := os.Hostname()
	b, _ := json.Marshal(stateHolder{PID: os.Getpid(), Host: host, Since: time.Now().UTC().Truncate(time.Second)})
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt(append(b, '\n'), 0)
	}
	return func() { _ = f.Close() }, nil
}
