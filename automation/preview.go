package automation

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apphub/apphub-infra/components"
	"github.com/apphub/apphub-infra/internal/validate"
	"github.com/apphub/apphub-infra/stacks"
)

// PreviewSpec is the catalog's request for one launch. Zero values take the
// preview stack's defaults.
type PreviewSpec struct {
	Launch        string            `json:"launch"`
	Image         string            `json:"image"`
	Port          int               `json:"port,omitempty"`
	Replicas      *int              `json:"replicas,omitempty"`
	Env           map[string]string `json:"env,omitempty"`
	CPURequest    string            `json:"cpuRequest,omitempty"`
	MemoryRequest string            `json:"memoryRequest,omitempty"`
	CPULimit      string            `json:"cpuLimit,omitempty"`
	MemoryLimit   string            `json:"memoryLimit,omitempty"`
	HealthPath    *string           `json:"healthPath,omitempty"`
	// TTLSeconds sets the expiry to now+TTL on every PreviewUp, so a preview
	// the catalog keeps updating stays alive; 0 means no expiry.
	TTLSeconds  int      `json:"ttlSeconds,omitempty"`
	EgressAllow []string `json:"egressAllow,omitempty"`
	MountToken  bool     `json:"mountServiceAccountToken,omitempty"`
}

// PreviewResult is a preview's state.
type PreviewResult struct {
	Launch      string         `json:"launch"`
	Stack       string         `json:"stack"`
	State       string         `json:"state"`
	URL         string         `json:"url,omitempty"`
	Host        string         `json:"host,omitempty"`
	Namespace   string         `json:"namespace,omitempty"`
	ServiceName string         `json:"serviceName,omitempty"`
	ExpiresAt   string         `json:"expiresAt,omitempty"`
	Expired     bool           `json:"expired,omitempty"`
	Outputs     map[string]any `json:"outputs,omitempty"`
	LastUpdate  *Update        `json:"lastUpdate,omitempty"`
	Recovered   []string       `json:"recovered,omitempty"`
	// AlreadyGone is set by PreviewDestroy when there was nothing to destroy.
	AlreadyGone bool `json:"alreadyGone,omitempty"`
	// Stub marks a result of stub execution mode: nothing was created.
	Stub bool `json:"stub,omitempty"`
}

// Preview states.
const (
	StateReady      = "ready"
	StateDeploying  = "deploying"
	StateFailed     = "failed"
	StateDestroyed  = "destroyed"
	StateStub       = "stub"
	StateSucceeded  = "succeeded"
	StateBuilding   = "building"
	StateUnknown    = "unknown"
	previewStackPre = "preview-"
)

// PreviewStack is the stack name of a launch.
func PreviewStack(launch string) string { return previewStackPre + launch }

// maxTTLSeconds bounds a preview's TTL: a year outlives any launch, and
// the bound keeps now+TTL far inside time.Duration.
const maxTTLSeconds = 366 * 24 * 3600

// previewFields names stack config keys as the spec spells them, where
// they differ: the stack's expiry is derived from the caller's TTL.
var previewFields = map[string]string{"expiresAt": "ttlSeconds"}

// config turns the spec into the preview stack's config and validates it
// with the stack's own rules, so bad input never reaches Pulumi. Every
// problem is reported at once, named by the spec's (JSON) field names.
func (s PreviewSpec) config(now time.Time) (map[string]string, error) {
	cfg, _, err := s.parse(now)
	return cfg, err
}

