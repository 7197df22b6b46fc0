package automation

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"testing"

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
			f := fileState{dir: backendDir(t, "1", c.files)}
			exists, known := f.exists("p", "s")
			assert.True(t, exists && known)
			out, err := f.outputs("p", "s")
			require.NoError(t, err)
			assert.Equal(t, "http://a.test", out["url"].Value)
			assert.Equal(t, float64(3), out["n"].Value)
			assert.Equal(t, []any{"x", map[string]any{"k": true}}, out["list"].Value)
			assert.False(t, out["url"].Secret)
			assert.NotContains(t, out, "input", "only the root stack's outputs are stack outputs")
			dep, err := f.deployment("p", "s")
			require.NoError(t, err)
			assert.Equal(t, []string{"creating of urn:pulumi:s::p::pulumi:index:Stash::half"}, pendingOperations(dep))
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
			f := fileState{dir: dir}
			_, err := f.outputs("p", "s")
			assert.ErrorIs(t, err, errUnknown)
			if !c.known {
				_, known := f.exists("p", "s")
				assert.False(t, known)
			}
		})
	}
	f := fileState{dir: backendDir(t, "1", nil)}
	exists, known := f.exists("p", "absent")
	assert.True(t, known, "a project-layout backend without the file has no such stack")
	assert.False(t, exists)
	_, err := fileState{dir: backendDir(t, "1", map[string][]byte{"s.json": []byte("{not json")})}.deployment("p", "s")
	require.Error(t, err)
	assert.NotErrorIs(t, err, errUnknown, "a corrupt checkpoint is an error, not a silent fallback")
}

func TestLastUpdateQuery(t *testing.T) {
	for _, c := range []struct {
		args  []string
		stack string
	}{
		{[]string{"stack", "history", "--json", "--show-secrets", "--page-size", "1", "--page", "1", "--stack", "s"}, "s"},
		{[]string{"--non-interactive", "stack", "history"}, ""},
		{[]string{"stack", "history", "--json", "--page-size", "1", "--page", "1", "--stack", "s"}, "s"},
		{[]string{"stack", "history", "--json", "--page-size", "10", "--page", "1", "--stack", "s"}, ""},
		{[]string{"stack", "history", "--json", "--page-size", "1", "--page", "2", "--stack", "s"}, ""},
		{[]string{"stack", "history", "--json", "--stack", "s"}, ""},
		{[]string{"stack", "history", "--page-size", "1", "--page", "1", "--stack", "s"}, ""},
		{[]string{"stack", "history", "--json", "--page-size", "1", "--page", "1", "--stack", "s", "--color", "never"}, ""},
		{[]string{"stack", "output", "--json", "--stack", "s"}, ""},
	} {
		stack, ok := lastUpdateQuery(c.args)
		assert.Equal(t, c.stack, stack, "%v", c.args)
		assert.Equal(t, c.stack != "", ok, "%v", c.args)
	}
}

func TestLastUpdateFromHistoryFiles(t *testing.T) {
	dir := backendDir(t, "1", nil)
	hist := filepath.Join(dir, ".pulumi", "history", "p", "s")
	require.NoError(t, os.MkdirAll(hist, 0o700))
	write := func(name, body string) {
		require.NoError(t, os.WriteFile(filepath.Join(hist, name), []byte(body), 0o600))
	}
	f := fileState{dir: dir}
	_, err := f.lastUpdate("p", "s")
	assert.ErrorIs(t, err, errUnknown, "no history yet: ask the CLI")

	write("s-1795350439609466975.history.json", `{"kind":"update","startTime":1795350439,"endTime":1795350440,"result":"succeeded","version":1,"config":{"p:image":"a:1"},"resourceChanges":{"create":2}}`)
	write("s-1795350439609466975.checkpoint.json", `{}`)
	write("s-1795350500000000000.history.json", `{"kind":"destroy","startTime":1795350500,"endTime":1795350501,"result":"succeeded","version":2,"message":"m","environment":{"exec.kind":"auto.inline"},"config":{"p:image":"a:2"},"resourceChanges":{"delete":2}}`)
	js, err := f.lastUpdate("p", "s")
	require.NoError(t, err)
	assert.JSONEq(t, `[{"version":2,"kind":"destroy","startTime":"2026-11-22T12:28:20.000Z","message":"m","environment":{"exec.kind":"auto.inline"},
	  "config":{"p:image":{"value":"a:2","secret":false}},"result":"succeeded","endTime":"2026-11-22T12:28:21.000Z","resourceChanges":{"delete":2}}]`, js)

	write("s-1795350600000000000.history.json", `{"kind":"update","startTime":1795350600,"result":"in-progress","config":{}}`)
	js, err = f.lastUpdate("p", "s")
	require.NoError(t, err)
	assert.NotContains(t, js, "endTime", "an update in progress has no end yet, as the CLI prints it")

	write("s-1795350700000000000.history.json", `{"kind":"update","startTime":1795350700,"result":"succeeded","config":{"p:password":{"secure":"v1:abc"}}}`)
	_, err = f.lastUpdate("p", "s")
	assert.ErrorIs(t, err, errUnknown, "a secret config value needs the CLI's decrypter")

	write("s-1795350800000000000.history.json.zst", "zstd")
	_, err = f.lastUpdate("p", "s")
	assert.ErrorIs(t, err, errUnknown)
}
