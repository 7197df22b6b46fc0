package server

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/apphub/apphub-infra/automation"
	"github.com/apphub/apphub-infra/internal/validate"
	"github.com/apphub/apphub-infra/queue"
)

// statusOf maps an automation error kind to its HTTP status.
var statusOf = map[automation.ErrorKind]int{
	automation.KindInvalid:  http.StatusBadRequest,
	automation.KindNotFound: http.StatusNotFound,
	automation.KindConflict: http.StatusConflict,
	automation.KindTimeout:  http.StatusGatewayTimeout,
	automation.KindCanceled: http.StatusServiceUnavailable,
	automation.KindFailed:   http.StatusBadGateway,
	automation.KindQuota:    http.StatusUnprocessableEntity,
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

// apiError is the one shape of every error the API answers, as the CLI's
// -o json has it: what went wrong, its machine kind, the refused fields,
// and for a conflict the operation in the way.
type apiError struct {
	Error     string                `json:"error"`
	Kind      string                `json:"kind"`
	Fields    []validate.FieldError `json:"fields"`
	Operation *queue.Operation      `json:"operation,omitempty"`
}

func writeError(w http.ResponseWriter, status int, kind, msg string, fields []validate.FieldError) {
	if fields == nil {
		fields = []validate.FieldError{}
	}
	writeJSON(w, status, apiError{Error: msg, Kind: kind, Fields: fields})
}

// writeConflict answers 409 naming the operation in the way.
func writeConflict(w http.ResponseWriter, msg string, op *queue.Operation) {
	writeJSON(w, http.StatusConflict, apiError{Error: msg, Kind: string(automation.KindConflict), Fields: []validate.FieldError{}, Operation: withLinks(op)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