// parse is config with the stack's parsed view of it, for the checks that
// follow (limits, quota) to use without parsing again.
func (s PreviewSpec) parse(now time.Time) (map[string]string, *stacks.PreviewStackConfig, error) {
	var p validate.Problems
	cfg := map[string]string{"launch": s.Launch, "image": s.Image}
	set := func(k, v string) {
		p.Trimmed(k, v)
		if v != "" {
			cfg[k] = v
		}
	}
	p.Trimmed("launch", s.Launch)
	p.Trimmed("image", s.Image)
	if s.Port != 0 {
		cfg["port"] = strconv.Itoa(s.Port)
	}
	if s.Replicas != nil {
		cfg["replicas"] = strconv.Itoa(*s.Replicas)
	}
	if len(s.Env) > 0 {
		cfg["env"] = jsonString(s.Env)
	}
	set("cpuRequest", s.CPURequest)
	set("memoryRequest", s.MemoryRequest)
	set("cpuLimit", s.CPULimit)
	set("memoryLimit", s.MemoryLimit)
	if s.HealthPath != nil {
		p.Trimmed("healthPath", *s.HealthPath)
		cfg["healthPath"] = *s.HealthPath
	}
	if s.MountToken {
		cfg["mountServiceAccountToken"] = "true"
	}
	checkEgressEntries(&p, s.EgressAllow)
	if len(s.EgressAllow) > 0 {
		cfg["egressAllow"] = strings.Join(s.EgressAllow, ",")
	}
	switch {
	case s.TTLSeconds < 0:
		p.Add("ttlSeconds", "must not be negative (0 or omitted: no expiry), got %d", s.TTLSeconds)
	case s.TTLSeconds > maxTTLSeconds:
		p.Add("ttlSeconds", "must be at most %d (366 days), got %d", maxTTLSeconds, s.TTLSeconds)
	case s.TTLSeconds > 0:
		cfg["expiresAt"] = now.Add(time.Duration(s.TTLSeconds) * time.Second).UTC().Format(time.RFC3339)
	}
	parsed, err := stacks.ParsePreviewConfig(stacks.MapSource{Values: cfg})
	if err != nil && !p.Merge(err, previewFields) {
		return nil, nil, err
	}
	if err := p.Err(); err != nil {
		return nil, nil, err
	}
	return cfg, parsed, nil
}

// checkEgressEntries refuses entries the stack's comma-separated list
// would silently split or drop.
func checkEgressEntries(p *validate.Problems, entries []string) {
	for i, e := range entries {
		if e == "" || strings.Contains(e, ",") || strings.TrimSpace(e) != e {
			p.Add("egressAllow", "entry %d (%q) must be one CIDR:port, without commas or surrounding spaces", i, e)
		}
	}
}

// defaulted lists the spec's fields whose zero value stands for the
// stack's default, each with whether it is zero here.
func (s PreviewSpec) defaulted() []zeroField {
	return []zeroField{
		{"port", s.Port == 0}, {"cpuRequest", s.CPURequest == ""}, {"memoryRequest", s.MemoryRequest == ""},
		{"cpuLimit", s.CPULimit == ""}, {"memoryLimit", s.MemoryLimit == ""},
	}
}

// ValidatePreviewRequest checks a caller's request as PreviewUp would,
// without a Manager and before anything exists. given reports the fields
// the caller set explicitly (HTTP body keys, CLI flags): for those a zero
// value is refused instead of silently taking the default, since only an
// omitted field means "the default". A nil given treats none as set.
func ValidatePreviewRequest(spec PreviewSpec, given func(field string) bool) error {
	var p validate.Problems
	explicitZeros(&p, spec.defaulted(), given)
	if _, err := spec.config(time.Now()); err != nil && !p.Merge(err, nil) {
		return invalid("preview up", PreviewStack(spec.Launch), err)
	}
	if err := p.Err(); err != nil {
		return invalid("preview up", PreviewStack(spec.Launch), err)
	}
	return nil
}

