package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"

	"github.com/apphub/apphub-infra/internal/netguard"
	"github.com/apphub/apphub-infra/queue"
)

// Callbacks: on every status change of an operation the service POSTs
// {"type":"operation.<status>","operation":{…}} to the request's
// callbackUrl and to --webhook-url, signed with HMAC-SHA256 over the body
// in X-Apphub-Signature-256: sha256=<hex>. Deliveries are queue jobs,
// retried with backoff and recorded on the operation.

// SignatureHeader carries the body's HMAC-SHA256.
const SignatureHeader = "X-Apphub-Signature-256"

// Sign returns the signature header value of body under secret.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// CheckCallbackURL is the rule for callback URLs, for callers that
// validate configuration before starting a server.
func CheckCallbackURL(raw string, policy netguard.Policy) error {
	return checkCallbackURL(raw, policy)
}

// checkCallbackURL allows http(s) URLs with a host and no credentials
// whose host the address policy allows: public addresses and names, and
// the ranges the operator allowed. Names are judged again once resolved,
// when dialled, so DNS cannot point a callback elsewhere later.
func checkCallbackURL(raw string, policy netguard.Policy) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("must be an http:// or https:// URL, got %q", raw)
	}
	if u.User != nil {
		return fmt.Errorf("must not carry credentials (the body is signed instead)")
	}
	if err := policy.CheckHost(u.Hostname()); err != nil {
		return fmt.Errorf("must reach a public address: %v (an operator can allow a private range with --callback-allow-cidr)", err)
	}
	return nil
}

// callbackClient dials only addresses the policy allows, after
// resolution, through no proxy, following no redirect.
func callbackClient(policy netguard.Policy) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			if err := policy.CheckDial(address); err != nil {
				return fmt.Errorf("callback refused: %w", err)
			}
			return nil
		}}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = dialer.DialContext
	tr.Proxy = nil
	return &http.Client{Transport: tr, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// deliver is the queue's Deliverer.
func (s *Server) deliver(ctx context.Context, d queue.Delivery) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "apphub-callbacks/1")
	req.Header.Set("X-Apphub-Event", d.Event)
	req.Header.Set("X-Apphub-Delivery", fmt.Sprintf("%s/%s/%d", d.OperationID, d.Event, d.Attempt))
	req.Header.Set(SignatureHeader, Sign(s.opts.WebhookSecret, d.Body))
	resp, err := s.callbacks.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, nil
}

// queueCallbacks queues the event of a status change for every URL
// that wants it.
func (s *Server) queueCallbacks(ctx context.Context, op *queue.Operation) {
	urls := []string{}
	for _, u := range []string{op.CallbackURL, s.opts.WebhookURL} {
		if u != "" && (len(urls) == 0 || urls[0] != u) {
			urls = append(urls, u)
		}
	}
	if len(urls) == 0 {
		return
	}
	view := *op
	view.Events, view.Deliveries, view.Spec = nil, nil, nil
	event := "operation." + op.Status
	body, err := json.Marshal(map[string]any{"type": event, "operation": withLinks(&view)})
	if err != nil {
		return
	}
	for _, u := range urls {
		if err := s.q.EnqueueDelivery(ctx, op.ID, u, event, body); err != nil {
			s.m.callbacks.WithLabelValues("not-queued").Inc()
			s.opts.Logger.Warn("queueing a callback", "id", op.ID, "event", event, "err", err)
		}
	}
}
