package validate

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// FieldError is one broken rule on one field.
type FieldError struct {
	Field string `json:"field"`
	Rule  string `json:"rule"`
}

func (e FieldError) Error() string { return e.Field + ": " + e.Rule }

// Errors is every problem found in one validation pass. It is an error so a
// caller can return it as is and still reach the individual fields.
type Errors []FieldError

func (e Errors) Error() string {
	msgs := make([]string, len(e))
	for i, fe := range e {
		msgs[i] = fe.Error()
	}
	return fmt.Sprintf("%d invalid field(s): %s", len(e), strings.Join(msgs, "; "))
}

// Fields lists the names of the fields that failed, sorted and unique.
func (e Errors) Fields() []string {
	seen := map[string]bool{}
	var out []string
	for _, fe := range e {
		if !seen[fe.Field] {
			seen[fe.Field] = true
			out = append(out, fe.Field)
		}
	}
	sort.Strings(out)
	return out
}

// Renamed returns the errors with their fields renamed through names, for
// a caller who wrote the fields differently (CLI flags for spec fields).
// Fields not in names keep their name.
func (e Errors) Renamed(names map[string]string) Errors {
	out := make(Errors, len(e))
	for i, fe := range e {
		if n, ok := names[fe.Field]; ok {
			fe.Field = n
		}
		out[i] = fe
	}
	return out
}

// Problems accumulates field errors; the zero value is ready to use.
type Problems struct {
	errs Errors
	// sources names where a field's value came from when that is not the
	// field itself: rules are written against config keys, but a value an
	// environment variable supplied must be reported under the variable.
	sources map[string]source
}

type source struct{ name, value string }

// From records that field's value came from name (an environment variable
// overriding a config key), so Err reports the field's problems under name
// and with the value, which is what the caller can find and fix. value is
// appended to rules that do not show it; pass "" for a secret.
func (p *Problems) From(field, name, value string) {
	if p.sources == nil {
		p.sources = map[string]source{}
	}
	p.sources[field] = source{name: name, value: value}
}

// Merge records the field errors of err, renamed through names, and
// reports whether err was an Errors (anything else is left to the caller).
func (p *Problems) Merge(err error, names map[string]string) bool {
	var errs Errors
	if !errors.As(err, &errs) {
		return false
	}
	p.errs = append(p.errs, errs.Renamed(names)...)
	return true
}

// Has reports whether field has a problem recorded already.
func (p *Problems) Has(field string) bool {
	for _, fe := range p.errs {
		if fe.Field == field {
			return true
		}
	}
	return false
}

// Add records a broken rule, formatted like fmt.Sprintf.
func (p *Problems) Add(field, rule string, args ...any) {
	if len(args) > 0 {
		rule = fmt.Sprintf(rule, args...)
	}
	p.errs = append(p.errs, FieldError{Field: field, Rule: rule})
}

// Check records every message returned by a Kubernetes-style validator.
func (p *Problems) Check(field string, msgs []string) {
	for _, m := range msgs {
		p.Add(field, m)
	}
}

// Err returns nil when nothing was recorded, otherwise the Errors, with
// each field named where its value came from (see From).
func (p *Problems) Err() error {
	if len(p.errs) == 0 {
		return nil
	}
	out := make(Errors, len(p.errs))
	for i, fe := range p.errs {
		if s, ok := p.sources[fe.Field]; ok {
			fe.Field = s.name
			if s.value != "" && !strings.Contains(fe.Rule, strconv.Quote(s.value)) && !strings.Contains(fe.Rule, "got "+s.value) {
				fe.Rule += fmt.Sprintf(" (got %q)", s.value)
			}
		}
		out[i] = fe
	}
	return out
}
