package server

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The OpenAPI 3 document is built from the route table and the Go types
// of bodies and results, so it describes what the handlers decode and
// encode, field for field.

var pathParam = regexp.MustCompile(`\{([a-z]+)\}`)

// errorStatuses are the failures every authenticated route may answer.
var errorStatuses = map[string]string{
	"400": "invalid input: fields names every problem",
	"401": "missing or wrong bearer token",
	"404": "no such preview, build or operation",
	"409": "an operation is under way on the stack (or the operation already finished)",
	"429": "too many operations in flight",
	"500": "internal error",
}

func (s *Server) openAPI() map[string]any {
	schemas := map[string]any{}
	errSchema := schemaOf(reflect.TypeOf(apiError{}), schemas)
	schemas["ApiError"].(map[string]any)["required"] = []string{"error", "kind", "fields"}
	_ = errSchema
	paths := map[string]any{}
	for _, rt := range s.routes() {
		item, _ := paths[rt.path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.path] = item
		}
		item[strings.ToLower(rt.method)] = operationDoc(rt, schemas)
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info":    map[string]any{"title": "AppHub preview and build service", "version": "1"},
		"paths":   paths,
		"components": map[string]any{"schemas": schemas,
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}}},
		"security": []any{map[string]any{"bearer": []any{}}},
	}
}

func operationDoc(rt route, schemas map[string]any) map[string]any {
	op := map[string]any{"summary": rt.summary, "operationId": strings.ToLower(rt.method) + strings.NewReplacer("/", "_", "{", "", "}", "", ".", "_").Replace(rt.path)}
	var params []any
	for _, m := range pathParam.FindAllStringSubmatch(rt.path, -1) {
		params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
	}
	for _, q := range rt.query {
		params = append(params, map[string]any{"name": q.name, "in": "query", "description": q.about, "schema": map[string]any{"type": q.kind}})
	}
	if params != nil {
		op["parameters"] = params
	}
	if rt.body != nil {
		op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": schemaOf(reflect.TypeOf(rt.body), schemas)}}}
	}
	ok := map[string]any{"description": "success"}
	switch {
	case rt.text:
		ok["content"] = map[string]any{"text/plain": map[string]any{"schema": map[string]any{"type": "string"}}}
	case rt.result != nil:
		ok["content"] = map[string]any{"application/json": map[string]any{"schema": schemaOf(reflect.TypeOf(rt.result), schemas)}}
	}
	responses := map[string]any{strconv.Itoa(rt.ok): ok}
	if rt.public {
		op["security"] = []any{}
	} else {
		for code, about := range errorStatuses {
			responses[code] = map[string]any{"description": about,
				"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/ApiError"}}}}
		}
	}
	op["responses"] = responses
	return op
}

var (
	timeType = reflect.TypeOf(time.Time{})
	rawType  = reflect.TypeOf(json.RawMessage{})
)

// schemaOf describes a Go type as encoding/json writes it; named structs
// become components.
func schemaOf(t reflect.Type, schemas map[string]any) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawType:
		return map[string]any{"description": "any JSON"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return schemaOf(t.Elem(), schemas)
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int64, reflect.Int32:
		return map[string]any{"type": "integer"}
	case reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem(), schemas)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem(), schemas)}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		if t.Name() == "" {
			return structSchema(t, schemas)
		}
		name := strings.ToUpper(t.Name()[:1]) + t.Name()[1:]
		if _, done := schemas[name]; !done {
			schemas[name] = map[string]any{} // breaks cycles
			schemas[name] = structSchema(t, schemas)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

func structSchema(t reflect.Type, schemas map[string]any) map[string]any {
	props := map[string]any{}
	addProps(t, props, schemas)
	return map[string]any{"type": "object", "additionalProperties": false, "properties": props}
}

func addProps(t reflect.Type, props map[string]any, schemas map[string]any) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			addProps(f.Type, props, schemas)
			continue
		}
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		props[name] = schemaOf(f.Type, schemas)
	}
}

func (s *Server) serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.openAPI())
}
