package pulumistate

import (
	"bytes"
	"compress/gzip"
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

// sigKey (resource.SigKey) marks a secret, asset, archive or resource
// reference in a checkpoint; outputs holding one go through the CLI.
const sigKey = "4dabf18193072939515e22adb298388d"

// Backend reads stack checkpoints of a local file backend.
type Backend struct {
	dir string // backend directory; "" when the backend is not file://
}

// New is the reader of the file backend in dir. Pass "" for any backend
// that is not file://: every answer is then "ask the CLI".
func New(dir string) Backend { return Backend{dir: dir} }

// Root is the backend directory when it uses the project-scoped layout
// (meta.yaml version 1, written by the CLI on first use), else "". It is
// checked on every call because a new backend has no meta.yaml until the
// first stack is created.
func (b Backend) Root() string {
	if b.dir == "" {
		return ""
	}
	raw, err := os.ReadFile(filepath.Join(b.dir, ".pulumi", "meta.yaml"))
	if err != nil {
		return ""
	}
	var meta struct {
		Version int `yaml:"version"`
	}
	if yaml.Unmarshal(raw, &meta) != nil || meta.Version != 1 {
		return ""
	}
	return b.dir
}

// ErrUnknown means "ask the CLI".
var ErrUnknown = errors.New("checkpoint not readable here")

// checkpointFile returns the stack's checkpoint path, or ErrUnknown. With
// both a plain and a gzipped file present (gzip switched on or off
// between updates) the newer one is not knowable from the name alone.
func (b Backend) checkpointFile(project, stack string) (string, error) {
	root := b.Root()
	if root == "" {
		return "", ErrUnknown
	}
	base := filepath.Join(root, ".pulumi", "stacks", project, stack+".json")
	_, plainErr := os.Stat(base)
	_, gzErr := os.Stat(base + ".gz")
	switch {
	case plainErr == nil && gzErr == nil:
		return "", ErrUnknown
	case plainErr == nil:
		return base, nil
	case gzErr == nil:
		return base + ".gz", nil
	case os.IsNotExist(plainErr) && os.IsNotExist(gzErr):
		return "", os.ErrNotExist
	default:
		return "", ErrUnknown
	}
}

// Exists reports whether the stack has a checkpoint (`stack init` writes
// one). known is false when only the CLI can tell: another backend or
// layout, or both a plain and a gzipped checkpoint.
func (b Backend) Exists(project, stack string) (exists, known bool) {
	_, err := b.checkpointFile(project, stack)
	switch {
	case err == nil:
		return true, true
	case errors.Is(err, os.ErrNotExist):
		return false, true
	default:
		return false, false
	}
}

// Deployment reads the stack's latest deployment, or ErrUnknown.
func (b Backend) Deployment(project, stack string) (*apitype.DeploymentV3, error) {
	path, err := b.checkpointFile(project, stack)
	if err != nil {
		return nil, ErrUnknown
	}
	raw, err := readBackendFile(path)
	if err != nil {
		return nil, ErrUnknown
	}
	var vc apitype.VersionedCheckpoint
	if err := json.Unmarshal(raw, &vc); err != nil {
		return nil, fmt.Errorf("reading checkpoint %s: %w", path, err)
	}
	// Version 4 and features are the CLI's business: it refuses what it
	// does not support, and so do we.
	if vc.Version != apitype.DeploymentSchemaVersionCurrent || len(vc.Features) > 0 {
		return nil, ErrUnknown
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

// Outputs returns the stack outputs the way `stack output --json
// --show-secrets` does, or ErrUnknown when one of them is secret.
func (b Backend) Outputs(project, stack string) (auto.OutputMap, error) {
	dep, err := b.Deployment(project, stack)
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
				return nil, ErrUnknown
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

// PendingOperations lists what an interrupted update left pending.
func PendingOperations(dep *apitype.DeploymentV3) []string {
	var out []string
	for _, p := range dep.PendingOperations {
		out = append(out, fmt.Sprintf("%s of %s", p.Type, p.Resource.URN))
	}
	return out
}
