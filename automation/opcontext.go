package automation

import (
	"context"
	"time"
)

// Per-operation options travel with the operation's context, so that a
// caller running many operations at once (the HTTP service) gives each
// its own event sink without a Manager-wide callback.

type eventSinkKey struct{}
type takeoverKey struct{}

// WithEvents sends the engine events of operations run with ctx to sink,
// instead of Options.OnEvent.
func WithEvents(ctx context.Context, sink func(Event)) context.Context {
	return context.WithValue(ctx, eventSinkKey{}, sink)
}

func (m *Manager) sinkFor(ctx context.Context) func(Event) {
	if sink, ok := ctx.Value(eventSinkKey{}).(func(Event)); ok && sink != nil {
		return sink
	}
	return m.opts.OnEvent
}

// Takeover says that an operation resumes the attempt of a process that
// is known to be dead (the queue proved it: that process's stack lease is
// gone): a Pulumi lock on the stack taken by that host since the attempt
// started is that attempt's and may be broken.
type Takeover struct {
	// Host is the dead attempt's host name, as Pulumi records it in locks.
	Host string
	// Since is when the dead attempt started.
	Since time.Time
}

// WithTakeover marks the operations run with ctx as takeovers.
func WithTakeover(ctx context.Context, t Takeover) context.Context {
	return context.WithValue(ctx, takeoverKey{}, t)
}

func takeoverFrom(ctx context.Context) (Takeover, bool) {
	t, ok := ctx.Value(takeoverKey{}).(Takeover)
	return t, ok
}
