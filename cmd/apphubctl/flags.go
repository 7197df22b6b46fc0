package main

import (
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/apphub/apphub-infra/internal/validate"
)

// Scalar flags are registered through flagValues rather than pflag's own
// types: pflag aborts the parse at the first bad value, so a run with two
// bad flags would report one. A value here keeps its parse error (and
// counts repeats, which pflag silently resolves to the last) until the
// command validates the whole invocation and reports every problem at once,
// each under the flag's name.

// flagValue is one lenient flag.
type flagValue[T any] struct {
	dst   *T
	parse func(string) (T, error)
	show  func(T) string
	typ   string // the type word in --help
	want  string // what a valid value is, for the error
	name  string
	raw   string
	err   error
	sets  int
}

func (v *flagValue[T]) Set(s string) error {
	v.sets++
	v.raw = s
	x, err := v.parse(s)
	if err != nil {
		v.err = err
		return nil
	}
	*v.dst, v.err = x, nil
	return nil
}

func (v *flagValue[T]) String() string { return v.show(*v.dst) }
func (v *flagValue[T]) Type() string   { return v.typ }

func (v *flagValue[T]) report(p *validate.Problems) {
	switch {
	case v.sets > 1:
		p.Add("--"+v.name, "is given %d times; give it once", v.sets)
	case v.err != nil:
		p.Add("--"+v.name, "must be %s, got %q", v.want, v.raw)
	}
}

// flagValues registers lenient flags and reports their problems.
type flagValues struct {
	all []interface{ report(*validate.Problems) }
}

func register[T any](fs *flagValues, set *pflag.FlagSet, v *flagValue[T], shorthand, usage string) {
	fs.all = append(fs.all, v)
	set.VarP(v, v.name, shorthand, usage)
}

func (fs *flagValues) stringVarP(set *pflag.FlagSet, dst *string, name, shorthand, def, usage string) {
	*dst = def
	register(fs, set, &flagValue[string]{dst: dst, name: name, typ: "string",
		parse: func(s string) (string, error) { return s, nil },
		show:  func(s string) string { return s }}, shorthand, usage)
}

func (fs *flagValues) stringVar(set *pflag.FlagSet, dst *string, name, def, usage string) {
	fs.stringVarP(set, dst, name, "", def, usage)
}

func (fs *flagValues) intVar(set *pflag.FlagSet, dst *int, name string, def int, usage string) {
	*dst = def
	register(fs, set, &flagValue[int]{dst: dst, name: name, typ: "int", want: "a whole number",
		parse: strconv.Atoi, show: strconv.Itoa}, "", usage)
}

func (fs *flagValues) durationVar(set *pflag.FlagSet, dst *time.Duration, name string, def time.Duration, usage string) {
	*dst = def
	register(fs, set, &flagValue[time.Duration]{dst: dst, name: name, typ: "duration", want: "a duration such as 90s, 15m or 48h",
		parse: time.ParseDuration,
		show: func(d time.Duration) string {
			if d == 0 {
				return "0" // pflag's help treats "0" as the zero default
			}
			return d.String()
		}}, "", usage)
}

// report records every flag's parse problem.
func (fs *flagValues) report(p *validate.Problems) {
	for _, v := range fs.all {
		v.report(p)
	}
}

// flagName is how a caller writes a flag.
func flagName(name string) string { return "--" + name }

// wholeSeconds checks a duration flag that is stored in seconds: a
// fraction would be truncated (500ms to 0, which means "never").
func wholeSeconds(p *validate.Problems, name string, d time.Duration) {
	switch {
	case d < 0:
		p.Add(flagName(name), "must not be negative, got %s", d)
	case d%time.Second != 0:
		p.Add(flagName(name), "must be a whole number of seconds, got %s", d)
	}
}

// positive checks an int flag the caller gave: zero or less would be
// replaced by a default without a word.
func positive(p *validate.Problems, changed bool, name string, n int) {
	if changed && n < 1 {
		p.Add(flagName(name), "must be at least 1, got %d", n)
	}
}

// nonEmpty checks a string flag the caller gave: an empty value would be
// replaced by a default without a word.
func nonEmpty(p *validate.Problems, changed bool, name, value string) {
	if changed && value == "" {
		p.Add(flagName(name), "must not be empty; omit it to take the default")
	}
}
