package automation

import (
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/stretchr/testify/assert"
)

func stackOutputs(ts int, outs map[string]any) apitype.EngineEvent {
	return apitype.EngineEvent{Timestamp: ts, ResOutputsEvent: &apitype.ResOutputsEvent{Metadata: apitype.StepEventMetadata{
		Type: stackType, New: &apitype.StepEventStateMetadata{Outputs: outs},
	}}}
}

func summary(ts int, changes map[apitype.OpType]int) apitype.EngineEvent {
	return apitype.EngineEvent{Timestamp: ts, SummaryEvent: &apitype.SummaryEvent{ResourceChanges: changes, Result: "succeeded"}}
}

func TestEventSinkResult(t *testing.T) {
	secret := map[string]any{"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "[secret]"}
	prelude := apitype.EngineEvent{Timestamp: 100, PreludeEvent: &apitype.PreludeEvent{}}
	child := apitype.EngineEvent{Timestamp: 101, ResOutputsEvent: &apitype.ResOutputsEvent{Metadata: apitype.StepEventMetadata{
		Type: "kubernetes:apps/v1:Deployment", New: &apitype.StepEventStateMetadata{Outputs: map[string]any{"x": 1}},
	}}}
	tests := []struct {
		name     string
		kind     string
		events   []apitype.EngineEvent
		ok       bool
		vals     map[string]any
		secrets  map[string]bool
		duration time.Duration
	}{
		{"outputs and summary", "update", []apitype.EngineEvent{prelude, child, stackOutputs(102, map[string]any{
			"url": "http://a", "token": secret, "deep": map[string]any{"list": []any{"a", secret}},
		}), summary(103, map[apitype.OpType]int{"create": 3})}, true,
			map[string]any{"url": "http://a", "token": "[secret]", "deep": "[secret]"}, map[string]bool{"token": true, "deep": true}, 3 * time.Second},
		{"a stack without outputs", "update", []apitype.EngineEvent{prelude, stackOutputs(100, nil), summary(100, nil)}, true,
			map[string]any{}, map[string]bool{}, 0},
		{"no summary: ask the CLI", "update", []apitype.EngineEvent{prelude, stackOutputs(101, map[string]any{"url": "x"})}, false, nil, nil, 0},
		{"no stack outputs: ask the CLI", "update", []apitype.EngineEvent{prelude, child, summary(102, nil)}, false, nil, nil, 0},
		{"nothing at all", "update", nil, false, nil, nil, 0},
		{"a destroy needs only the summary", "destroy", []apitype.EngineEvent{prelude, summary(104, map[apitype.OpType]int{"delete": 2})}, true,
			map[string]any{}, map[string]bool{}, 4 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &eventSink{out: make(chan events.EngineEvent, len(tt.events))}
			for _, ev := range tt.events {
				s.record(ev)
			}
			vals, secrets, u, ok := s.result(tt.kind)
			assert.Equal(t, tt.ok, ok)
			if !ok {
				return
			}
			assert.Equal(t, tt.vals, vals)
			assert.Equal(t, tt.secrets, secrets)
			assert.Equal(t, tt.kind, u.Kind)
			assert.Equal(t, "succeeded", u.Result)
			assert.Equal(t, time.Unix(100, 0).UTC(), u.StartTime)
			assert.Equal(t, tt.duration, u.EndTime.Sub(u.StartTime))
		})
	}
}
