package automation

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/opthistory"
	"github.com/pulumi/pulumi/sdk/v3/go/common/constant"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// cliError is a CLI run that failed, in the SDK's error text (the CLI's
// stderr after "stderr:") so that reasons and lock holders read the same.
type cliError struct {
	err            error
	stdout, stderr string
	code           int
}

func (e *cliError) Error() string {
	return fmt.Sprintf("%s\ncode: %d\nstdout: %s\nstderr: %s\n", e.err, e.code, e.stdout, e.stderr)
}

func (e *cliError) Unwrap() error { return e.err }

// isConcurrentUpdate reports whether the CLI refused because another update
// holds the stack's lock, for the SDK's errors and the Manager's own.
func isConcurrentUpdate(err error) bool {
	if inChain(err, auto.IsConcurrentUpdateError) {
		return true
	}
	var ce *cliError
	return errors.As(err, &ce) && (strings.Contains(ce.stderr, "[409] Conflict: Another update is currently in progress.") ||
		strings.Contains(ce.stderr, "the stack is currently locked by"))
}

// inlineUp runs `pulumi up` of an inline program as auto.Stack.Up does (the
// same command line, environment and language runtime) and builds the
// result from the update's own engine events: the root stack's outputs and
// the summary. Only when the events lack them (a CLI that could not reach
// the receiver) does it ask the CLI, as the SDK always does.
func (m *Manager) inlineUp(ctx context.Context, st auto.Stack, program pulumi.RunFunc, c *collector) (map[string]any, map[string]bool, *Update, error) {
	return m.inlineRun(ctx, st, program, c, "update")
}

// inlineDestroy is inlineUp for `pulumi destroy`: the summary only.
func (m *Manager) inlineDestroy(ctx context.Context, st auto.Stack, program pulumi.RunFunc, c *collector) (*Update, error) {
	_, _, u, err := m.inlineRun(ctx, st, program, c, "destroy")
	return u, err
}

// cliVerb is the CLI command of an update kind, and how its failure reads.
var cliVerb = map[string]struct{ cmd, fails string }{
	"update":  {"up", "failed to run update"},
	"destroy": {"destroy", "failed to destroy stack"},
}

func (m *Manager) inlineRun(ctx context.Context, st auto.Stack, program pulumi.RunFunc, c *collector, kind string) (map[string]any, map[string]bool, *Update, error) {
	sink, err := startEventSink(c.ch)
	if err != nil {
		close(c.ch) // the collector's stream, which the sink ends otherwise
		return nil, nil, nil, err
	}
	defer sink.Close()
	rt, err := startInlineRuntime(program)
	if err != nil {
		return nil, nil, nil, err
	}
	defer rt.Close()

	ws := st.Workspace()
	env := []string{"PULUMI_DEBUG_COMMANDS=true"}
	if home := ws.PulumiHome(); home != "" {
		env = append(env, "PULUMI_HOME="+home)
	}
	for k, v := range ws.GetEnvVars() {
		env = append(env, k+"="+v)
	}
	verb := cliVerb[kind]
	args := []string{verb.cmd, "--yes", "--skip-preview", "--client=" + rt.addr, "--exec-kind=" + constant.ExecKindAutoInline,
		"--event-log", sink.addr, "--stack", st.Name()}
	stdout, stderr, code, err := ws.PulumiCommand().Run(ctx, ws.WorkDir(), nil, []io.Writer{m.progress(st.Name())}, nil, env, args...)
	if err != nil {
		return nil, nil, nil, &cliError{err: fmt.Errorf("%s: %w", verb.fails, err), stdout: stdout, stderr: stderr, code: code}
	}
	sink.Close()
	if vals, secrets, u, ok := sink.result(kind); ok {
		return vals, secrets, u, nil
	}
	m.opts.Logger.Warn("the update's events lack its outputs or summary: reading them from the CLI", "stack", st.Name(), "kind", kind)
	var outs auto.OutputMap
	if kind == "update" {
		if outs, err = st.Outputs(ctx); err != nil {
			return nil, nil, nil, err
		}
	}
	hist, err := st.History(ctx, 1, 1, opthistory.ShowSecrets(false))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("reading the update's summary: %w", err)
	}
	if len(hist) == 0 {
		return nil, nil, nil, errors.New("reading the update's summary: the stack has no history")
	}
	vals, secrets := plainOutputs(outs)
	return vals, secrets, toUpdate(hist[0]), nil
}
