package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tools/passphrase-env.sh is what `make up|preview|down` run before the
// Pulumi CLI: the dev stack alone may use the empty passphrase, and a
// passphrase file is never shadowed by an empty variable.
func TestPassphraseEnvScript(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "passphrase")
	require.NoError(t, os.WriteFile(file, []byte("correct horse\n"), 0o600))
	tests := []struct {
		name    string
		stack   string
		env     []string
		wantOut string
		wantErr string // "" means success
	}{
		{"dev with nothing set gets the empty passphrase", "dev", nil, "export PULUMI_CONFIG_PASSPHRASE=\n", ""},
		{"dev keeps an explicitly empty passphrase", "dev", []string{"PULUMI_CONFIG_PASSPHRASE="}, "", ""},
		{"prod with nothing set stops", "prod", nil, "", "stack prod: no passphrase"},
		{"prod with an empty passphrase stops", "prod", []string{"PULUMI_CONFIG_PASSPHRASE="}, "", "stack prod: no passphrase"},
		{"prod with a file", "prod", []string{"PULUMI_CONFIG_PASSPHRASE_FILE=" + file}, "", ""},
		{"prod with a passphrase", "prod", []string{"PULUMI_CONFIG_PASSPHRASE=s3cret"}, "", ""},
		{"both set stops", "dev", []string{"PULUMI_CONFIG_PASSPHRASE=", "PULUMI_CONFIG_PASSPHRASE_FILE=" + file}, "", "are both set"},
		{"an unreadable file stops", "prod", []string{"PULUMI_CONFIG_PASSPHRASE_FILE=" + filepath.Join(dir, "nope")}, "", "cannot read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command("tools/passphrase-env.sh", tt.stack)
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, tt.env...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, stderr.String(), tt.wantErr)
				assert.Empty(t, string(out), "nothing to eval when it stops")
				return
			}
			require.NoError(t, err, stderr.String())
			assert.Equal(t, tt.wantOut, string(out))
		})
	}
}
