package automation

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"

	"github.com/apphub/apphub-infra/internal/validate"
)

// ErrorKind classifies an operation's failure.
type ErrorKind string

// Error kinds, each with its HTTP status and CLI exit code.
const (
	KindInvalid  ErrorKind = "invalid"   // bad input: nothing was touched
	KindNotFound ErrorKind = "not-found" // no such stack
	KindConflict ErrorKind = "conflict"  // another operation holds the stack
	KindTimeout  ErrorKind = "timeout"   // the deadline passed
	KindCanceled ErrorKind = "canceled"  // the caller gave up
	KindFailed   ErrorKind = "failed"    // the update ran and failed (Reason says why)
	// KindQuota: valid, but the namespace's ResourceQuota cannot fit it now
	// (Reason has the used/hard figures); destroy previews or raise the quota.
	KindQuota ErrorKind = "quota-exceeded"
)

// Error is a typed operation error.
type Error struct {
	Kind  ErrorKind
	Op    string // e.g. "preview up"
	Stack string
	// Reason is the human cause: for a failed update, the engine's error
	// diagnostics (a build Job's BackoffLimitExceeded, an image pull error).
	Reason string
	// Fields lists invalid inputs for KindInvalid.
	Fields validate.Errors
	Err    error
}

func (e *Error) Error() string {
	msg := e.Op
	if e.Stack != "" {
		msg += " " + e.Stack
	}
	msg += ": " + string(e.Kind)
	if e.Reason != "" {
		msg += ": " + e.Reason
	} else if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of err, or "" when it is not an *Error.
func KindOf(err error) ErrorKind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}

// IsNotFound, IsConflict, IsInvalid, IsTimeout and IsFailed test an error's kind.
func IsNotFound(err error) bool { return KindOf(err) == KindNotFound }
func IsConflict(err error) bool { return KindOf(err) == KindConflict }
func IsInvalid(err error) bool  { return KindOf(err) == KindInvalid }
func IsTimeout(err error) bool  { return KindOf(err) == KindTimeout }
func IsFailed(err error) bool   { return KindOf(err) == KindFailed }

// IsQuota reports whether err is a KindQuota *Error.
func IsQuota(err error) bool { return KindOf(err) == KindQuota }

// invalid wraps a validation failure.
func invalid(op, stack string, err error) *Error {
	e := &Error{Kind: KindInvalid, Op: op, Stack: stack, Err: err, Reason: err.Error()}
	var fields validate.Errors
	if errors.As(err, &fields) {
		e.Fields = fields
	}
	return e
}

// Invalid combines a caller's own problems (p: undecodable body keys, bad
// flags) and a spec validation's error into one Invalid error naming every
// field, or returns nil when there are none. specErr's fields are renamed
// through names (spec fields to CLI flags, say); a field p reports already
// is left out, since it did not decode and "is required" would only repeat
// it. An error of another kind is returned as it is.
func Invalid(op, stack string, p *validate.Problems, specErr error, names map[string]string) error {
	var e *Error
	if specErr != nil && (!errors.As(specErr, &e) || e.Kind != KindInvalid) {
		return specErr
	}
	var all validate.Problems
	all.Merge(p.Err(), nil)
	if e != nil && len(e.Fields) == 0 {
		all.Add("request", "%s", e.Reason)
	}
	if e != nil {
		for _, fe := range e.Fields.Renamed(names) {
			if !p.Has(fe.Field) {
				all.Add(fe.Field, "%s", fe.Rule)
			}
		}
	}
	if err := all.Err(); err != nil {
		return invalid(op, stack, err)
	}
	return nil
}

// zeroField is a spec field whose zero value means "the stack's default".
type zeroField struct {
	name string
	zero bool
}

// explicitZeros records the defaulted fields a caller set to their zero
// value: 0 for a port is an error, not a request for 8080.
func explicitZeros(p *validate.Problems, fields []zeroField, given func(string) bool) {
	if given == nil {
		return
	}
	for _, f := range fields {
		if f.zero && given(f.name) {
			p.Add(f.name, "must not be zero or empty; omit it to take the default")
		}
	}
}

// classify maps an Automation API error to a typed Error, using the
// auto.Is… helpers and the context's state. diags are the engine's error
// diagnostics collected during the operation.
func classify(ctx context.Context, op, stack string, err error, diags []string) *Error {
	if err == nil {
		return nil
	}
	var typed *Error
	if errors.As(err, &typed) {
		return typed
	}
	e := &Error{Op: op, Stack: stack, Err: err}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		e.Kind = KindTimeout
	case errors.Is(ctx.Err(), context.Canceled):
		e.Kind = KindCanceled
	case inChain(err, auto.IsSelectStack404Error):
		e.Kind = KindNotFound
	case isConcurrentUpdate(err), inChain(err, auto.IsCreateStack409Error):
		e.Kind = KindConflict
	case strings.Contains(err.Error(), "incorrect passphrase"):
		// The stack's secrets were encrypted with another passphrase: say
		// which settings decide it instead of the CLI's stack trace.
		e.Kind, e.Reason = KindInvalid, fmt.Sprintf("stack %q was encrypted with another passphrase than %s / %s give", stack, envPassphrase, envPassphraseFile)
		e.Fields = validate.Errors{{Field: envPassphrase, Rule: e.Reason}}
		return e
	default:
		e.Kind = KindFailed
	}
	e.Reason = reason(err, diags)
	return e
}

// inChain applies an auto.Is… helper to every error in the wrap chain: the
// helpers only recognise the SDK's own error value, not wrappers of it.
func inChain(err error, is func(error) bool) bool {
	for ; err != nil; err = errors.Unwrap(err) {
		if is(err) {
			return true
		}
	}
	return false
}

// reason prefers the engine's diagnostics over the CLI's full output, which
// repeats them among progress lines.
func reason(err error, diags []string) string {
	if len(diags) > 0 {
		return strings.Join(diags, "; ")
	}
	msg := err.Error()
	// auto errors embed the CLI's stderr after "stderr:"; keep its errors.
	if i := strings.Index(msg, "stderr:"); i >= 0 {
		var lines []string
		for _, l := range strings.Split(msg[i+len("stderr:"):], "\n") {
			l = strings.TrimSpace(l)
			if strings.HasPrefix(l, "error:") {
				lines = append(lines, strings.TrimSpace(strings.TrimPrefix(l, "error:")))
			}
		}
		if len(lines) > 0 {
			return strings.Join(lines, "; ")
		}
	}
	if len(msg) > 500 {
		msg = msg[:500] + "…"
	}
	return msg
}
