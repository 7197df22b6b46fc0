package automation

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
)

// updateReads is the Pulumi CLI with the reads the SDK makes right after
// an update answered from that update's own engine events. Stack.Up runs
// `stack output --json`, `stack output --json --show-secrets` and `stack
// history --json --page-size 1 --page 1` after `up` (Stack.Destroy the
// last), each a CLI process and, for secrets, a key derivation. The
// engine has just reported the answers on the event stream the Manager
// collects: the root stack's outputs and the update's summary. Only a
// read of the stack whose update the Manager announced (expect), right
// after that update succeeded, is answered, once; a secret output (events
// mask it), a summary that has not arrived within summaryWait, or any
// other command goes to the CLI.
type updateReads struct {
	auto.PulumiCommand
	now func() time.Time

	mu      sync.Mutex
	pending map[string]*updateAnswer // work dir + stack
}

type updateAnswer struct {
	c           *collector
	kind        string // "update" or "destroy", once the CLI's run succeeded
	start, end  time.Time
	outputsLeft int // `stack output` is asked twice, masked and not
	historyLeft int
}

// summaryWait bounds how long a read waits for the summary to come through
// the event stream after the CLI exited.
const summaryWait = 2 * time.Second

func newUpdateReads(cmd auto.PulumiCommand, now func() time.Time) *updateReads {
	return &updateReads{PulumiCommand: cmd, now: now, pending: map[string]*updateAnswer{}}
}

// expect announces an update of stack in dir whose events c collects;
// the func withdraws it.
func (r *updateReads) expect(dir, stack string, c *collector) func() {
	key := dir + "\x00" + stack
	r.mu.Lock()
	r.pending[key] = &updateAnswer{c: c}
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		delete(r.pending, key)
		r.mu.Unlock()
	}
}

func (r *updateReads) Run(ctx context.Context, workdir string, stdin io.Reader, out, errOut []io.Writer, env []string, args ...string) (string, string, int, error) {
	cmd := parseCLIArgs(args)
	key := workdir + "\x00" + cmd.stack
	if answer, ok := r.answer(key, cmd); ok {
		for _, w := range out {
			_, _ = w.Write(answer)
		}
		return string(answer), "", 0, nil
	}
	start := r.now()
	stdout, stderr, code, err := r.PulumiCommand.Run(ctx, workdir, stdin, out, errOut, env, args...)
	r.ran(key, cmd, start, err == nil && code == 0)
	return stdout, stderr, code, err
}

// ran notes how an announced stack's command went: its successful update
// or destroy makes the reads answerable; a read the CLI answered changes
// nothing; anything else makes them not.
func (r *updateReads) ran(key string, cmd cliArgs, start time.Time, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a := r.pending[key]
	if a == nil || cmd.is("stack", "output") || cmd.is("stack", "history") {
		return
	}
	kind := map[string]string{"up": "update", "destroy": "destroy"}[cmd.verb]
	if !ok || kind == "" {
		a.kind = ""
		return
	}
	a.kind, a.start, a.end = kind, start, r.now()
	a.historyLeft = 1
	if kind == "update" {
		a.outputsLeft = 2
	}
}

// answer returns what the events say to exactly the reads the SDK makes
// after an update.
func (r *updateReads) answer(key string, cmd cliArgs) ([]byte, bool) {
	r.mu.Lock()
	a := r.pending[key]
	r.mu.Unlock()
	if a == nil || a.kind == "" || !cmd.flagsOnly("--json", "--show-secrets") {
		return nil, false
	}
	isOutput := cmd.is("stack", "output") && a.outputsLeft > 0
	isHistory := cmd.is("stack", "history") && cmd.page == [2]string{"1", "1"} && a.historyLeft > 0
	if !isOutput && !isHistory {
		return nil, false
	}
	select {
	case <-a.c.summarized:
	case <-time.After(summaryWait):
		return nil, false
	}
	a.c.mu.Lock()
	outputs, summary := a.c.outputs, a.c.summary
	a.c.mu.Unlock()
	if summary.IsPreview || summary.MaybeCorrupt {
		return nil, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if isOutput {
		if outputs == nil || masksSecret(outputs) {
			return nil, false
		}
		b, err := json.Marshal(outputs)
		if err != nil {
			return nil, false
		}
		a.outputsLeft--
		return b, true
	}
	changes := map[string]int{}
	for op, n := range summary.ResourceChanges {
		changes[string(op)] = n
	}
	end := a.end.UTC().Format(cliTime)
	b, err := json.Marshal([]auto.UpdateSummary{{
		Kind: a.kind, Result: "succeeded", StartTime: a.start.UTC().Format(cliTime), EndTime: &end, ResourceChanges: &changes,
	}})
	if err != nil {
		return nil, false
	}
	a.historyLeft--
	return b, true
}

// cliArgs is what updateReads needs to know of a CLI invocation.
type cliArgs struct {
	words []string // positional words: "stack", "output"
	flags []string // boolean flags
	verb  string
	stack string
	page  [2]string // --page-size, --page
}

func parseCLIArgs(args []string) cliArgs {
	var c cliArgs
	var eventLog string
	valued := map[string]*string{"--stack": &c.stack, "--event-log": &eventLog, "--page-size": &c.page[0], "--page": &c.page[1]}
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

// masksSecret reports whether a value holds the mask the engine's events
// write for a secret.
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