// PreviewUp creates or updates a launch's preview and waits until it is
// ready. Calling it again with the same spec changes nothing but the expiry.
func (m *Manager) PreviewUp(ctx context.Context, spec PreviewSpec) (*PreviewResult, error) {
	const op = "preview up"
	stack := PreviewStack(spec.Launch)
	cfg, parsed, err := spec.parse(m.opts.Now())
	if err != nil {
		return nil, invalid(op, stack, err)
	}
	if m.opts.LaunchMode == ModeStub {
		return m.stubPreviewUp(spec, cfg)
	}
	if ctx, err = m.withPlatform(ctx, op, stack); err != nil {
		return nil, err
	}
	if err := m.checkPlatformLimits(ctx, op, stack, spec.resources()...); err != nil {
		return nil, err
	}
	if err := m.checkPreviewQuota(ctx, parsed); err != nil {
		return nil, err
	}
	if err := m.withPlatformOutputs(ctx, cfg); err != nil {
		return nil, err
	}
	upCtx, done := m.previewUpCtx(ctx, spec.Launch)
	res, err := m.up(upCtx, op, stacks.PreviewProject, stack, m.opts.PreviewProgram, cfg)
	stuck := stuckError(upCtx, op, stack)
	done()
	if stuck != nil {
		return previewFailure(spec.Launch, res), stuck
	}
	if err != nil {
		return previewFailure(spec.Launch, res), withCauses(err, m.workloadCauses(ctx, stacks.OutNamespace, "ReplicaSet", isReplicaSetOf(components.PreviewName(spec.Launch))))
	}
	r := previewFromOutputs(spec.Launch, res.Outputs, res.Secrets, m.opts.Now())
	r.State, r.LastUpdate, r.Recovered = StateReady, res.Update, res.Recovered
	return r, nil
}

func previewFailure(launch string, res *opResult) *PreviewResult {
	r := &PreviewResult{Launch: launch, Stack: PreviewStack(launch), State: StateFailed}
	if res != nil {
		r.Recovered = res.Recovered
	}
	return r
}

func previewFromOutputs(launch string, vals map[string]any, secrets map[string]bool, now time.Time) *PreviewResult {
	str := func(k string) string { s, _ := vals[k].(string); return s }
	r := &PreviewResult{
		Launch: launch, Stack: PreviewStack(launch),
		URL: str(stacks.OutURL), Host: str(stacks.OutHost), Namespace: str(stacks.OutNamespace),
		ServiceName: str(stacks.OutServiceName), ExpiresAt: str(stacks.OutExpiresAt),
		Outputs: masked(vals, secrets),
	}
	if t, err := time.Parse(time.RFC3339, r.ExpiresAt); err == nil && now.After(t) {
		r.Expired = true
	}
	return r
}

// PreviewDestroy destroys a launch's preview and removes its stack. A
// preview that does not exist is already destroyed: success, AlreadyGone.
func (m *Manager) PreviewDestroy(ctx context.Context, launch string) (*PreviewResult, error) {
	const op = "preview destroy"
	stack := PreviewStack(launch)
	if err := ValidLaunch(op, launch); err != nil {
		return nil, err
	}
	if m.opts.LaunchMode == ModeStub {
		return m.stubPreviewDestroy(launch)
	}
	res, gone, err := m.destroy(ctx, op, stacks.PreviewProject, stack, m.opts.PreviewProgram)
	if err != nil {
		return previewFailure(launch, res), err
	}
	return &PreviewResult{Launch: launch, Stack: stack, State: StateDestroyed, AlreadyGone: gone, LastUpdate: res.Update, Recovered: res.Recovered}, nil
}

// PreviewGet returns a preview's state, URL, outputs and last update.
func (m *Manager) PreviewGet(ctx context.Context, launch string) (*PreviewResult, error) {
	const op = "preview get"
	stack := PreviewStack(launch)
	if err := ValidLaunch(op, launch); err != nil {
		return nil, err
	}
	if m.opts.LaunchMode == ModeStub {
		return m.stubPreviewGet(launch)
	}
	info, err := m.get(ctx, op, stacks.PreviewProject, stack, m.opts.PreviewProgram, false)
	if err != nil {
		return nil, err
	}
	r := previewFromOutputs(launch, info.Outputs, info.Secrets, m.opts.Now())
	r.LastUpdate = info.LastUpdate
	switch {
	case info.Running != "":
		r.State = StateDeploying
	case info.LastUpdate != nil && info.LastUpdate.Result == "failed":
		r.State = StateFailed
	case r.URL != "":
		r.State = StateReady
	default:
		r.State = StateUnknown
	}
	return r, nil
}

