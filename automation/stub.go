package automation

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/apphub/apphub-infra/stacks"
)

// Stub execution mode records each request and creates nothing, as the
// catalog's stub mode does; every result says Stub: true.

type stubRecord struct {
	Kind     string            `json:"kind"`
	ID       string            `json:"id"`
	Config   map[string]string `json:"config"`
	Recorded time.Time         `json:"recorded"`
	Note     string            `json:"note"`
}

const stubNote = "stub execution mode: request recorded, nothing created"

func (m *Manager) stubPath(kind, id string) string {
	return filepath.Join(m.opts.StateDir, "stub", kind, id+".json")
}

func (m *Manager) stubWrite(kind, id string, cfg map[string]string) (*stubRecord, error) {
	rec := &stubRecord{Kind: kind, ID: id, Config: cfg, Recorded: m.opts.Now().UTC(), Note: stubNote}
	path := m.stubPath(kind, id)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return nil, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return nil, err
	}
	return rec, os.Rename(tmp, path)
}

func (m *Manager) stubRead(op, kind, id string) (*stubRecord, error) {
	b, err := os.ReadFile(m.stubPath(kind, id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, &Error{Kind: KindNotFound, Op: op, Stack: kind + "-" + id, Reason: "no stub record"}
	}
	if err != nil {
		return nil, err
	}
	var rec stubRecord
	return &rec, json.Unmarshal(b, &rec)
}

// stubURL renders the URL the preview would have, from the catalog's own
// template setting, so the catalog shows something plausible.
func stubURL(launch string) string {
	t, err := stacks.CatalogPreviewTemplate(stacks.OSEnv)
	if err != nil {
		return ""
	}
	r, err := t.Render(launch)
	if err != nil {
		return ""
	}
	return r.URL
}

func (m *Manager) stubPreviewUp(spec PreviewSpec, cfg map[string]string) (*PreviewResult, error) {
	rec, err := m.stubWrite("preview", spec.Launch, cfg)
	if err != nil {
		return nil, fmt.Errorf("preview up %s: recording stub request: %w", PreviewStack(spec.Launch), err)
	}
	return stubPreview(rec), nil
}

func stubPreview(rec *stubRecord) *PreviewResult {
	return &PreviewResult{Launch: rec.ID, Stack: PreviewStack(rec.ID), State: StateStub, Stub: true,
		URL: stubURL(rec.ID), ExpiresAt: rec.Config["expiresAt"], Outputs: map[string]any{"note": rec.Note}}
}

func (m *Manager) stubPreviewGet(launch string) (*PreviewResult, error) {
	rec, err := m.stubRead("preview get", "preview", launch)
	if err != nil {
		return nil, err
	}
	return stubPreview(rec), nil
}

func (m *Manager) stubPreviewDestroy(launch string) (*PreviewResult, error) {
	err := os.Remove(m.stubPath("preview", launch))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return &PreviewResult{Launch: launch, Stack: PreviewStack(launch), State: StateDestroyed, Stub: true,
		AlreadyGone: errors.Is(err, os.ErrNotExist)}, nil
}

func (m *Manager) stubPreviewList() ([]PreviewListItem, error) {
	ids, err := m.stubIDs("preview")
	items := []PreviewListItem{}
	for _, id := range ids {
		items = append(items, PreviewListItem{Launch: id, Stack: PreviewStack(id), Stub: true})
	}
	return items, err
}

// stubIDs lists the recorded requests of a kind, sorted.
func (m *Manager) stubIDs(kind string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(m.opts.StateDir, "stub", kind))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var ids []string
	for _, e := range entries {
		if id, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

func (m *Manager) stubBuildRun(spec BuildSpec, cfg map[string]string) (*BuildResult, error) {
	rec, err := m.stubWrite("build", spec.ID, cfg)
	if err != nil {
		return nil, fmt.Errorf("build run %s: recording stub request: %w", BuildStack(spec.ID), err)
	}
	return stubBuild(rec), nil
}

func stubBuild(rec *stubRecord) *BuildResult {
	return &BuildResult{ID: rec.ID, Stack: BuildStack(rec.ID), State: StateStub, Stub: true,
		Outputs: map[string]any{"note": rec.Note, "imageRepository": rec.Config["imageRepository"], "imageTag": rec.Config["imageTag"]}}
}

func (m *Manager) stubBuildGet(id string) (*BuildResult, error) {
	rec, err := m.stubRead("build get", "build", id)
	if err != nil {
		return nil, err
	}
	return stubBuild(rec), nil
}
