package automation

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"gopkg.in/yaml.v3"
)

// fastCommand is the Pulumi CLI with one question answered from a file
// backend's files: the SDK's Up and Destroy run `stack history --json
// --page-size 1 --page 1` after every operation (0.45 s of CLI here) only
// to summarise the update that just finished, and the backend has just
// written that summary to its history directory. Any other call, or a
// history the files cannot render exactly as the CLI would (compressed
// with zstd, a secret or structured config value), goes to the CLI.
type fastCommand struct {
	auto.PulumiCommand
	state fileState
}

func (c *fastCommand) Run(ctx context.Context, workdir string, stdin io.Reader, out, errOut []io.Writer, env []string, args ...string) (string, string, int, error) {
	if stack, ok := lastUpdateQuery(args); ok {
		if project := projectName(workdir); project != "" {
			if js, err := c.state.lastUpdate(project, stack); err == nil {
				for _, w := range out {
					_, _ = io.WriteString(w, js)
				}
				return js, "", 0, nil
			}
		}
	}
	return c.PulumiCommand.Run(ctx, workdir, stdin, out, errOut, env, args...)
}

// lastUpdateQuery recognises exactly the history call the SDK makes for
// one stack's latest update and returns the stack.
func lastUpdateQuery(args []string) (string, bool) {
	want := map[string]string{"--page-size": "1", "--page": "1"}
	var stack string
	if len(args) < 3 || args[0] != "stack" || args[1] != "history" {
		return "", false
	}
	seen := map[string]bool{}
	for i := 2; i < len(args); i++ {
		switch a := args[i]; a {
		case "--json", "--show-secrets", "--non-interactive":
			seen[a] = true
		case "--page-size", "--page", "--stack":
			if i+1 >= len(args) {
				return "", false
			}
			if a == "--stack" {
				stack = args[i+1]
			} else if args[i+1] != want[a] {
				return "", false
			}
			seen[a] = true
			i++
		default:
			return "", false
		}
	}
	if stack == "" || !seen["--json"] || !seen["--page-size"] || !seen["--page"] {
		return "", false
	}
	return stack, true
}

// projectName reads the project name from the work directory's Pulumi.yaml.
func projectName(dir string) string {
	for _, f := range []string{"Pulumi.yaml", "Pulumi.yml"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			continue
		}
		var p struct {
			Name string `yaml:"name"`
		}
		if yaml.Unmarshal(b, &p) == nil {
			return p.Name
		}
	}
	return ""
}

// updateInfo is a history file as the file backend writes it.
type updateInfo struct {
	Kind            string                     `json:"kind"`
	StartTime       int64                      `json:"startTime"`
	Message         string                     `json:"message"`
	Environment     map[string]string          `json:"environment"`
	Config          map[string]json.RawMessage `json:"config"`
	Version         int                        `json:"version"`
	Result          string                     `json:"result"`
	EndTime         int64                      `json:"endTime"`
	ResourceChanges map[string]int             `json:"resourceChanges"`
}

// historyJSON and configJSON are the shape `stack history --json` prints
// (and auto.UpdateSummary reads).
type historyJSON struct {
	Version         int                   `json:"version"`
	Kind            string                `json:"kind"`
	StartTime       string                `json:"startTime"`
	Message         string                `json:"message"`
	Environment     map[string]string     `json:"environment"`
	Config          map[string]configJSON `json:"config"`
	Result          string                `json:"result,omitempty"`
	EndTime         *string               `json:"endTime,omitempty"`
	ResourceChanges *map[string]int       `json:"resourceChanges,omitempty"`
}

type configJSON struct {
	Value  *string `json:"value,omitempty"`
	Secret bool    `json:"secret"`
}

// cliTime is the CLI's timestamp format (RFC 5424, milliseconds).
const cliTime = "2006-01-02T15:04:05.000Z07:00"

// lastUpdate renders the stack's latest history entry as `stack history
// --json` prints it, or errUnknown.
func (f fileState) lastUpdate(project, stack string) (string, error) {
	root := f.root()
	if root == "" {
		return "", errUnknown
	}
	dir := filepath.Join(root, ".pulumi", "history", project, stack)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", errUnknown
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		switch {
		case strings.HasSuffix(n, ".history.json.zst"):
			return "", errUnknown
		case strings.HasSuffix(n, ".history.json"), strings.HasSuffix(n, ".history.json.gz"):
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return "", errUnknown
	}
	// Names are <stack>-<unix nanoseconds>: the newest sorts last, as the
	// backend lists them.
	sort.Strings(names)
	latest := names[len(names)-1]
	raw, err := readBackendFile(filepath.Join(dir, latest))
	if err != nil {
		return "", errUnknown
	}
	var u updateInfo
	if err := json.Unmarshal(raw, &u); err != nil || u.Kind == "" || u.StartTime == 0 {
		return "", errUnknown
	}
	sum := historyJSON{
		Version: u.Version, Kind: u.Kind, Message: u.Message, Environment: u.Environment, Result: u.Result,
		StartTime: time.Unix(u.StartTime, 0).UTC().Format(cliTime), Config: map[string]configJSON{},
	}
	for k, v := range u.Config {
		var s string
		if json.Unmarshal(v, &s) != nil {
			return "", errUnknown // secure or structured: the CLI decrypts and renders it
		}
		sum.Config[k] = configJSON{Value: &s}
	}
	if u.Result != "in-progress" {
		end := time.Unix(u.EndTime, 0).UTC().Format(cliTime)
		changes := u.ResourceChanges
		if changes == nil {
			changes = map[string]int{}
		}
		sum.EndTime, sum.ResourceChanges = &end, &changes
	}
	b, err := json.Marshal([]historyJSON{sum})
	if err != nil {
		return "", fmt.Errorf("rendering history: %w", err)
	}
	return string(b), nil
}
