package pulumistate

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
	f := New(dir)
	_, err := f.LastUpdate("p", "s")
	assert.ErrorIs(t, err, ErrUnknown, "no history yet: ask the CLI")

	write("s-1795350439609466975.history.json", `{"kind":"update","startTime":1795350439,"endTime":1795350440,"result":"succeeded","version":1,"config":{"p:image":"a:1"},"resourceChanges":{"create":2}}`)
	write("s-1795350439609466975.checkpoint.json", `{}`)
	write("s-1795350500000000000.history.json", `{"kind":"destroy","startTime":1795350500,"endTime":1795350501,"result":"succeeded","version":2,"message":"m","environment":{"exec.kind":"auto.inline"},"config":{"p:image":"a:2"},"resourceChanges":{"delete":2}}`)
	js, err := f.LastUpdate("p", "s")
	require.NoError(t, err)
	assert.JSONEq(t, `[{"version":2,"kind":"destroy","startTime":"2026-11-22T12:28:20.000Z","message":"m","environment":{"exec.kind":"auto.inline"},
	  "config":{"p:image":{"value":"a:2","secret":false}},"result":"succeeded","endTime":"2026-11-22T12:28:21.000Z","resourceChanges":{"delete":2}}]`, js)

	write("s-1795350600000000000.history.json", `{"kind":"update","startTime":1795350600,"result":"in-progress","config":{}}`)
	js, err = f.LastUpdate("p", "s")
	require.NoError(t, err)
	assert.NotContains(t, js, "endTime", "an update in progress has no end yet, as the CLI prints it")

	write("s-1795350700000000000.history.json", `{"kind":"update","startTime":1795350700,"result":"succeeded","config":{"p:password":{"secure":"v1:abc"}}}`)
	_, err = f.LastUpdate("p", "s")
	assert.ErrorIs(t, err, ErrUnknown, "a secret config value needs the CLI's decrypter")

	write("s-1795350800000000000.history.json.zst", "zstd")
	_, err = f.LastUpdate("p", "s")
	assert.ErrorIs(t, err, ErrUnknown)
}
