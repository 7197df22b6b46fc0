package automation

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"gopkg.in/yaml.v3"
)

// Every Pulumi CLI call costs 0.28-0.46 s on the 2-core machine (process
// start of a 150 MB binary, plus passphrase key derivation when it loads
// secrets), and the SDK spends four of them per update on questions a
// file:// backend answers from its own files: does the stack exist (select),
// is anything pending (export), what are the outputs (two `stack output`
// calls). fileState answers those from the checkpoint the CLI wrote; when it
// cannot answer with certainty (another backend, another layout, a schema it
// does not know, a secret output) it says so and the CLI is asked instead.

// sigKey (resource.SigKey) marks a secret, asset, archive or resource
// reference in a checkpoint; outputs holding one go through the CLI.
const sigKey = "4dabf18193072939515e22adb298388d"

// fileState reads stack checkpoints of a local file backend.
type fileState struct {
	dir string // backend directory; "" when the backend is not file://
}

// root is the backend directory when it uses the project-scoped layout
// (meta.yaml version 1, written by the CLI on first use), else "". It is
// checked on every call because a new backend has no meta.yaml until the
// first stack is created.
func (f fileState) root() string {
	if f.dir == "" {
		return ""
	}
	b, err := os.ReadFile(filepath.Join(f.dir, ".pulumi", "meta.yaml"))
	if err != nil {
		return ""
	}
	var meta struct {
		Version int `yaml:"version"`
	}
	if yaml.Unmarshal(b, &meta) != nil || meta.Version != 1 {
		return ""
	}
	return f.dir
}

// errUnknown means "ask the CLI".
var errUnknown = errors.New("checkpoint not readable here")

// checkpointFile returns the stack's checkpoint path, or errUnknown. With
// both a plain and a gzipped file present (gzip switched on or off
// between updates) the newer one is not knowable from the name alone.
func (f fileState) checkpointFile(project, stack string) (string, error) {
	root := f.root()
	if root == "" {
		return "", errUnknown
	}
	base := filepath.Join(root, ".pulumi", "stacks", project, stack+".json")
	_, plainErr := os.Stat(base)
	_, gzErr := os.Stat(base + ".gz")
	switch {
	case plainErr == nil && gzErr == nil:
		return "", errUnknown
	case plainErr == nil:
		return base, nil
	case gzErr == nil:
		return base + ".gz", nil
	case os.IsNotExist(plainErr) && os.IsNotExist(gzErr):
		return "", os.ErrNotExist
	default:
		return "", errUnknown
	}
}

// exists reports whether the stack has a checkpoint (`stack init` writes
// one). known is false when only the CLI can tell: another backend or
// layout, or both a plain and a gzipped checkpoint.
func (f fileState) exists(project, stack string) (exists, known bool) {
	_, err := f.checkpointFile(project, stack)
	switch {
	case err == nil:
		return true, true
	case errors.Is(err, os.ErrNotExist):
		return false, true
	default:
		return false, false
	}
}

// deployment reads the stack's latest deployment, or errUnknown.
func (f fileState) deployment(project, stack string) (*apitype.DeploymentV3, error) {
	path, err := f.checkpointFile(project, stack)
	if err != nil {
		return nil, errUnknown
	}
	raw, err := readBackendFile(path)
	if err != nil {
		return nil, errUnknown
	}
	var vc apitype.VersionedCheckpoint
	if err := json.Unmarshal(raw, &vc); err != nil {
		return nil, fmt.Errorf("reading checkpoint %s: %w", path, err)
	}
	// Version 4 and features are the CLI's business: it refuses what it
	// does not support, and so do we.
	if vc.Version != apitype.DeploymentSchemaVersionCurrent || len(vc.Features) > 0 {
		return nil, errUnknown
	}
	var cp apitype.CheckpointV3
	if err := json.Unmarshal(vc.Checkpoint, &cp); err != nil {
		return nil, fmt.Errorf("reading checkpoint %s: %w", path, err)
	}
	if cp.Latest == nil {
		return &apitype.DeploymentV3{}, nil
	}
	return cp.Latest, nil
}

// outputs returns the stack outputs the way `stack output --json
// --show-secrets` does, or errUnknown when one of them is secret.
func (f fileState) outputs(project, stack string) (auto.OutputMap, error) {
	dep, err := f.deployment(project, stack)
	if err != nil {
		return nil, err
	}
	out := auto.OutputMap{}
	for _, r := range dep.Resources {
		if r.Type != "pulumi:pulumi:Stack" || r.Parent != "" {
			continue
		}
		for k, v := range r.Outputs {
			if hasSignature(v) {
				return nil, errUnknown
			}
			out[k] = auto.OutputValue{Value: v}
		}
	}
	return out, nil
}

// hasSignature reports a secret, asset, archive or resource reference
// anywhere in a value: those render differently through the CLI.
func hasSignature(v any) bool {
	switch t := v.(type) {
	case map[string]any:
		if _, ok := t[sigKey]; ok {
			return true
		}
		for _, e := range t {
			if hasSignature(e) {
				return true
			}
		}
	case []any:
		for _, e := range t {
			if hasSignature(e) {
				return true
			}
		}
	}
	return false
}

// readBackendFile reads a checkpoint or history file, gunzipping a .gz
// one (PULUMI_SELF_MANAGED_STATE_GZIP).
func readBackendFile(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil || filepath.Ext(path) != ".gz" {
		return raw, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

// pendingOperations lists what an interrupted update left pending.
func pendingOperations(dep *apitype.DeploymentV3) []string {
	var out []string
	for _, p := range dep.PendingOperations {
		out = append(out, fmt.Sprintf("%s of %s", p.Type, p.Resource.URN))
	}
	return out
}

// fastWorkspace answers stack selection and outputs from fileState and
// leaves everything else to the LocalWorkspace it wraps.
type fastWorkspace struct {
	auto.Workspace
	state   fileState
	project string
}

// SelectStack skips `pulumi stack select` for a stack whose checkpoint
// exists: every later command names the stack with --stack anyway. A stack
// without one goes to the CLI, which gives the real not-found error.
func (w *fastWorkspace) SelectStack(ctx context.Context, stack string) error {
	if exists, _ := w.state.exists(w.project, stack); exists {
		return nil
	}
	return w.Workspace.SelectStack(ctx, stack)
}

// StackOutputs reads plaintext outputs from the checkpoint.
func (w *fastWorkspace) StackOutputs(ctx context.Context, stack string) (auto.OutputMap, error) {
	if out, err := w.state.outputs(w.project, stack); err == nil {
		return out, nil
	}
	return w.Workspace.StackOutputs(ctx, stack)
}
