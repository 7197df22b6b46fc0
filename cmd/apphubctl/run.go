package main

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/apphub/apphub-infra/automation"
)

// managerCall is what a command that runs on the Manager brings to
// onManager, in the shape of kind's commands: the command's flagpole (its
// own flags, when it has any) is read by check and do; onManager does the
// rest. Req is what check makes of the invocation (a spec, a LAUNCH or a
// build ID, or struct{} for nothing), Res what the Manager answers.
type managerCall[Req, Res any] struct {
	// lookup marks a command that runs no program (get, list, env): its
	// session installs no provider plugins.
	lookup bool
	// check validates the whole invocation before anything is prepared or
	// installed: an Invalid error naming each field as the caller wrote it.
	check func(g *globals, cmd *cobra.Command, args []string) (Req, error)
	// do calls the Manager.
	do func(m *automation.Manager, ctx context.Context, req Req) (Res, error)
	// text prints the result for --output text (json encodes it). Nil when
	// do writes its own output (build logs): nothing is emitted.
	text func(w io.Writer, res Res)
	// partial emits what do returned even when it failed (preview gc
	// reports the previews it did destroy), then returns the failure.
	partial bool
}

// onManager is the RunE of every command that runs on the Manager:
// validate, open the session (bounded by --timeout), call the Manager and
// emit the result as text or JSON.
func onManager[Req, Res any](g *globals, cmd *cobra.Command, args []string, c managerCall[Req, Res]) error {
	req, err := c.check(g, cmd, args)
	if err != nil {
		return err
	}
	m, ctx, cancel, err := g.session(cmd, c.lookup)
	if err != nil {
		return err
	}
	defer cancel()
	res, err := c.do(m, ctx, req)
	if c.text == nil || (err != nil && !c.partial) {
		return err
	}
	if emitErr := g.emit(res, func(w io.Writer) { c.text(w, res) }); emitErr != nil {
		return emitErr
	}
	return err
}

// noRequest adapts a Manager method that takes nothing but the context.
func noRequest[Res any](do func(*automation.Manager, context.Context) (Res, error)) func(*automation.Manager, context.Context, struct{}) (Res, error) {
	return func(m *automation.Manager, ctx context.Context, _ struct{}) (Res, error) { return do(m, ctx) }
}

// checkGlobals validates an invocation with nothing of its own but the
// global flags.
func checkGlobals(op string) func(*globals, *cobra.Command, []string) (struct{}, error) {
	return func(g *globals, cmd *cobra.Command, _ []string) (struct{}, error) {
		return struct{}{}, invalidInput(op, "", g.check(cmd, nil), nil, nil)
	}
}

// stackArg is the one argument of a command that names a stack: a
// preview's LAUNCH or a build's ID.
type stackArg struct {
	stack func(name string) string
	valid func(op, name string) error
	names map[string]string // the spec field as the argument's name
}

var (
	launchArg  = stackArg{automation.PreviewStack, automation.ValidLaunch, map[string]string{"launch": "LAUNCH"}}
	buildIDArg = stackArg{automation.BuildStack, automation.ValidBuild, map[string]string{"id": "ID"}}
)

// check validates an invocation whose one argument names the stack, and
// returns that name.
func (a stackArg) check(op string) func(*globals, *cobra.Command, []string) (string, error) {
	return func(g *globals, cmd *cobra.Command, args []string) (string, error) {
		return args[0], invalidInput(op, a.stack(args[0]), g.check(cmd, nil), a.valid(op, args[0]), a.names)
	}
}
