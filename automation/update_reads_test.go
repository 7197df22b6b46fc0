package automation

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeCLI records the commands that reach the CLI and fails the ones named.
type fakeCLI struct {
	auto.PulumiCommand
	calls []string
	fail  map[string]bool
}

func (f *fakeCLI) Run(_ context.Context, _ string, _ io.Reader, _, _ []io.Writer, _ []string, args ...string) (string, string, int, error) {
	verb := parseCLIArgs(args).verb
	f.calls = append(f.calls, verb)
	if f.fail[verb] {
		return "", "boom", 1, errors.New("boom")
	}
	return "from the CLI", "", 0, nil
}

func engineEvents(outputs map[string]any) []events.EngineEvent {
	return []events.EngineEvent{
		{EngineEvent: apitype.EngineEvent{ResOutputsEvent: &apitype.ResOutputsEvent{Metadata: apitype.StepEventMetadata{
			Type: rootStackType, New: &apitype.StepEventStateMetadata{Outputs: outputs}}}}},
		{EngineEvent: apitype.EngineEvent{SummaryEvent: &apitype.SummaryEvent{ResourceChanges: map[apitype.OpType]int{"create": 2}}}},
	}
}

var (
	upArgs      = []string{"up", "--yes", "--skip-preview", "--event-log", "tcp://localhost:1", "--stack", "s"}
	outputArgs  = []string{"stack", "output", "--json", "--show-secrets", "--stack", "s"}
	historyArgs = []string{"stack", "history", "--json", "--show-secrets", "--page-size", "1", "--page", "1", "--stack", "s"}
)

func TestUpdateReadsAnswerFromTheUpdatesEvents(t *testing.T) {
	tests := []struct {
		name      string
		announce  bool
		outputs   map[string]any
		failUp    bool
		wantCalls []string // what reached the CLI
	}{
		{"announced update: both reads from its events", true, map[string]any{"url": "http://x"}, false, []string{"up"}},
		{"a secret output: the outputs from the CLI", true, map[string]any{"token": "[secret]"}, false, []string{"up", "stack"}},
		{"not announced: everything from the CLI", false, map[string]any{"url": "http://x"}, false, []string{"up", "stack", "stack"}},
		{"failed update: nothing answered", true, map[string]any{"url": "http://x"}, true, []string{"up", "stack", "stack"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cli := &fakeCLI{fail: map[string]bool{"up": tt.failUp}}
			r := newUpdateReads(cli, time.Now)
			c := &collector{summarized: make(chan struct{})}
			for _, ev := range engineEvents(tt.outputs) {
				c.record(ev)
			}
			if tt.announce {
				defer r.expect("/w", "s", c)()
			}
			ctx := context.Background()
			_, _, _, _ = r.Run(ctx, "/w", nil, nil, nil, nil, upArgs...)
			out, _, _, _ := r.Run(ctx, "/w", nil, nil, nil, nil, outputArgs...)
			hist, _, _, _ := r.Run(ctx, "/w", nil, nil, nil, nil, historyArgs...)
			assert.Equal(t, tt.wantCalls, cli.calls)
			if len(tt.wantCalls) == 1 {
				assert.JSONEq(t, `{"url":"http://x"}`, out)
				var sums []auto.UpdateSummary
				require.NoError(t, json.Unmarshal([]byte(hist), &sums))
				require.Len(t, sums, 1)
				assert.Equal(t, "update", sums[0].Kind)
				assert.Equal(t, "succeeded", sums[0].Result)
				assert.Equal(t, map[string]int{"create": 2}, *sums[0].ResourceChanges)
			}
			// Answered once: a later read asks the CLI.
			n := len(cli.calls)
			_, _, _, _ = r.Run(ctx, "/w", nil, nil, nil, nil, historyArgs...)
			assert.Len(t, cli.calls, n+1)
		})
	}
}
