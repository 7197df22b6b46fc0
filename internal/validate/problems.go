package validate

import (
	"fmt"
	"sort"
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

// Problems accumulates field errors; the zero value is ready to use.
type Problems struct {
	errs Errors
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

// Err returns nil when nothing was recorded, otherwise the Errors.
func (p *Problems) Err() error {
	if len(p.errs) == 0 {
		return nil
	}
	out := make(Errors, len(p.errs))
	copy(out, p.errs)
	return out
}
