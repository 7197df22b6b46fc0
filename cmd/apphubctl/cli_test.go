package main

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/apphub/apphub-infra/automation"
)

func run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestHelpListsEveryCommand(t *testing.T) {
	code, out, _ := run("--help")
	assert.Equal(t, exitOK, code)
	for _, c := range []string{"platform", "preview", "build", "serve", "Exit codes"} {
		assert.Contains(t, out, c)
	}
	tests := map[string][]string{
		"platform": {"up", "destroy", "env", "status"},
		"preview":  {"up", "destroy", "get", "list", "gc"},
		"build":    {"run", "get"},
	}
	for parent, subs := range tests {
		_, out, _ := run(parent, "--help")
		for _, s := range subs {
			assert.Contains(t, out, "  "+s+" ", "%s --help lists %s", parent, s)
		}
	}
	_, out, _ = run("preview", "up", "--help")
	assert.Contains(t, out, "Examples:")
	assert.Contains(t, out, "--launch pr-42")
	_, out, _ = run("serve", "--help")
	assert.Contains(t, out, "PUT    /v1/previews/{launch}")
}

func TestUsageErrorsExitTwo(t *testing.T) {
	tests := [][]string{
		{"preview", "up", "--image", "r/a:1"},                                // --launch missing
		{"preview", "up", "--launch", "x", "--image", "r/a:1", "--env", "A"}, // not KEY=VALUE
		{"preview", "destroy"},                                               // LAUNCH missing
		{"build", "get", "a", "b"},                                           // too many args
		{"--output", "xml", "preview", "list"},
		{"preview", "up", "--launch", "x", "--image", "r/a:1", "--replicas", "many"},
	}
	for _, args := range tests {
		code, _, stderr := run(args...)
		assert.Equal(t, exitInvalid, code, "%v: %s", args, stderr)
		assert.Contains(t, stderr, "error:")
	}
	t.Setenv("APPHUB_API_TOKEN", "")
	code, _, stderr := run("serve")
	assert.Equal(t, exitInvalid, code)
	assert.Contains(t, stderr, "APPHUB_API_TOKEN")
}

func TestExitCodes(t *testing.T) {
	for kind, want := range map[automation.ErrorKind]int{
		automation.KindInvalid: exitInvalid, automation.KindNotFound: exitNotFound, automation.KindConflict: exitConflict,
		automation.KindTimeout: exitTimeout, automation.KindCanceled: exitCanceled, automation.KindFailed: exitFailed,
	} {
		assert.Equal(t, want, exitCode(&automation.Error{Kind: kind}), string(kind))
	}
	assert.Equal(t, exitFailed, exitCode(errors.New("boom")))
}
