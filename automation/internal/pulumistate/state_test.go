package pulumistate

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// backendDir lays out a file backend: meta.yaml with version and the given
// checkpoint files (name relative to .pulumi/stacks/p/).
func backendDir(t *testing.T, metaVersion string, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	stacksDir := filepath.Join(dir, ".pulumi", "stacks", "p")
	require.NoError(t, os.MkdirAll(stacksDir, 0o700))
	if metaVersion != "" {
		require.NoError(t, os.WriteFile(filepath.Join(dir, ".pulumi", "meta.yaml"), []byte("version: "+metaVersion+"\n"), 0o600))
	}
	for name, b := range files {
		require.NoError(t, os.WriteFile(filepath.Join(stacksDir, name), b, 0o600))
	}
	return dir
}

const plainCheckpoint = `{"version":3,"checkpoint":{"stack":"organization/p/s","latest":{"manifest":{},"resources":[
 {"urn":"urn:pulumi:s::p::pulumi:pulumi:Stack::p-s","type":"pulumi:pulumi:Stack","custom":false,
  "outputs":{"url":"http://a.test","n":3,"list":["x",{"k":true}]}},
 {"urn":"urn:pulumi:s::p::pulumi:index:Stash::app","type":"pulumi:index:Stash","custom":true,"parent":"urn:pulumi:s::p::pulumi:pulumi:Stack::p-s","outputs":{"input":"x"}}],
 "pending_operations":[{"type":"creating","resource":{"urn":"urn:pulumi:s::p::pulumi:index:Stash::half","type":"pulumi:index:Stash"}}]}}}`

func gz(t *testing.T, s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, err := w.Write([]byte(s))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return b.Bytes()
}

func TestFileStateReadsCheckpoints(t *testing.T) {
	for _, c := range []struct {
		name  string
		files map[string][]byte
	}{
		{"plain", map[string][]byte{"s.json": []byte(plainCheckpoint)}},
		{"gzipped", map[string][]byte{"s.json.gz": gz(t, plainCheckpoint)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := New(backendDir(t, "1", c.files))
			exists, known := f.Exists("p", "s")
			assert.True(t, exists && known)
			out, err := f.Outputs("p", "s")
			require.NoError(t, err)
			assert.Equal(t, "http://a.test", out["url"].Value)
			assert.Equal(t, float64(3), out["n"].Value)
			assert.Equal(t, []any{"x", map[string]any{"k": true}}, out["list"].Value)
			assert.False(t, out["url"].Secret)
			assert.NotContains(t, out, "input", "only the root stack's outputs are stack outputs")
			dep, err := f.Deployment("p", "s")
			require.NoError(t, err)
			assert.Equal(t, []string{"creating of urn:pulumi:s::p::pulumi:index:Stash::half"}, PendingOperations(dep))
		})
	}
}

// Whatever the files cannot answer for certain goes to the CLI.
func TestFileStateDefersToTheCLI(t *testing.T) {
	secret := `{"version":3,"checkpoint":{"latest":{"resources":[{"type":"pulumi:pulumi:Stack","outputs":{"kubeconfig":{"4dabf18193072939515e22adb298388d":"1b47061264138c4ac30d75fd1eb44270","ciphertext":"v1:x"}}}]}}}`
	nested := `{"version":3,"checkpoint":{"latest":{"resources":[{"type":"pulumi:pulumi:Stack","outputs":{"m":{"a":[{"4dabf18193072939515e22adb298388d":"1b47061264138c4ac30d75fd1eb44270"}]}}}]}}}`
	for _, c := range []struct {
		name, meta string
		files      map[string][]byte
		known      bool
	}{
		{"not a file backend", "", nil, false},
		{"legacy layout", "0", map[string][]byte{"s.json": []byte(plainCheckpoint)}, false},
		{"plain and gzipped both present", "1", map[string][]byte{"s.json": []byte(plainCheckpoint), "s.json.gz": gz(t, plainCheckpoint)}, true},
		{"schema version 4", "1", map[string][]byte{"s.json": []byte(`{"version":4,"features":["refreshBeforeUpdate"],"checkpoint":{}}`)}, true},
		{"secret output", "1", map[string][]byte{"s.json": []byte(secret)}, true},
		{"nested secret output", "1", map[string][]byte{"s.json": []byte(nested)}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := ""
			if c.meta != "" || c.files != nil {
				dir = backendDir(t, c.meta, c.files)
			}
			f := New(dir)
			_, err := f.Outputs("p", "s")
			assert.ErrorIs(t, err, ErrUnknown)
			if !c.known {
				_, known := f.Exists("p", "s")
				assert.False(t, known)
			}
		})
	}
	f := New(backendDir(t, "1", nil))
	exists, known := f.Exists("p", "absent")
	assert.True(t, known, "a project-layout backend without the file has no such stack")
	assert.False(t, exists)
	_, err := New(backendDir(t, "1", map[string][]byte{"s.json": []byte("{not json")})).Deployment("p", "s")
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrUnknown, "a corrupt checkpoint is an error, not a silent fallback")
}

func TestPendingOperationsParsing(t *testing.T) {
	var dep apitype.DeploymentV3
	require.NoError(t, json.Unmarshal([]byte(`{"pending_operations":[{"type":"creating","resource":{"urn":"urn:a"}}]}`), &dep))
	assert.Equal(t, []string{"creating of urn:a"}, PendingOperations(&dep))
	assert.Empty(t, PendingOperations(&apitype.DeploymentV3{}))
}
