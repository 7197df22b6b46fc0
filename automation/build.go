package automation

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/apphub/apphub-infra/components"
	"github.com/apphub/apphub-infra/internal/validate"
	"github.com/apphub/apphub-infra/stacks"
)

// BuildSpec is the catalog's request for one image build.
type BuildSpec struct {
	ID              string            `json:"id"`
	GitURL          string            `json:"gitUrl,omitempty"`
	GitRef          string            `json:"gitRef,omitempty"`
	ContextDir      string            `json:"contextDir,omitempty"`
	ContextURL      string            `json:"contextUrl,omitempty"`
	Dockerfile      string            `json:"dockerfile,omitempty"`
	ImageRepository string            `json:"imageRepository"`
	ImageTag        string            `json:"imageTag"`
	BuildArgs       map[string]string `json:"buildArgs,omitempty"`
	BackoffLimit    *int              `json:"backoffLimit,omitempty"`
	CPURequest      string            `json:"cpuRequest,omitempty"`
	MemoryRequest   string            `json:"memoryRequest,omitempty"`
	CPULimit        string            `json:"cpuLimit,omitempty"`
	MemoryLimit     string            `json:"memoryLimit,omitempty"`
}

// BuildResult is a build's outcome.
type BuildResult struct {
	ID    string `json:"id"`
	Stack string `json:"stack"`
	State string `json:"state"`
	// Image is how pods pull the result; with Digest known it is pinned
	// (repo:tag@sha256:…).
	Image      string         `json:"image,omitempty"`
	Digest     string         `json:"digest,omitempty"`
	PushRef    string         `json:"pushRef,omitempty"`
	JobName    string         `json:"jobName,omitempty"`
	Namespace  string         `json:"namespace,omitempty"`
	Outputs    map[string]any `json:"outputs,omitempty"`
	LastUpdate *Update        `json:"lastUpdate,omitempty"`
	Recovered  []string       `json:"recovered,omitempty"`
	Stub       bool           `json:"stub,omitempty"`
	// Commit is the commit built: gitRef as resolved when the build ran.
	Commit string `json:"commit,omitempty"`
	// Reused: an earlier build with the same inputs pushed Image (by
	// digest), which the registry still holds, so no Job ran.
	Reused bool `json:"reused,omitempty"`
	// Unchanged: the build's Job already ran for exactly this spec, so
	// nothing was built again; Note says what to do to build anew.
	Unchanged bool   `json:"unchanged,omitempty"`
	Note      string `json:"note,omitempty"`
	// AlreadyGone is set by BuildDestroy when there was nothing to destroy.
	AlreadyGone bool `json:"alreadyGone,omitempty"`
}

// BuildStack is the stack name of a build.
func BuildStack(id string) string { return "build-" + id }

// buildFields names stack config keys as the spec spells them, where
// they differ.
var buildFields = map[string]string{"buildId": "id"}

