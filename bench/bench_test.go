package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeStack plants a checkpoint as the file backend keeps it.
func writeStack(t *testing.T, backend, stack, image string, pending bool) {
	t.Helper()
	dir := filepath.Join(backend, ".pulumi", "stacks", "apphub-preview")
	require.NoError(t, os.MkdirAll(dir, 0o700))
	ops := "[]"
	if pending {
		ops = `[{"type":"creating","resource":{"urn":"urn:x","type":"pulumi:index:Stash"}}]`
	}
	doc := `{"version":3,"checkpoint":{"stack":"` + stack + `","latest":{"manifest":{},"resources":[
	  {"urn":"urn:pulumi:s::apphub-preview::pulumi:pulumi:Stack::x","type":"pulumi:pulumi:Stack","custom":false},
	  {"urn":"urn:pulumi:s::apphub-preview::pulumi:index:Stash::app","type":"pulumi:index:Stash","custom":true,"outputs":{"input":"` + image + `"}}],
	  "pending_operations":` + ops + `}}}`
	require.NoError(t, os.WriteFile(filepath.Join(dir, stack+".json"), []byte(doc), 0o600))
}

func TestCheckStateFindsDamage(t *testing.T) {
	backend := t.TempDir()
	writeStack(t, backend, "preview-a", "img:2", false)
	writeStack(t, backend, "preview-b", "img:1", false)
	writeStack(t, backend, "preview-c", "img:2", true)
	writeStack(t, backend, "preview-x", "img:2", false)
	lockDir := filepath.Join(backend, ".pulumi", "locks", "organization", "apphub-preview", "preview-a")
	require.NoError(t, os.MkdirAll(lockDir, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(lockDir, "l.json"), []byte("{}"), 0o600))

	problems := checkState(backend, map[string]string{"preview-a": "img:2", "preview-b": "img:2", "preview-c": "img:2", "preview-d": "img:2"})
	assert.Len(t, problems, 5)
	assert.Contains(t, problems, `preview-b: holds image "img:1", want "img:2"`)
	assert.Contains(t, problems, "preview-c: 1 pending operations")
	assert.Contains(t, problems, "missing stack preview-d")
	assert.Contains(t, problems, "unexpected stack preview-x")
	assert.Contains(t, problems, "lock left behind: "+filepath.Join(lockDir, "l.json"))

	clean := t.TempDir()
	writeStack(t, clean, "preview-a", "img:2", false)
	assert.Empty(t, checkState(clean, map[string]string{"preview-a": "img:2"}))
	assert.Equal(t, []string{"unexpected stack preview-a"}, checkState(clean, map[string]string{}), "after destroy nothing may be left")
}

func TestLevelFailsOnErrorsOrState(t *testing.T) {
	assert.False(t, level{Phases: []phase{{Op: "create"}}}.failed())
	assert.True(t, level{Phases: []phase{{Op: "create", Errors: []string{"boom"}}}}.failed())
	assert.True(t, level{StateErrors: []string{"missing stack"}}.failed())
}

func TestTargets(t *testing.T) {
	ok := func(op string, d time.Duration) phase {
		return phase{Op: op, InFlight: 1, Latencies: []time.Duration{d}}
	}
	seq := level{Driver: (&ours{}).Name(), InFlight: 1, Phases: []phase{ok("create", 1500*time.Millisecond), ok("update", time.Second), ok("destroy", 2500*time.Millisecond)},
		Memory: memPeaks{Total: 150 << 20}}
	twenty := level{Driver: (&ours{}).Name(), InFlight: 20, Phases: []phase{{Op: "create"}, {Op: "update"}, {Op: "destroy"}}, Memory: memPeaks{Total: 20 * 320 << 20}}
	got := map[string]bool{}
	for _, r := range targets(&automationReport{Sequential: []level{seq, {Driver: (&naive{}).Name()}}, Levels: []level{seq, twenty}}) {
		got[r.Name] = r.Met
	}
	assert.Equal(t, map[string]bool{
		"automation overhead per preview create <= 2 s":                   true,
		"automation overhead per preview update <= 2 s":                   true,
		"automation overhead per preview destroy <= 2 s":                  false,
		"20 concurrent preview operations, no error, no state corruption": true,
		"memory per in-flight operation <= 300 MiB":                       false,
	}, got)
	twenty.StateErrors = []string{"missing stack"}
	for _, r := range targets(&automationReport{Levels: []level{twenty}}) {
		if r.Name == "20 concurrent preview operations, no error, no state corruption" {
			assert.False(t, r.Met)
		}
	}
}

func TestSummariseAndLevels(t *testing.T) {
	s := summarise([]time.Duration{3 * time.Second, time.Second, 2 * time.Second, 4 * time.Second})
	assert.Equal(t, stats{Median: 2500 * time.Millisecond, Mean: 2500 * time.Millisecond, Max: 4 * time.Second}, s)
	levels, err := parseLevels("1, 5,20")
	require.NoError(t, err)
	assert.Equal(t, []int{1, 5, 20}, levels)
	_, err = parseLevels("1,0")
	assert.Error(t, err)
}

func TestMemorySamplerSeesChildren(t *testing.T) {
	cmd := exec.Command("sleep", "5")
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	assert.Contains(t, descendants(os.Getpid()), cmd.Process.Pid)
	s := startMemSampler(10 * time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	p := s.Stop()
	assert.Positive(t, p.Self)
	assert.Positive(t, p.Children, "the sleep child's RSS is counted")
	assert.GreaterOrEqual(t, p.Procs, 1)
	assert.GreaterOrEqual(t, p.Total, p.Self)
}
