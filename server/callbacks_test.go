package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apphub/apphub-infra/internal/netguard"
	"github.com/apphub/apphub-infra/queue"
)

// receiver is a catalog endpoint on 127.0.0.1 that checks signatures
// the way the README tells a catalog to, and fails its first delivery.
type receiver struct {
	secret []byte
	mu     sync.Mutex
	events []string
	bad    int
	calls  int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.calls++
	if r.Header.Get(SignatureHeader) != Sign(rc.secret, body) {
		rc.bad++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if rc.calls == 1 {
		w.WriteHeader(http.StatusInternalServerError) // the catalog is briefly down
		return
	}
	var ev struct {
		Type      string
		Operation queue.Operation
	}
	_ = json.Unmarshal(body, &ev)
	if ev.Type != "operation."+ev.Operation.Status || r.Header.Get("X-Apphub-Event") != ev.Type {
		rc.bad++
	}
	rc.events = append(rc.events, ev.Type)
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) got() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.events...)
}

func TestCallbacksAreSignedRetriedAndRecorded(t *testing.T) {
	secret := []byte("whsec-0123456789")
	rc := &receiver{secret: secret}
	hook := httptest.NewServer(rc)
	defer hook.Close()
	srv, err := New(context.Background(), &recordingBackend{}, Options{Token: apiToken, StateDir: t.TempDir(),
		WebhookSecret: secret, CallbackPolicy: loopbackAllowed, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	require.NoError(t, srv.Queue().Start(ctx))
	defer func() { _ = srv.Queue().Stop(time.Second); srv.Queue().Close() }()

	code, body := call(t, srv.Handler(), "PUT", "/v1/previews/pr-1", `{`+goodPreview+`,"callbackUrl":"`+hook.URL+`/hooks/apphub"}`)
	require.Equal(t, http.StatusAccepted, code, "%v", body)
	assert.Equal(t, hook.URL+"/hooks/apphub", body["callbackUrl"])
	require.Eventually(t, func() bool { return len(rc.got()) == 3 }, 30*time.Second, 50*time.Millisecond, "got %v", rc.got())
	assert.ElementsMatch(t, []string{"operation.queued", "operation.running", "operation.failed"}, rc.got(),
		"every status change, the first one after a retry")
	assert.Zero(t, rc.bad, "every signature and event header checks out")

	code, op := call(t, srv.Handler(), "GET", "/v1/operations/"+body["id"].(string), ``)
	require.Equal(t, http.StatusOK, code)
	deliveries := op["deliveries"].([]any)
	require.Len(t, deliveries, 4, "three events, one of them twice: %v", deliveries)
	var failed, retried int
	for _, d := range deliveries {
		d := d.(map[string]any)
		if d["statusCode"] == 500.0 {
			failed++
			assert.Equal(t, 1.0, d["attempt"])
		}
		if d["attempt"] == 2.0 {
			retried++
			assert.Equal(t, 204.0, d["statusCode"])
		}
	}
	assert.Equal(t, 1, failed)
	assert.Equal(t, 1, retried)
	created, _ := time.Parse(time.RFC3339Nano, op["createdAt"].(string))
	for _, d := range deliveries {
		d := d.(map[string]any)
		at, _ := time.Parse(time.RFC3339Nano, d["at"].(string))
		t.Logf("delivery %s attempt %v: %v after the operation was accepted (status %v)", d["event"], d["attempt"], at.Sub(created).Round(time.Millisecond), d["statusCode"])
	}
	_, fams := scrape(t, srv.Handler(), apiToken)
	assert.Equal(t, 3.0, value(t, fams, "apphub_callback_deliveries_total", map[string]string{"result": "delivered"}))
	assert.Equal(t, 1.0, value(t, fams, "apphub_callback_deliveries_total", map[string]string{"result": "failed"}))
}

func TestCallbackURLsAreCheckedBeforeAnythingIsQueued(t *testing.T) {
	tests := []struct {
		name, url, rule string
		secret          bool
	}{
		{"not http", "ftp://hooks.test/x", "http:// or https://", true},
		{"no host", "https:///x", "http:// or https://", true},
		{"credentials", "https://u:p@hooks.test/x", "must not carry credentials", true},
		{"loopback", "http://127.0.0.1:9/x", "127.0.0.1 is loopback", true},
		{"localhost", "http://localhost/x", "is loopback", true},
		{"link-local metadata", "http://169.254.169.254/latest/meta-data", "link-local", true},
		{"ipv6 loopback", "http://[::1]/x", "loopback", true},
		{"ipv6 loopback with a zone", "http://[::1%25lo]:9/x", "zone", true},
		{"ipv6 link-local with a zone", "http://[fe80::1%25lo]/x", "zone", true},
		{"rfc 1918", "http://10.0.0.1:5432/", "RFC 1918", true},
		{"the cluster's service range", "http://10.96.0.1/", "RFC 1918", true},
		{"rfc 1918 192.168", "http://192.168.1.10/x", "RFC 1918", true},
		{"unique local", "http://[fc00::5]/x", "unique local", true},
		{"ipv6 metadata", "http://[fd00:ec2::254]/latest", "unique local", true},
		{"carrier-grade nat", "http://100.100.100.200/latest/meta-data", "carrier-grade NAT", true},
		{"ipv4-mapped loopback", "http://[::ffff:127.0.0.1]/x", "loopback", true},
		{"decimal ipv4", "http://2130706433:9/x", "not an address in dotted-quad", true},
		{"octal ipv4", "http://0177.0.0.1/x", "not an address in dotted-quad", true},
		{"short ipv4", "http://127.1/x", "not an address in dotted-quad", true},
		{"no secret", "https://hooks.test/x", "no webhook secret", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{Token: apiToken, StateDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
			if tt.secret {
				opts.WebhookSecret = []byte("s")
			}
			srv, err := New(context.Background(), &recordingBackend{}, opts)
			require.NoError(t, err)
			defer srv.Queue().Close()
			code, body := call(t, srv.Handler(), "PUT", "/v1/previews/pr-1", `{`+goodPreview+`,"callbackUrl":"`+tt.url+`"}`)
			require.Equal(t, http.StatusBadRequest, code, "%v", body)
			assert.Contains(t, fieldRules(t, body)["callbackUrl"][0], tt.rule)
			ops, err := srv.Queue().List(context.Background(), queue.Filter{})
			require.NoError(t, err)
			assert.Empty(t, ops)
		})
	}
}

// loopbackAllowed lets callbacks reach the tests' receivers on 127.0.0.1.
var loopbackAllowed = netguard.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}

// The URL check sees only names; the client checks the address it is
// about to dial, which is what a name pointing at loopback would reach.
// An allowed range is dialled, and nothing beside it.
func TestTheCallbackClientDialsOnlyWhatThePolicyAllows(t *testing.T) {
	hook := httptest.NewServer(http.NotFoundHandler())
	defer hook.Close()
	_, err := callbackClient(netguard.Policy{}).Post(hook.URL, "application/json", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "refused: 127.0.0.1 is loopback")

	resp, err := callbackClient(loopbackAllowed).Post(hook.URL, "application/json", nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "the allowed receiver answered")

	other := netguard.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}}
	_, err = callbackClient(other).Post(hook.URL, "application/json", nil)
	assert.ErrorContains(t, err, "refused: 127.0.0.1 is loopback", "an allowed neighbour opens nothing else")
}

