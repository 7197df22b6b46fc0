package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// samplePath fills a route's path parameters with well-formed values.
func samplePath(path string) string {
	r := strings.NewReplacer("{launch}", "pr-1", "/v1/operations/{id}", "/v1/operations/20261201T082152-0123456789abcdef", "{id}", "b-1")
	return r.Replace(path)
}

func TestOpenAPIDescribesEveryRouteTheRouterServes(t *testing.T) {
	srv, _, _ := apiUnderTest(t)
	h := srv.Handler()
	code, doc := call(t, h, "GET", "/v1/openapi.json", ``)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "3.0.3", doc["openapi"])
	paths := doc["paths"].(map[string]any)

	var documented []string
	for path, item := range paths {
		for method := range item.(map[string]any) {
			documented = append(documented, strings.ToUpper(method)+" "+path)
			// The router answers it: not the mux's own 404 or 405.
			req := httptest.NewRequest(strings.ToUpper(method), samplePath(path), nil)
			req.Header.Set("Authorization", "Bearer "+apiToken)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			assert.NotEqual(t, http.StatusMethodNotAllowed, rec.Code, "%s %s", method, path)
			assert.NotContains(t, rec.Body.String(), "no such route", "%s %s is routed", method, path)
			if rec.Code >= 400 && rec.Header().Get("Content-Type") != "text/plain; charset=utf-8" {
				var e map[string]any
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e), "%s %s: %s", method, path, rec.Body.String())
				assert.Contains(t, e, "kind", "%s %s: one error shape", method, path)
				assert.Contains(t, e, "fields", "%s %s: one error shape", method, path)
			}
		}
	}
	var routed []string
	for _, rt := range srv.routes() {
		routed = append(routed, rt.method+" "+rt.path)
	}
	sort.Strings(documented)
	sort.Strings(routed)
	assert.Equal(t, routed, documented, "every route documented, nothing documented that is not routed")

	req := httptest.NewRequest("GET", "/v1/undocumented", nil)
	req.Header.Set("Authorization", "Bearer "+apiToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusNotFound, rec.Code, "the walk can tell a route from no route")
	assert.JSONEq(t, `{"error":"no such route: GET /v1/undocumented","kind":"not-found","fields":[]}`, rec.Body.String())
	req = httptest.NewRequest("PATCH", "/v1/previews/pr-1", nil)
	req.Header.Set("Authorization", "Bearer "+apiToken)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	assert.Contains(t, rec.Header().Get("Allow"), "PUT")
	assert.Contains(t, rec.Body.String(), `"kind":"method-not-allowed"`)
}

// The request schemas list exactly the keys the strict decoder accepts.
func TestOpenAPIRequestBodiesMatchTheDecoder(t *testing.T) {
	srv, _, _ := apiUnderTest(t)
	doc := srv.openAPI()
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	for _, rt := range srv.routes() {
		if rt.body == nil {
			continue
		}
		ref := schemaOf(reflect.TypeOf(rt.body), schemas)["$ref"].(string)
		schema := schemas[strings.TrimPrefix(ref, "#/components/schemas/")].(map[string]any)
		var keys []string
		for k := range schema["properties"].(map[string]any) {
			keys = append(keys, k)
		}
		var accepted []string
		for k := range jsonFields(reflect.New(reflect.TypeOf(rt.body)).Interface()) {
			accepted = append(accepted, k)
		}
		sort.Strings(keys)
		sort.Strings(accepted)
		assert.Equal(t, accepted, keys, "%s %s", rt.method, rt.path)
		assert.Contains(t, keys, "callbackUrl")
		assert.Equal(t, false, schema["additionalProperties"], "unknown keys are refused, and the document says so")
	}
	b, err := json.Marshal(doc)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"#/components/schemas/Operation"`)
}
