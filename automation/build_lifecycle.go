package automation

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/apphub/apphub-infra/stacks"
)

// BuildListItem is one build stack.
type BuildListItem struct {
	ID               string `json:"id"`
	Stack            string `json:"stack"`
	LastUpdate       string `json:"lastUpdate,omitempty"`
	UpdateInProgress bool   `json:"updateInProgress"`
	Resources        int    `json:"resources"`
	Stub             bool   `json:"stub,omitempty"`
}

// BuildList lists the build stacks, by id.
func (m *Manager) BuildList(ctx context.Context) ([]BuildListItem, error) {
	if m.opts.BuildMode == ModeStub {
		return m.stubBuildList()
	}
	summaries, err := m.list(ctx, "build list", stacks.BuildProject, m.opts.BuildProgram)
	if err != nil {
		return nil, err
	}
	items := []BuildListItem{}
	for _, s := range summaries {
		id, ok := strings.CutPrefix(s.Name, BuildStack(""))
		if !ok {
			continue
		}
		it := BuildListItem{ID: id, Stack: s.Name, LastUpdate: s.LastUpdate, UpdateInProgress: s.UpdateInProgress}
		if s.ResourceCount != nil {
			it.Resources = *s.ResourceCount
		}
		if _, busy := m.Busy(stacks.BuildProject, s.Name); busy {
			it.UpdateInProgress = true
		}
		items = append(items, it)
	}
	return items, nil
}

// BuildDestroy deletes a build's Job (and its pods) and removes its stack
// from the backend; the image stays in the registry. A build that does
// not exist is already destroyed: success, AlreadyGone.
func (m *Manager) BuildDestroy(ctx context.Context, id string) (*BuildResult, error) {
	const op = "build destroy"
	stack := BuildStack(id)
	if err := ValidBuild(op, id); err != nil {
		return nil, err
	}
	if m.opts.BuildMode == ModeStub {
		err := os.Remove(m.stubPath("build", id))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		return &BuildResult{ID: id, Stack: stack, State: StateDestroyed, Stub: true, AlreadyGone: errors.Is(err, os.ErrNotExist)}, nil
	}
	res, gone, err := m.destroy(ctx, op, stacks.BuildProject, stack, m.opts.BuildProgram)
	if err != nil {
		r := &BuildResult{ID: id, Stack: stack, State: StateFailed}
		if res != nil {
			r.Recovered = res.Recovered
		}
		return r, err
	}
	return &BuildResult{ID: id, Stack: stack, State: StateDestroyed, AlreadyGone: gone, LastUpdate: res.Update, Recovered: res.Recovered}, nil
}

// BuildJobTTL is how long the platform keeps finished build Jobs
// (its buildJobTtlSeconds output).
func (m *Manager) BuildJobTTL(ctx context.Context) (time.Duration, error) {
	outs, err := m.platformOutputs(ctx)
	if err != nil {
		return 0, err
	}
	secs, ok := outs[stacks.OutBuildJobTTLSeconds].(float64)
	if !ok || secs <= 0 {
		return 0, fmt.Errorf("platform output %s is missing", stacks.OutBuildJobTTLSeconds)
	}
	return time.Duration(secs) * time.Second, nil
}

func (m *Manager) stubBuildList() ([]BuildListItem, error) {
	ids, err := m.stubIDs("build")
	items := []BuildListItem{}
	for _, id := range ids {
		items = append(items, BuildListItem{ID: id, Stack: BuildStack(id), Stub: true})
	}
	return items, err
}