// A request may use an allowed private range; the operator's list is the
// only way in.
func TestAnAllowedRangeIsAccepted(t *testing.T) {
	allow, err := netguard.ParseAllow([]string{"10.20.0.0/16"})
	require.NoError(t, err)
	opts := Options{Token: apiToken, StateDir: t.TempDir(), WebhookSecret: []byte("s"),
		CallbackPolicy: netguard.Policy{Allow: allow}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	srv, err := New(context.Background(), &recordingBackend{}, opts)
	require.NoError(t, err)
	defer srv.Queue().Close()
	code, body := call(t, srv.Handler(), "PUT", "/v1/previews/pr-1", `{`+goodPreview+`,"callbackUrl":"http://10.20.3.4:8080/hooks"}`)
	assert.Equal(t, http.StatusAccepted, code, "%v", body)
	code, body = call(t, srv.Handler(), "PUT", "/v1/previews/pr-2", `{`+goodPreview+`,"callbackUrl":"http://10.21.3.4:8080/hooks"}`)
	require.Equal(t, http.StatusBadRequest, code, "%v", body)
	assert.Contains(t, fieldRules(t, body)["callbackUrl"][0], "--callback-allow-cidr")
}

func TestWebhookNeedsASecret(t *testing.T) {
	_, err := New(context.Background(), &recordingBackend{}, Options{Token: apiToken, StateDir: t.TempDir(), WebhookURL: "https://hooks.test/x"})
	assert.ErrorContains(t, err, "needs a webhook secret")
}
