package queue

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/automation"
)

type recordingRunner struct{ calls []string }

func (r *recordingRunner) PreviewUp(_ context.Context, s automation.PreviewSpec) (*automation.PreviewResult, error) {
	r.calls = append(r.calls, "up "+s.Launch+" "+s.Image)
	return &automation.PreviewResult{Launch: s.Launch}, nil
}

func (r *recordingRunner) PreviewDestroy(_ context.Context, launch string) (*automation.PreviewResult, error) {
	r.calls = append(r.calls, "destroy "+launch)
	return &automation.PreviewResult{Launch: launch}, nil
}

func (r *recordingRunner) BuildRun(_ context.Context, s automation.BuildSpec) (*automation.BuildResult, error) {
	r.calls = append(r.calls, "build "+s.ID)
	return &automation.BuildResult{ID: s.ID}, nil
}

func (r *recordingRunner) BuildDestroy(_ context.Context, id string) (*automation.BuildResult, error) {
	r.calls = append(r.calls, "build destroy "+id)
	return &automation.BuildResult{ID: id}, nil
}

func TestDispatchRunsEachKindOnTheRunner(t *testing.T) {
	spec := func(v any) json.RawMessage { b, _ := json.Marshal(v); return b }
	tests := []struct {
		op   Operation
		call string
		err  string
	}{
		{Operation{ID: "1", Kind: KindPreviewUp, Spec: spec(automation.PreviewSpec{Launch: "pr-1", Image: "r.test/a:1"})}, "up pr-1 r.test/a:1", ""},
		{Operation{ID: "2", Kind: KindPreviewDestroy, Spec: spec("pr-1")}, "destroy pr-1", ""},
		{Operation{ID: "3", Kind: KindBuildRun, Spec: spec(automation.BuildSpec{ID: "b-1"})}, "build b-1", ""},
		{Operation{ID: "4", Kind: KindBuildDestroy, Spec: spec("b-1")}, "build destroy b-1", ""},
		{Operation{ID: "5", Kind: KindPreviewDestroy, Spec: spec(42)}, "", "operation 5: decoding its spec"},
		{Operation{ID: "6", Kind: "platform-up"}, "", `unknown operation kind "platform-up"`},
	}
	for _, tt := range tests {
		t.Run(tt.op.Kind+" "+tt.op.ID, func(t *testing.T) {
			r := &recordingRunner{}
			_, err := Dispatch(r)(t.Context(), &tt.op, nil)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				assert.Empty(t, r.calls, "nothing runs")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, []string{tt.call}, r.calls)
		})
	}
}
