package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// exportOf is what `pulumi stack export` gives for a preview stack holding
// image, with a create left pending if asked.
func exportOf(t *testing.T, stack, image string, pending bool) exported {
	t.Helper()
	urn := "urn:pulumi:" + stack + "::apphub-preview::"
	dep := apitype.DeploymentV3{Resources: []apitype.ResourceV3{
		{URN: resource.URN(urn + "pulumi:pulumi:Stack::apphub-preview-" + stack), Type: "pulumi:pulumi:Stack"},
		{URN: resource.URN(urn + "pulumi:index:Stash::app"), Type: "pulumi:index:Stash", Custom: true, Outputs: map[string]any{"input": image}},
	}}
	if pending {
		dep.PendingOperations = []apitype.OperationV2{{Type: apitype.OperationTypeCreating, Resource: dep.Resources[1]}}
	}
	raw, err := json.Marshal(dep)
	require.NoError(t, err)
	return exported{deployment: apitype.UntypedDeployment{Version: apitype.DeploymentSchemaVersionCurrent, Deployment: raw}}
}

func TestCompareStacksFindsDamage(t *testing.T) {
	have := map[string]exported{
		"preview-a": exportOf(t, "s", "img:2", false),
		"preview-b": exportOf(t, "s", "img:1", false),
		"preview-c": exportOf(t, "s", "img:2", true),
		"preview-e": {err: errors.New("pulumi stack export: boom")},
		"preview-x": exportOf(t, "s", "img:2", false),
	}
	problems := compareStacks(have, map[string]string{"preview-a": "img:2", "preview-b": "img:2", "preview-c": "img:2", "preview-d": "img:2", "preview-e": "img:2"})
	assert.ElementsMatch(t, []string{
		`preview-b: holds image "img:1", want "img:2"`,
		"preview-c: 1 pending operations",
		"missing stack preview-d",
		"preview-e: pulumi stack export: boom",
		"unexpected stack preview-x",
	}, problems)

	clean := map[string]exported{"preview-a": exportOf(t, "s", "img:2", false)}
	assert.Empty(t, compareStacks(clean, map[string]string{"preview-a": "img:2"}))
	assert.Equal(t, []string{"unexpected stack preview-a"}, compareStacks(clean, map[string]string{}), "after destroy nothing may be left")

	// A stack created but never updated exports a deployment without resources.
	assert.EqualError(t, checkDeployment(apitype.UntypedDeployment{Version: 3, Deployment: json.RawMessage(`{"manifest":{}}`)}, "img:2"), "0 app resources, want 1")
	assert.EqualError(t, checkDeployment(apitype.UntypedDeployment{Version: 3}, "img:2"), "no deployment")
	assert.EqualError(t, checkDeployment(apitype.UntypedDeployment{Version: 1, Deployment: json.RawMessage(`{}`)}, "img:2"), "deployment schema version 1")
}

func TestLocksLeft(t *testing.T) {
	backend := t.TempDir()
	assert.Empty(t, locksLeft(backend), "no locks directory at all")
	lockDir := filepath.Join(backend, ".pulumi", "locks", "organization", "apphub-preview", "preview-a")
	require.NoError(t, os.MkdirAll(lockDir, 0o700))
	assert.Empty(t, locksLeft(backend), "an empty lock directory is no lock")
	require.NoError(t, os.WriteFile(filepath.Join(lockDir, "l.json"), []byte("{}"), 0o600))
	assert.Equal(t, []string{"lock left behind: " + filepath.Join(lockDir, "l.json")}, locksLeft(backend))
}

func TestMemPeaksMax(t *testing.T) {
	a := memPeaks{Self: 1, Children: 5, Total: 6, Procs: 1}
	b := memPeaks{Self: 2, Children: 3, Total: 5, Procs: 4}
	assert.Equal(t, memPeaks{Self: 2, Children: 5, Total: 6, Procs: 4}, a.max(b))
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
