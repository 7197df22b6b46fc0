package automation

import (
	"context"
	"errors"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/internal/validate"
)

func TestClassify(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithTimeout(context.Background(), 0)
	defer cancel2()
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		kind ErrorKind
	}{
		{"canceled", canceled, errors.New("signal: interrupt"), KindCanceled},
		{"timeout", expired, errors.New("killed"), KindTimeout},
		{"failure", context.Background(), errors.New("failed to run update: exit status 255"), KindFailed},
		// NotFound and Conflict come from the SDK's own error values, which
		// only the real CLI produces: the clitest tier covers them.
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := classify(tt.ctx, "preview up", "preview-x", tt.err, nil)
			assert.Equal(t, tt.kind, e.Kind)
			assert.Equal(t, "preview-x", e.Stack)
			assert.ErrorIs(t, e, tt.err)
		})
	}
}

func TestReasonPrefersDiagnostics(t *testing.T) {
	err := errors.New("failed to run update: exit status 255\nstdout: ...\nstderr: warning: x\nerror: update failed\nerror: Job has failed: BackoffLimitExceeded\n")
	assert.Equal(t, "Job has failed: DeadlineExceeded", reason(err, []string{"Job has failed: DeadlineExceeded"}))
	assert.Equal(t, "update failed; Job has failed: BackoffLimitExceeded", reason(err, nil))
}

func TestInvalidKeepsFields(t *testing.T) {
	var p validate.Problems
	p.Add("launch", "is required")
	e := invalid("preview up", "preview-", p.Err())
	assert.True(t, IsInvalid(e))
	assert.Equal(t, []string{"launch"}, e.Fields.Fields())
	var typed *Error
	require.ErrorAs(t, error(e), &typed)
}

func TestToEvent(t *testing.T) {
	diag := events.EngineEvent{EngineEvent: apitype.EngineEvent{DiagnosticEvent: &apitype.DiagnosticEvent{
		URN: "urn:x", Severity: "error", Message: "\x1b[31mJob has failed\x1b[0m\n",
	}}}
	e, ok := toEvent("build run", "build-1", diag)
	require.True(t, ok)
	assert.Equal(t, "diagnostic", e.Type)
	assert.Equal(t, "Job has failed", e.Message, "terminal colors are stripped")
	pre := events.EngineEvent{EngineEvent: apitype.EngineEvent{ResourcePreEvent: &apitype.ResourcePreEvent{
		Metadata: apitype.StepEventMetadata{URN: "urn:y", Type: "kubernetes:batch/v1:Job", Op: "create"},
	}}}
	e, ok = toEvent("build run", "build-1", pre)
	require.True(t, ok)
	assert.Equal(t, Event{Time: e.Time, Op: "build run", Stack: "build-1", Type: "resource-start", URN: "urn:y", Resource: "kubernetes:batch/v1:Job", Action: "create"}, e)
	_, ok = toEvent("x", "y", events.EngineEvent{EngineEvent: apitype.EngineEvent{StdoutEvent: &apitype.StdoutEngineEvent{Message: "hi"}}})
	assert.False(t, ok, "stdout noise is not an event")
}

func TestSpecConfig(t *testing.T) {
	replicas := 3
	cfg, err := PreviewSpec{Launch: "pr-9", Image: "r.test/app:1", Replicas: &replicas, Env: map[string]string{"B": "2", "A": "1"},
		EgressAllow: []string{"10.0.0.0/8:5432", "0.0.0.0/0:443"}, TTLSeconds: 3600}.config(mustTime("2026-11-22T10:00:00Z"))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{
		"launch": "pr-9", "image": "r.test/app:1", "replicas": "3",
		"env": `{"A":"1","B":"2"}`, "egressAllow": "10.0.0.0/8:5432,0.0.0.0/0:443", "expiresAt": "2026-11-22T11:00:00Z",
	}, cfg)
	_, err = PreviewSpec{Launch: "pr-9", Image: "r.test/app:1", TTLSeconds: -1}.config(mustTime("2026-11-22T10:00:00Z"))
	assert.ErrorContains(t, err, "ttlSeconds")
}
