package pulumistate

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

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

// LastUpdate renders the stack's latest history entry as `stack history
// --json` prints it, or ErrUnknown.
func (b Backend) LastUpdate(project, stack string) (string, error) {
	root := b.Root()
	if root == "" {
		return "", ErrUnknown
	}
	dir := filepath.Join(root, ".pulumi", "history", project, stack)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", ErrUnknown
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		switch {
		case strings.HasSuffix(n, ".history.json.zst"):
			return "", ErrUnknown
		case strings.HasSuffix(n, ".history.json"), strings.HasSuffix(n, ".history.json.gz"):
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return "", ErrUnknown
	}
	// Names are <stack>-<unix nanoseconds>: the newest sorts last, as the
	// backend lists them.
	sort.Strings(names)
	latest := names[len(names)-1]
	raw, err := readBackendFile(filepath.Join(dir, latest))
	if err != nil {
		return "", ErrUnknown
	}
	var u updateInfo
	if err := json.Unmarshal(raw, &u); err != nil || u.Kind == "" || u.StartTime == 0 {
		return "", ErrUnknown
	}
	sum := historyJSON{
		Version: u.Version, Kind: u.Kind, Message: u.Message, Environment: u.Environment, Result: u.Result,
		StartTime: time.Unix(u.StartTime, 0).UTC().Format(cliTime), Config: map[string]configJSON{},
	}
	for k, v := range u.Config {
		var s string
		if json.Unmarshal(v, &s) != nil {
			return "", ErrUnknown // secure or structured: the CLI decrypts and renders it
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
	js, err := json.Marshal([]historyJSON{sum})
	if err != nil {
		return "", fmt.Errorf("rendering history: %w", err)
	}
	return string(js), nil
}
