package server

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/apphub/apphub-infra/automation"
)

// Operation statuses.
const (
	StatusQueued    = "queued"
	StatusRunning   = "running"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
)

// Operation kinds.
const (
	KindPreviewUp      = "preview-up"
	KindPreviewDestroy = "preview-destroy"
	KindBuildRun       = "build-run"
)

// maxEvents bounds the events kept per operation.
const maxEvents = 500

// Operation is an accepted request and its progress.
type Operation struct {
	ID         string             `json:"id"`
	Kind       string             `json:"kind"`
	Target     string             `json:"target"`
	Status     string             `json:"status"`
	Reason     string             `json:"reason,omitempty"`
	ErrorKind  string             `json:"errorKind,omitempty"`
	Spec       json.RawMessage    `json:"spec,omitempty"`
	Result     json.RawMessage    `json:"result,omitempty"`
	Attempts   int                `json:"attempts"`
	CreatedAt  time.Time          `json:"createdAt"`
	StartedAt  *time.Time         `json:"startedAt,omitempty"`
	FinishedAt *time.Time         `json:"finishedAt,omitempty"`
	Events     []automation.Event `json:"events,omitempty"`
	Links      map[string]string  `json:"links,omitempty"`
}

func (o *Operation) done() bool { return o.Status == StatusSucceeded || o.Status == StatusFailed }

// store persists operations as one JSON file each, written atomically, so
// an accepted request survives a crash or restart.
type store struct {
	dir string
	mu  sync.Mutex
	ops map[string]*Operation
	// subscribers wait for an operation's events.
	subs map[string][]chan struct{}
}

func openStore(dir string) (*store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("operations dir: %w", err)
	}
	s := &store{dir: dir, ops: map[string]*Operation{}, subs: map[string][]chan struct{}{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		var op Operation
		if err := json.Unmarshal(b, &op); err != nil {
			return nil, fmt.Errorf("operation %s: %w", e.Name(), err)
		}
		s.ops[op.ID] = &op
	}
	return s, nil
}

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b)
}

// errBusy is returned when the target already has an unfinished operation.
var errBusy = errors.New("an operation on this target is already queued or running")

// create persists a new queued operation unless the target is busy.
func (s *store) create(kind, target string, spec any) (*Operation, error) {
	raw, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.ops {
		if o.Target == targetKey(kind, target) && !o.done() {
			return o, errBusy
		}
	}
	op := &Operation{ID: newID(), Kind: kind, Target: targetKey(kind, target), Status: StatusQueued, Spec: raw, CreatedAt: time.Now().UTC()}
	if err := s.writeLocked(op); err != nil {
		return nil, err
	}
	s.ops[op.ID] = op
	return copyOp(op), nil
}

// targetKey puts previews and builds in separate namespaces of targets.
func targetKey(kind, target string) string {
	if kind == KindBuildRun {
		return "build/" + target
	}
	return "preview/" + target
}

func (s *store) writeLocked(op *Operation) error {
	b, err := json.MarshalIndent(op, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(s.dir, op.ID+".json")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// update applies fn to an operation and persists it.
func (s *store) update(id string, fn func(*Operation)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	op, ok := s.ops[id]
	if !ok {
		return fmt.Errorf("operation %s: not found", id)
	}
	fn(op)
	s.notifyLocked(id)
	return s.writeLocked(op)
}

// addEvent records an event in memory; events are persisted with the next
// status change rather than on every line.
func (s *store) addEvent(target string, e automation.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, op := range s.ops {
		if op.Target == target && op.Status == StatusRunning {
			op.Events = append(op.Events, e)
			if len(op.Events) > maxEvents {
				op.Events = op.Events[len(op.Events)-maxEvents:]
			}
			s.notifyLocked(op.ID)
		}
	}
}

func (s *store) notifyLocked(id string) {
	for _, ch := range s.subs[id] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (s *store) subscribe(id string) (chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	s.subs[id] = append(s.subs[id], ch)
	s.mu.Unlock()
	return ch, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		subs := s.subs[id]
		for i, c := range subs {
			if c == ch {
				s.subs[id] = append(subs[:i], subs[i+1:]...)
				break
			}
		}
	}
}

func (s *store) get(id string) (*Operation, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	op, ok := s.ops[id]
	if !ok {
		return nil, false
	}
	return copyOp(op), true
}

// unfinished lists queued or running operations, oldest first.
func (s *store) unfinished() []*Operation {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Operation
	for _, o := range s.ops {
		if !o.done() {
			out = append(out, copyOp(o))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out
}

// latest returns the newest operation on a target.
func (s *store) latest(kind, target string) (*Operation, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var best *Operation
	for _, o := range s.ops {
		if o.Target == targetKey(kind, target) && (best == nil || o.CreatedAt.After(best.CreatedAt)) {
			best = o
		}
	}
	if best == nil {
		return nil, false
	}
	return copyOp(best), true
}

func copyOp(o *Operation) *Operation {
	c := *o
	c.Events = append([]automation.Event(nil), o.Events...)
	return &c
}