// config turns the spec into the build stack's config, validated by the
// stack's own rules; every problem is named by the spec's field names.
func (s BuildSpec) config() (map[string]string, error) {
	var p validate.Problems
	cfg := map[string]string{"buildId": s.ID,
		"imageRepository": s.ImageRepository, "imageTag": s.ImageTag}
	p.Trimmed("id", s.ID)
	p.Trimmed("imageRepository", s.ImageRepository)
	p.Trimmed("imageTag", s.ImageTag)
	for _, kv := range [][2]string{
		{"gitUrl", s.GitURL}, {"gitRef", s.GitRef}, {"contextDir", s.ContextDir}, {"contextUrl", s.ContextURL},
		{"dockerfile", s.Dockerfile}, {"cpuRequest", s.CPURequest}, {"memoryRequest", s.MemoryRequest},
		{"cpuLimit", s.CPULimit}, {"memoryLimit", s.MemoryLimit},
	} {
		p.Trimmed(kv[0], kv[1])
		if kv[1] != "" {
			cfg[kv[0]] = kv[1]
		}
	}
	if len(s.BuildArgs) > 0 {
		cfg["buildArgs"] = jsonString(s.BuildArgs)
	}
	if s.BackoffLimit != nil {
		cfg["backoffLimit"] = strconv.Itoa(*s.BackoffLimit)
	}
	if _, err := stacks.ParseBuildConfig(stacks.MapSource{Values: cfg}); err != nil && !p.Merge(err, buildFields) {
		return nil, err
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// defaulted lists the spec's fields whose zero value stands for the
// stack's default, each with whether it is zero here.
func (s BuildSpec) defaulted() []zeroField {
	return []zeroField{
		{"dockerfile", s.Dockerfile == ""}, {"cpuRequest", s.CPURequest == ""}, {"memoryRequest", s.MemoryRequest == ""},
		{"cpuLimit", s.CPULimit == ""}, {"memoryLimit", s.MemoryLimit == ""},
	}
}

// ValidateBuildRequest checks a caller's request as BuildRun would,
// without a Manager and before anything exists; given is as for
// ValidatePreviewRequest.
func ValidateBuildRequest(spec BuildSpec, given func(field string) bool) error {
	var p validate.Problems
	explicitZeros(&p, spec.defaulted(), given)
	if _, err := spec.config(); err != nil && !p.Merge(err, nil) {
		return invalid("build run", BuildStack(spec.ID), err)
	}
	if err := p.Err(); err != nil {
		return invalid("build run", BuildStack(spec.ID), err)
	}
	return nil
}

// ValidBuild checks a build id for operations that take only the id; the
// error is an Invalid *Error naming the field "id".
func ValidBuild(op, id string) error {
	if err := stacks.ValidateBuildID(id); err != nil {
		var p validate.Problems
		if !p.Merge(err, buildFields) {
			return invalid(op, BuildStack(id), err)
		}
		return invalid(op, BuildStack(id), p.Err())
	}
	return nil
}

// BuildRun runs a build and waits for its Job. On success the result holds
// the image reference (pinned by digest when the build pod reported one);
// a failed Job is a Failed error whose Reason is the Job's.
func (m *Manager) BuildRun(ctx context.Context, spec BuildSpec) (*BuildResult, error) {
	const op = "build run"
	stack := BuildStack(spec.ID)
	cfg, err := spec.config()
	if err != nil {
		return nil, invalid(op, stack, err)
	}
	if m.opts.BuildMode == ModeStub {
		return m.stubBuildRun(spec, cfg)
	}
	if ctx, err = m.withPlatform(ctx, op, stack); err != nil {
		return nil, err
	}
	if err := m.checkPlatformLimits(ctx, op, stack, spec.resources()...); err != nil {
		return nil, err
	}
	if err := m.withPlatformOutputs(ctx, cfg); err != nil {
		return nil, err
	}
	if err := m.pinBuild(ctx, spec, cfg); err != nil {
		var p validate.Problems
		if p.Merge(err, buildFields) {
			return nil, invalid(op, stack, p.Err())
		}
		return nil, invalid(op, stack, err)
	}
	res, err := m.up(ctx, op, stacks.BuildProject, stack, m.opts.BuildProgram, cfg)
	if err != nil {
		r := &BuildResult{ID: spec.ID, Stack: stack, State: StateFailed}
		if res != nil {
			r.Recovered = res.Recovered
		}
		return r, withCauses(err, m.workloadCauses(ctx, stacks.OutBuildNamespace, "Job", isJob(components.BuildName(spec.ID))))
	}
	r := buildFromOutputs(spec.ID, res.Outputs, res.Secrets)
	r.State, r.LastUpdate, r.Recovered = StateSucceeded, res.Update, res.Recovered
	switch {
	case r.Reused:
		r.Note = fmt.Sprintf("an earlier build with the same inputs (commit %s) pushed this image, still in the registry: nothing was built", shortCommit(r.Commit))
	case nothingChanged(res.Update):
		r.Unchanged, r.Note = true, unchangedNote(spec, r.Commit)
	}
	if !r.Reused {
		// A reused image's digest is in the stack's outputs already.
		m.pinDigest(ctx, r)
		m.recordDigest(ctx, op, r)
	}
	return r, nil
}

// nothingChanged reports an update that created, updated and replaced
// nothing: the same spec again.
func nothingChanged(u *Update) bool {
	if u == nil || len(u.Changes) == 0 {
		return false
	}
	for op, n := range u.Changes {
		if op != "same" && n > 0 {
			return false
		}
	}
	return true
}

// unchangedNote says why a re-run built nothing and how to build anew: a
// branch or tag the Manager could not resolve is not resolved again, so
// its new commits are not seen.
func unchangedNote(spec BuildSpec, commit string) string {
	if commit != "" {
		return fmt.Sprintf("build %s already ran for commit %s with this spec, so nothing was built again", spec.ID, shortCommit(commit))
	}
	if spec.GitURL != "" && !stacks.CommitID.MatchString(spec.GitRef) {
		ref := spec.GitRef
		if ref == "" {
			ref = "the default branch"
		}
		return fmt.Sprintf("build %s already ran with this spec, so nothing was built again; gitRef %s is not resolved again, "+
			"so commits pushed since are not in the image: build with a new id, or with gitRef set to the commit", spec.ID, ref)
	}
	return fmt.Sprintf("build %s already ran with this spec, so nothing was built again; use a new id to build anew", spec.ID)
}

// pinDigest reads the digest the build pod wrote; without one (no kubectl,
// no access, TTL already expired) the tag reference stands.
func (m *Manager) pinDigest(ctx context.Context, r *BuildResult) {
	if r.JobName == "" || r.Namespace == "" {
		return
	}
	d, err := m.opts.DigestReader.Digest(ctx, m.opts.Kubeconfig, m.opts.KubeContext, r.Namespace, r.JobName)
	if err != nil || d == "" {
		m.opts.Logger.Warn("build digest unavailable", "build", r.ID, "err", err)
		return
	}
	r.pin(d)
}

func buildFromOutputs(id string, vals map[string]any, secrets map[string]bool) *BuildResult {
	str := func(k string) string { s, _ := vals[k].(string); return s }
	r := &BuildResult{
		ID: id, Stack: BuildStack(id),
		Image: str(stacks.OutImage), PushRef: str(stacks.OutPushRef),
		JobName: str(stacks.OutJobName), Namespace: str(stacks.OutNamespace),
		Commit:  str(stacks.OutCommit),
		Outputs: masked(vals, secrets),
	}
	if d := str(stacks.OutReusedDigest); d != "" {
		r.Reused = true
		r.pin(d)
	}
	return r
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

// BuildGet returns a build's last result.
func (m *Manager) BuildGet(ctx context.Context, id string) (*BuildResult, error) {
	const op = "build get"
	stack := BuildStack(id)
	if err := ValidBuild(op, id); err != nil {
		return nil, err
	}
	if m.opts.BuildMode == ModeStub {
		return m.stubBuildGet(id)
	}
	info, err := m.get(ctx, op, stacks.BuildProject, stack, m.opts.BuildProgram, true)
	if err != nil {
		return nil, err
	}
	r := buildFromOutputs(id, info.Outputs, info.Secrets)
	r.LastUpdate = info.LastUpdate
	switch {
	case info.Running != "":
		r.State = StateBuilding
	case info.LastUpdate != nil && info.LastUpdate.Result == "failed":
		r.State = StateFailed
	case r.Image != "":
		r.State = StateSucceeded
	default:
		r.State = StateUnknown
	}
	if r.State == StateSucceeded && !r.Reused {
		if d := info.Tags[digestTag]; d != "" {
			r.pin(d)
		} else {
			// A build recorded before the tag: the pods, while their TTL
			// keeps them.
			m.pinDigest(ctx, r)
		}
	}
	return r, nil
}

// digestTag is the stack tag holding the digest a build pushed: the Job's
// pods that reported it go with the Job's TTL, the tag stays with the
// build's stack.
const digestTag = "apphub:digest"

// recordDigest tags the build's stack with the digest its run reported;
// a run that learnt none removes an earlier run's, which is not this
// image's.
func (m *Manager) recordDigest(ctx context.Context, op string, r *BuildResult) {
	st, err := m.selectStack(ctx, op, stacks.BuildProject, r.Stack, m.opts.BuildProgram)
	switch {
	case err != nil:
	case r.Digest != "":
		err = st.Workspace().SetTag(ctx, r.Stack, digestTag, r.Digest)
	default:
		var tags map[string]string
		if tags, err = st.Workspace().ListTags(ctx, r.Stack); err == nil && tags[digestTag] != "" {
			err = st.Workspace().RemoveTag(ctx, r.Stack, digestTag)
		}
	}
	if err != nil {
		m.opts.Logger.Warn("recording the build digest", "build", r.ID, "err", err)
	}
}

// pin pins the image by digest d.
func (r *BuildResult) pin(d string) {
	r.Digest = d
	if !strings.Contains(r.Image, "@") {
		r.Image += "@" + d
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v) // maps of strings always encode
	return string(b)
}

// ValidateBuild checks a spec without touching any stack.
func (m *Manager) ValidateBuild(spec BuildSpec) error {
	if _, err := spec.config(); err != nil {
		return invalid("build run", BuildStack(spec.ID), err)
	}
	return nil
}