// PreviewListItem is one preview in a listing.
type PreviewListItem struct {
	Launch           string `json:"launch"`
	Stack            string `json:"stack"`
	LastUpdate       string `json:"lastUpdate,omitempty"`
	UpdateInProgress bool   `json:"updateInProgress"`
	Resources        int    `json:"resources"`
	Stub             bool   `json:"stub,omitempty"`
}

// PreviewList lists the preview stacks.
func (m *Manager) PreviewList(ctx context.Context) ([]PreviewListItem, error) {
	if m.opts.LaunchMode == ModeStub {
		return m.stubPreviewList()
	}
	summaries, err := m.list(ctx, "preview list", stacks.PreviewProject, m.opts.PreviewProgram)
	if err != nil {
		return nil, err
	}
	items := []PreviewListItem{}
	for _, s := range summaries {
		launch, ok := strings.CutPrefix(s.Name, previewStackPre)
		if !ok {
			continue
		}
		it := PreviewListItem{Launch: launch, Stack: s.Name, LastUpdate: s.LastUpdate, UpdateInProgress: s.UpdateInProgress}
		if s.ResourceCount != nil {
			it.Resources = *s.ResourceCount
		}
		if _, busy := m.Busy(stacks.PreviewProject, s.Name); busy {
			it.UpdateInProgress = true
		}
		items = append(items, it)
	}
	return items, nil
}

// GCResult reports one expired preview.
type GCResult struct {
	Launch    string `json:"launch"`
	ExpiresAt string `json:"expiresAt"`
	Destroyed bool   `json:"destroyed"`
	// Unreadable: the preview's state could not be read, so whether it
	// expired is unknown; Error says why.
	Unreadable bool   `json:"unreadable,omitempty"`
	Error      string `json:"error,omitempty"`
}

// GC destroys every preview whose expiry has passed. It carries on past
// individual failures and reports each; the error summarises them.
func (m *Manager) GC(ctx context.Context) ([]GCResult, error) {
	items, err := m.PreviewList(ctx)
	if err != nil {
		return nil, err
	}
	results := []GCResult{}
	var failed, unread []string
	for _, it := range items {
		p, err := m.PreviewGet(ctx, it.Launch)
		switch {
		case IsNotFound(err):
			continue // destroyed since the list
		case err != nil:
			results = append(results, GCResult{Launch: it.Launch, Unreadable: true, Error: err.Error()})
			unread = append(unread, it.Launch)
			continue
		case !p.Expired:
			continue
		}
		r := GCResult{Launch: it.Launch, ExpiresAt: p.ExpiresAt}
		if _, err := m.PreviewDestroy(ctx, it.Launch); err != nil {
			r.Error = err.Error()
			failed = append(failed, it.Launch)
		} else {
			r.Destroyed = true
		}
		results = append(results, r)
	}
	sort.Slice(results, func(i, j int) bool { return results[i].Launch < results[j].Launch })
	var problems []string
	if len(failed) > 0 {
		problems = append(problems, fmt.Sprintf("%d expired preview(s) could not be destroyed", len(failed)))
	}
	if len(unread) > 0 {
		problems = append(problems, fmt.Sprintf("%d preview(s) whose state could not be read, so whether they expired is unknown", len(unread)))
	}
	if len(problems) > 0 {
		return results, &Error{Kind: KindFailed, Op: "preview gc", Stack: strings.Join(append(failed, unread...), ","), Reason: strings.Join(problems, "; ")}
	}
	return results, nil
}

// ValidLaunch checks a launch id for operations that take only the id; the
// error is an Invalid *Error naming the field.
func ValidLaunch(op, launch string) error {
	if err := stacks.ValidateLaunchID(launch); err != nil {
		return invalid(op, PreviewStack(launch), err)
	}
	return nil
}

// ValidatePreview checks a spec without touching any stack.
func (m *Manager) ValidatePreview(spec PreviewSpec) error {
	if _, err := spec.config(m.opts.Now()); err != nil {
		return invalid("preview up", PreviewStack(spec.Launch), err)
	}
	return nil
}
