package queue

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/apphub/apphub-infra/automation"
)

// Runner runs the operations the queue holds: the automation Manager.
type Runner interface {
	PreviewUp(ctx context.Context, spec automation.PreviewSpec) (*automation.PreviewResult, error)
	PreviewDestroy(ctx context.Context, launch string) (*automation.PreviewResult, error)
	BuildRun(ctx context.Context, spec automation.BuildSpec) (*automation.BuildResult, error)
	BuildDestroy(ctx context.Context, id string) (*automation.BuildResult, error)
}

// Dispatch is the Executor that runs each kind of operation on r, its
// engine events going to the operation's own sink: a request goes from
// the API to the queue to the Manager, never back.
func Dispatch(r Runner) Executor {
	return func(ctx context.Context, op *Operation, sink func(automation.Event)) (any, error) {
		ctx = automation.WithEvents(ctx, sink)
		switch op.Kind {
		case KindPreviewUp:
			return run(ctx, op, r.PreviewUp)
		case KindPreviewDestroy:
			return run(ctx, op, r.PreviewDestroy)
		case KindBuildRun:
			return run(ctx, op, r.BuildRun)
		case KindBuildDestroy:
			return run(ctx, op, r.BuildDestroy)
		}
		return nil, fmt.Errorf("unknown operation kind %q", op.Kind)
	}
}

// run decodes the operation's spec into what fn takes and calls it.
func run[S, R any](ctx context.Context, op *Operation, fn func(context.Context, S) (R, error)) (any, error) {
	var spec S
	if err := json.Unmarshal(op.Spec, &spec); err != nil {
		return nil, fmt.Errorf("operation %s: decoding its spec: %w", op.ID, err)
	}
	return fn(ctx, spec)
}
