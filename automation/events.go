package automation

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
)

// Event is one engine event in a compact, stable shape (JSON lines, HTTP).
type Event struct {
	Time     time.Time `json:"time"`
	Op       string    `json:"op"`
	Stack    string    `json:"stack"`
	Type     string    `json:"type"`
	URN      string    `json:"urn,omitempty"`
	Resource string    `json:"resource,omitempty"`
	Action   string    `json:"action,omitempty"`
	Severity string    `json:"severity,omitempty"`
	Message  string    `json:"message,omitempty"`
}

// collector drains an operation's engine events: it forwards each to
// the operation's sink (WithEvents, else OnEvent) and keeps the error diagnostics as the failure reason.
type collector struct {
	ch    chan events.EngineEvent
	done  chan struct{}
	mu    sync.Mutex
	diags []string
	// pending: the engine warned that the stack holds operations an
	// interrupted update left pending.
	pending bool
}

func (m *Manager) collect(ctx context.Context, op, stack string) *collector {
	sink := m.sinkFor(ctx)
	c := &collector{ch: make(chan events.EngineEvent, 64), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for ev := range c.ch {
			e, ok := toEvent(op, stack, ev)
			if !ok {
				continue
			}
			c.note(e)
			m.opts.Logger.Debug("engine event", "op", op, "stack", stack, "type", e.Type, "resource", e.Resource, "action", e.Action)
			if sink != nil {
				sink(e)
			}
		}
	}()
	return c
}

func (c *collector) note(e Event) {
	if e.Type != "diagnostic" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case e.Severity == "error" && e.Message != "":
		c.diags = append(c.diags, e.Message)
	case e.Severity == "warning" && strings.Contains(e.Message, pendingOpsWarning):
		c.pending = true
	}
}

// pendingOpsWarning is in the warning the engine prints when an update
// starts on a stack with pending operations (deployment_executor.go).
const pendingOpsWarning = "pending operations from previous deployment"

// sawPending reports whether the engine warned of pending operations.
func (c *collector) sawPending() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pending
}

// wait returns the error diagnostics once the SDK has closed the stream.
// The SDK closes it when the event log it tails ends; an operation that
// failed before tailing never closes it, so the wait is bounded.
func (c *collector) wait() []string {
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.diags...)
}

func toEvent(op, stack string, ev events.EngineEvent) (Event, bool) {
	e := Event{Time: time.Now().UTC(), Op: op, Stack: stack}
	switch {
	case ev.Error != nil:
		e.Type, e.Severity, e.Message = "stream-error", "error", ev.Error.Error()
	case ev.DiagnosticEvent != nil:
		d := ev.DiagnosticEvent
		msg := strings.TrimSpace(stripANSI(d.Message))
		if msg == "" {
			return e, false
		}
		e.Type, e.URN, e.Severity, e.Message = "diagnostic", d.URN, d.Severity, msg
	case ev.ResourcePreEvent != nil:
		md := ev.ResourcePreEvent.Metadata
		e.Type, e.URN, e.Resource, e.Action = "resource-start", md.URN, md.Type, string(md.Op)
	case ev.ResOutputsEvent != nil:
		md := ev.ResOutputsEvent.Metadata
		e.Type, e.URN, e.Resource, e.Action = "resource-done", md.URN, md.Type, string(md.Op)
	case ev.ResOpFailedEvent != nil:
		md := ev.ResOpFailedEvent.Metadata
		e.Type, e.URN, e.Resource, e.Action, e.Severity = "resource-failed", md.URN, md.Type, string(md.Op), "error"
	case ev.SummaryEvent != nil:
		s := ev.SummaryEvent
		e.Type = "summary"
		e.Message = fmt.Sprintf("%v in %ds", s.ResourceChanges, s.DurationSeconds)
	case ev.PreludeEvent != nil:
		// The engine has started and is about to run the program.
		e.Type = "prelude"
	case ev.CancelEvent != nil:
		e.Type = "cancel"
	default:
		return e, false
	}
	return e, true
}

// stripANSI removes terminal color codes from engine messages.
func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			i = j
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// prefixWriter prefixes each progress line with the stack name, so that
// concurrent operations stay readable on one stderr.
type prefixWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

var progressMu sync.Mutex

func (m *Manager) progress(stack string) io.Writer {
	if m.opts.Progress == io.Discard {
		return io.Discard
	}
	return &prefixWriter{mu: &progressMu, w: m.opts.Progress, prefix: "[" + stack + "] "}
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := strings.IndexByte(string(p.buf), '\n')
		if i < 0 {
			break
		}
		line := stripANSI(string(p.buf[:i]))
		p.buf = p.buf[i+1:]
		if strings.TrimSpace(line) == "" {
			continue
		}
		if _, err := io.WriteString(p.w, p.prefix+line+"\n"); err != nil {
			return len(b), err
		}
	}
	return len(b), nil
}
