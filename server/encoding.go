package server

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/apphub/apphub-infra/automation"
	"github.com/apphub/apphub-infra/internal/validate"
)

// statusOf maps an automation error kind to its HTTP status.
var statusOf = map[automation.Kind]int{
	automation.KindInvalid:  http.StatusBadRequest,
	automation.KindNotFound: http.StatusNotFound,
	automation.KindConflict: http.StatusConflict,
	automation.KindTimeout:  http.StatusGatewayTimeout,
	automation.KindCanceled: http.StatusServiceUnavailable,
	automation.KindFailed:   http.StatusBadGateway,
}

func writeBackendError(w http.ResponseWriter, err error) {
	var e *automation.Error
	if !errors.As(err, &e) {
		writeError(w, http.StatusInternalServerError, "internal", err.Error(), nil)
		return
	}
	status := statusOf[e.Kind]
	if status == 0 {
		status = http.StatusInternalServerError
	}
	writeError(w, status, string(e.Kind), e.Error(), e.Fields)
}

func writeError(w http.ResponseWriter, status int, code, msg string, fields []validate.FieldError) {
	body := map[string]any{"error": code, "message": msg}
	if len(fields) > 0 {
		body["fields"] = fields
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
