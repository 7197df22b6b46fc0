package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/queue"
)

// scrape reads /metrics as Prometheus does and parses the text format.
func scrape(t *testing.T, h http.Handler, token string) (int, map[string]*dto.MetricFamily) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return rec.Code, nil
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	require.NoError(t, err, rec.Body.String())
	return rec.Code, fams
}

func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	fam, ok := fams[name]
	require.True(t, ok, "metric %s is exported", name)
	for _, m := range fam.GetMetric() {
		match := true
		for _, l := range m.GetLabel() {
			if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("no %s with %v", name, labels)
	return 0
}

func TestMetricsCountOperationsAndReadTheQueue(t *testing.T) {
	srv, _, q := apiUnderTest(t)
	h := srv.Handler()
	code, _ := scrape(t, h, "")
	assert.Equal(t, http.StatusUnauthorized, code, "the token guards /metrics too")

	code, body := call(t, h, "PUT", "/v1/previews/pr-1", `{`+goodPreview+`}`)
	require.Equal(t, http.StatusAccepted, code, "%v", body)
	id := body["id"].(string)
	require.Eventually(t, func() bool {
		op, _ := q.Get(context.Background(), id)
		return op != nil && op.Done()
	}, 2*time.Minute, 20*time.Millisecond) // a ceiling on a hang, not a timing gate

	// A second replica on the same database that works nothing: its
	// queued operation is the queue's depth, seen from either replica.
	idle, err := New(context.Background(), &recordingBackend{}, Options{Token: apiToken, StateDir: srv.opts.StateDir,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	defer idle.Queue().Close()
	require.NoError(t, q.Stop(time.Second))
	_, err = idle.Queue().Enqueue(context.Background(), queue.KindBuildRun, "b-1", map[string]string{})
	require.NoError(t, err)

	code, fams := scrape(t, h, apiToken)
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, 1.0, value(t, fams, "apphub_operations_total", map[string]string{"kind": "preview-up", "status": "failed"}))
	assert.Equal(t, 1.0, value(t, fams, "apphub_operation_duration_seconds", map[string]string{"kind": "preview-up", "status": "failed"}), "one observation")
	assert.Equal(t, 1.0, value(t, fams, "apphub_queue_depth", nil))
	assert.Equal(t, 0.0, value(t, fams, "apphub_operations_in_flight", nil))
	assert.Equal(t, 0.0, value(t, fams, "apphub_previews_live", nil))
	assert.Equal(t, 1.0, value(t, fams, "apphub_queue_up", nil))
	assert.Equal(t, 0.0, value(t, fams, "apphub_preview_expiries_total", nil))
	assert.Contains(t, fams, "go_goroutines")
}
