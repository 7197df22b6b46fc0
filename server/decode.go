package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/apphub/apphub-infra/internal/validate"
)

// maxBody bounds a request body.
const maxBody = 1 << 20

// bodyField names problems of the body as a whole.
const bodyField = "body"

// request is one decoded request body: the keys the caller gave, and
// whether the object was read to its end (when it was not, the spec is
// partial and checking it would only report noise).
type request struct {
	given    map[string]bool
	complete bool
}

func (q request) has(field string) bool { return q.given[field] }

// decodeStrict reads a body that must be exactly one JSON object whose keys
// match v's json names exactly. encoding/json alone matches keys
// case-insensitively, keeps the last of duplicate keys and ignores what
// follows the first value, so each of those would pass unnoticed. Every
// problem is recorded in p, named by the key as the caller wrote it.
func decodeStrict(w http.ResponseWriter, r *http.Request, v any, p *validate.Problems) request {
	q := request{given: map[string]bool{}}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		p.Add(bodyField, "must be at most %d bytes", maxBody)
		return q
	case err != nil:
		p.Add(bodyField, "could not be read: %v", err)
		return q
	case !utf8.Valid(body):
		p.Add(bodyField, "must be UTF-8")
		return q
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		p.Add(bodyField, "must be a JSON object such as {\"image\":\"…\"}")
		return q
	}
	fields := jsonFields(v)
	for dec.More() {
		key, raw, err := nextMember(dec)
		if err != nil {
			p.Add(bodyField, "is not valid JSON: %v", err)
			return q
		}
		decodeMember(p, fields, q.given, key, raw)
	}
	if _, err := dec.Token(); err != nil {
		p.Add(bodyField, "is not valid JSON: %v", err)
		return q
	}
	q.complete = true
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		p.Add(bodyField, "must hold exactly one JSON object: data follows it")
	}
	return q
}

// nextMember reads one "key": value pair of an object.
func nextMember(dec *json.Decoder) (string, json.RawMessage, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", nil, err
	}
	key, _ := tok.(string) // inside an object the decoder yields only string keys
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return "", nil, err
	}
	return key, raw, nil
}

// decodeMember stores one member into its field, recording why it cannot.
func decodeMember(p *validate.Problems, fields map[string]reflect.Value, given map[string]bool, key string, raw json.RawMessage) {
	if given[key] {
		p.Add(key, "is given more than once")
		return
	}
	given[key] = true
	fv, ok := fields[key]
	if !ok {
		p.Add(key, "%s", unknownRule(fields, key))
		return
	}
	if string(raw) == "null" {
		p.Add(key, "must not be null; omit the field to take the default")
		return
	}
	if err := json.Unmarshal(raw, fv.Addr().Interface()); err != nil {
		p.Add(key, "must be %s: %s", describe(fv.Type()), jsonProblem(err))
		return
	}
	if fv.Kind() == reflect.Map {
		if dup := validate.DuplicateKey(raw); dup != "" {
			p.Add(key, "key %q is given more than once", dup)
		}
	}
}

// unknownRule says a key is not part of the API, and which key a
// case-variant of a known one was probably meant to be.
func unknownRule(fields map[string]reflect.Value, key string) string {
	for name := range fields {
		if strings.EqualFold(name, key) {
			return fmt.Sprintf("is not a field (keys are case-sensitive: did you mean %q?)", name)
		}
	}
	return "is not a field of this request"
}

// jsonFields maps the exact json names of a struct's fields to the fields;
// an embedded struct's fields are the outer struct's, as encoding/json has it.
func jsonFields(v any) map[string]reflect.Value {
	out := map[string]reflect.Value{}
	addFields(reflect.ValueOf(v).Elem(), out)
	return out
}

func addFields(rv reflect.Value, out map[string]reflect.Value) {
	for i := 0; i < rv.NumField(); i++ {
		f := rv.Type().Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			addFields(rv.Field(i), out)
			continue
		}
		if name != "" && name != "-" {
			out[name] = rv.Field(i)
		}
	}
}

// describe names the JSON shape a field type takes.
func describe(t reflect.Type) string {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int:
		return "an integer"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Map:
		return "an object of strings"
	case reflect.Slice:
		return "an array of strings"
	}
	return "a " + t.String()
}

// jsonProblem turns a decoding error into what the caller sent.
func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return "got " + typeErr.Value
	}
	return err.Error()
}

// noQuery refuses query parameters on requests that take a body: none is
// part of the API, and an ignored one would look accepted.
func noQuery(r *http.Request, p *validate.Problems) {
	if r.URL.RawQuery != "" {
		p.Add("query", "this request takes no query parameters, got %q", r.URL.RawQuery)
	}
}

// noBody refuses a body on a request that takes none: whatever it asked
// for (a "force" flag, say) would be ignored while the request succeeded.
func noBody(w http.ResponseWriter, r *http.Request, p *validate.Problems) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil || len(bytes.TrimSpace(body)) > 0 {
		p.Add(bodyField, "this request takes no body")
	}
}
