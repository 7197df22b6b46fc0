package automation

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/sig"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// stackType is the root resource whose outputs are the stack's outputs.
const stackType = "pulumi:pulumi:Stack"

// eventSink receives the CLI's engine events (`--event-log tcp://…`, the
// SDK's own transport), hands each to an operation's collector and keeps
// what the update's result is made of: the root stack's outputs and the
// summary.
type eventSink struct {
	pulumirpc.UnimplementedEventsServer

	addr   string
	cancel chan bool
	done   <-chan error
	stop   sync.Once

	mu      sync.Mutex
	out     chan<- events.EngineEvent
	closed  bool
	first   int // timestamp of the first event
	outputs map[string]any
	summary *apitype.SummaryEvent
	last    int // the summary's timestamp
}

func startEventSink(out chan<- events.EngineEvent) (*eventSink, error) {
	s := &eventSink{out: out, cancel: make(chan bool)}
	port, done, err := serveLoopback(s.cancel, func(srv *grpc.Server) { pulumirpc.RegisterEventsServer(srv, s) })
	if err != nil {
		return nil, fmt.Errorf("starting the engine event receiver: %w", err)
	}
	s.addr, s.done = fmt.Sprintf("tcp://127.0.0.1:%d", port), done
	return s, nil
}

func (s *eventSink) StreamEvents(stream pulumirpc.Events_StreamEventsServer) error {
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			s.finish()
			return stream.SendAndClose(&emptypb.Empty{})
		}
		if err != nil {
			s.forward(events.EngineEvent{Error: err})
			s.finish()
			return err
		}
		var ev apitype.EngineEvent
		if err := json.Unmarshal([]byte(req.GetEvent()), &ev); err != nil {
			s.forward(events.EngineEvent{Error: err})
			continue
		}
		s.record(ev)
		s.forward(events.EngineEvent{EngineEvent: ev})
	}
}

func (s *eventSink) record(ev apitype.EngineEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.first == 0 {
		s.first = ev.Timestamp
	}
	switch {
	case ev.ResOutputsEvent != nil && ev.ResOutputsEvent.Metadata.Type == stackType && ev.ResOutputsEvent.Metadata.New != nil:
		s.outputs = ev.ResOutputsEvent.Metadata.New.Outputs
		if s.outputs == nil {
			s.outputs = map[string]any{}
		}
	case ev.SummaryEvent != nil:
		s.summary, s.last = ev.SummaryEvent, ev.Timestamp
	}
}

// forward hands an event to the collector unless the stream has ended.
func (s *eventSink) forward(ev events.EngineEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.out <- ev
	}
}

// finish ends the collector's stream, once.
func (s *eventSink) finish() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.out)
	}
}

// Close stops the receiver and ends the stream if the CLI never opened it.
func (s *eventSink) Close() {
	s.stop.Do(func() {
		s.cancel <- true
		close(s.cancel)
		<-s.done
		s.finish()
	})
}

// result is the update's outputs (secrets as "[secret]", flagged) and
// summary, when the events carried both; ok is false otherwise (a CLI
// that could not reach the receiver runs without an event log).
func (s *eventSink) result(kind string) (vals map[string]any, secrets map[string]bool, u *Update, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.summary == nil || (kind == "update" && s.outputs == nil) {
		return nil, nil, nil, false
	}
	vals, secrets = map[string]any{}, map[string]bool{}
	for k, v := range s.outputs {
		if holdsSecret(v) {
			v, secrets[k] = "[secret]", true
		}
		vals[k] = v
	}
	changes := map[string]int{}
	for op, n := range s.summary.ResourceChanges {
		changes[string(op)] = n
	}
	u = &Update{Kind: kind, Result: string(s.summary.Result), Changes: changes,
		StartTime: time.Unix(int64(s.first), 0).UTC(), EndTime: time.Unix(int64(s.last), 0).UTC()}
	return vals, secrets, u, true
}

// holdsSecret reports whether an output value is or contains a secret: the
// event log writes each as {sig.Key: sig.Secret, "ciphertext": "[secret]"}.
func holdsSecret(v any) bool {
	switch t := v.(type) {
	case map[string]any:
		if t[sig.Key] == sig.Secret {
			return true
		}
		for _, e := range t {
			if holdsSecret(e) {
				return true
			}
		}
	case []any:
		for _, e := range t {
			if holdsSecret(e) {
				return true
			}
		}
	}
	return false
}
