package automation

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
)

// updateReads is the Pulumi CLI with the reads the SDK makes right after
// an update answered from that update's own engine events. Stack.Up runs
// `stack output --json`, `stack output --json --show-secrets` and `stack
// history --json --page-size 1 --page 1` after `up` (Stack.Destroy the
// last), each a CLI process and, for secrets, a key derivation. The CLI
// has just written the answers to the event log the SDK asked it for
// (--event-log): the root stack's outputs and the update's summary. Only
// a read of the same stack from the same work directory, right after its
// successful update, is answered, once; a secret output (the event log
// masks it), a missing event or any other command goes to the CLI.
type updateReads struct {
	auto.PulumiCommand
	now func() time.Time

	mu      sync.Mutex
	answers map[string]*updateAnswer // work dir + stack
}

type updateAnswer struct {
	outputs, history []byte // nil: not known from the events
	outputsLeft      int    // `stack output` is asked twice, masked and not
}

func newUpdateReads(cmd auto.PulumiCommand, now func() time.Time) *updateReads {
	return &updateReads{PulumiCommand: cmd, now: now, answers: map[string]*updateAnswer{}}
}

func (c *updateReads) Run(ctx context.Context, workdir string, stdin io.Reader, out, errOut []io.Writer, env []string, args ...string) (string, string, int, error) {
	cmd := parseCLIArgs(args)
	key := workdir + "\x00" + cmd.stack
	if answer, ok := c.answer(key, cmd); ok {
		for _, w := range out {
			_, _ = w.Write(answer)
		}
		return string(answer), "", 0, nil
	}
	c.forget(key) // anything else may change the stack
	start := c.now()
	stdout, stderr, code, err := c.PulumiCommand.Run(ctx, workdir, stdin, out, errOut, env, args...)
	if err == nil && code == 0 && (cmd.verb == "up" || cmd.verb == "destroy") && cmd.eventLog != "" {
		if a := answerFromEvents(cmd.verb, cmd.eventLog, start, c.now()); a != nil {
			c.mu.Lock()
			c.answers[key] = a
			c.mu.Unlock()
		}
	}
	return stdout, stderr, code, err
}

// answer returns what the events say to exactly the reads the SDK makes
// after an update.
func (c *updateReads) answer(key string, cmd cliArgs) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.answers[key]
	if a == nil {
		return nil, false
	}
	switch {
	case cmd.is("stack", "output") && cmd.flagsOnly("--json", "--show-secrets") && a.outputs != nil && a.outputsLeft > 0:
		a.outputsLeft--
		return a.outputs, true
	case cmd.is("stack", "history") && cmd.flagsOnly("--json", "--show-secrets") && cmd.page == [2]string{"1", "1"} && a.history != nil:
		h := a.history
		a.history = nil
		return h, true
	}
	return nil, false
}

func (c *updateReads) forget(key string) {
	c.mu.Lock()
	delete(c.answers, key)
	c.mu.Unlock()
}

// cliArgs is what updateReads needs to know of a CLI invocation.
type cliArgs struct {
	words    []string // positional words: "stack", "output"
	flags    []string // boolean flags
	stack    string
	eventLog string
	page     [2]string // --page-size, --page
	verb     string
}

func parseCLIArgs(args []string) cliArgs {
	var c cliArgs
	valued := map[string]*string{"--stack": &c.stack, "--event-log": &c.eventLog, "--page-size": &c.page[0], "--page": &c.page[1]}
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, value, hasValue := strings.Cut(a, "=")
		switch {
		case valued[name] != nil && hasValue:
			*valued[name] = value
		case valued[name] != nil && i+1 < len(args):
			*valued[name] = args[i+1]
			i++
		case strings.HasPrefix(a, "-"):
			c.flags = append(c.flags, a)
		default:
			c.words = append(c.words, a)
		}
	}
	if len(c.words) > 0 {
		c.verb = c.words[0]
	}
	return c
}

func (c cliArgs) is(words ...string) bool {
	return strings.Join(c.words, " ") == strings.Join(words, " ") && c.stack != ""
}

// flagsOnly reports whether every boolean flag is one of allowed (and the
// first of them is given).
func (c cliArgs) flagsOnly(allowed ...string) bool {
	seen := false
	for _, f := range c.flags {
		if f == allowed[0] {
			seen = true
		}
		ok := f == "--non-interactive"
		for _, a := range allowed {
			ok = ok || f == a
		}
		if !ok {
			return false
		}
	}
	return seen
}

// cliTime is how `stack history --json` prints times.
const cliTime = "2006-01-02T15:04:05.000Z07:00"

// answerFromEvents reads the root stack's outputs and the summary from an
// update's event log; nil when the log holds neither.
func answerFromEvents(kind, path string, start, end time.Time) *updateAnswer {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var outputs map[string]any
	var summary *apitype.SummaryEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 64*1024*1024)
	for sc.Scan() {
		var e apitype.EngineEvent
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			return nil // a log this reader does not understand: ask the CLI
		}
		switch {
		case e.ResOutputsEvent != nil && e.ResOutputsEvent.Metadata.Type == "pulumi:pulumi:Stack" && e.ResOutputsEvent.Metadata.New != nil:
			outputs = e.ResOutputsEvent.Metadata.New.Outputs
		case e.SummaryEvent != nil:
			summary = e.SummaryEvent
		}
	}
	if sc.Err() != nil || summary == nil || summary.IsPreview || summary.MaybeCorrupt {
		return nil
	}
	a := &updateAnswer{}
	if kind == "up" && outputs != nil && !masksSecret(outputs) {
		a.outputs, _ = json.Marshal(outputs)
		a.outputsLeft = 2
	}
	changes := map[string]int{}
	for op, n := range summary.ResourceChanges {
		changes[string(op)] = n
	}
	endTime := end.UTC().Format(cliTime)
	a.history, _ = json.Marshal([]auto.UpdateSummary{{
		Kind: kind, Result: "succeeded", StartTime: start.UTC().Format(cliTime), EndTime: &endTime, ResourceChanges: &changes,
	}})
	return a
}

// masksSecret reports whether a value holds the mask the event log writes
// for a secret.
func masksSecret(v any) bool {
	switch x := v.(type) {
	case string:
		return x == "[secret]"
	case map[string]any:
		for _, e := range x {
			if masksSecret(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if masksSecret(e) {
				return true
			}
		}
	}
	return false
}
