package queue

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/apphub/apphub-infra/automation"
)

// Operation statuses.
const (
	StatusQueued    = "queued"
	StatusRunning   = "running"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusCanceled  = "canceled"
)

// Operation kinds.
const (
	KindPreviewUp      = "preview-up"
	KindPreviewDestroy = "preview-destroy"
	KindBuildRun       = "build-run"
	KindBuildDestroy   = "build-destroy"
)

// Operation is an accepted request and its progress.
type Operation struct {
	ID        string          `json:"id"`
	Kind      string          `json:"kind"`
	Target    string          `json:"target"`
	Status    string          `json:"status"`
	Reason    string          `json:"reason,omitempty"`
	ErrorKind string          `json:"errorKind,omitempty"`
	Spec      json.RawMessage `json:"spec,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Attempts  int             `json:"attempts"`
	Replica   string          `json:"replica,omitempty"`
	JobID     int64           `json:"jobId"`
	// CallbackURL is told of every status change (see Delivery).
	CallbackURL string             `json:"callbackUrl,omitempty"`
	CreatedAt   time.Time          `json:"createdAt"`
	StartedAt   *time.Time         `json:"startedAt,omitempty"`
	FinishedAt  *time.Time         `json:"finishedAt,omitempty"`
	Events      []automation.Event `json:"events,omitempty"`
	Deliveries  []DeliveryAttempt  `json:"deliveries,omitempty"`
	Links       map[string]string  `json:"links,omitempty"`
}

// Done reports whether the operation reached a final status.
func (o *Operation) Done() bool {
	return o.Status == StatusSucceeded || o.Status == StatusFailed || o.Status == StatusCanceled
}

// Target names the stack an operation works on; previews and builds are
// separate name spaces.
func Target(kind, id string) string {
	if kind == KindBuildRun || kind == KindBuildDestroy {
		return "build/" + id
	}
	return "preview/" + id
}

// Filter selects operations to list; empty fields match everything.
type Filter struct {
	Target string
	Status string
	Limit  int
	// Before is a page cursor: only operations older than this one.
	Before string
	// WithSpec reads each operation's request too (large: lists leave it out).
	WithSpec bool
}

// Statuses lists every status, in lifecycle order.
var Statuses = []string{StatusQueued, StatusRunning, StatusSucceeded, StatusFailed, StatusCanceled}

// ValidStatus checks a status filter.
func ValidStatus(s string) error {
	for _, v := range Statuses {
		if s == v {
			return nil
		}
	}
	return fmt.Errorf("must be one of %s, got %q", strings.Join(Statuses, ", "), s)
}

var idPattern = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}-[0-9a-f]{16}$`)

// ValidID checks an operation id's shape (20261201T082152-0123456789abcdef).
func ValidID(id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("must be an operation id such as 20261201T082152-0123456789abcdef, got %q", id)
	}
	return nil
}

// StackTarget maps a stack name (preview-<launch>, build-<id>) to its target.
func StackTarget(stack string) (string, error) {
	switch {
	case strings.HasPrefix(stack, "preview-") && automation.ValidLaunch("", strings.TrimPrefix(stack, "preview-")) == nil:
		return Target(KindPreviewUp, strings.TrimPrefix(stack, "preview-")), nil
	case strings.HasPrefix(stack, "build-") && automation.ValidBuild("", strings.TrimPrefix(stack, "build-")) == nil:
		return Target(KindBuildRun, strings.TrimPrefix(stack, "build-")), nil
	}
	return "", fmt.Errorf("must be preview-<launch> or build-<id> with a valid id, got %q", stack)
}
