package automation

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// setEnv sets (value non-nil) or unsets each variable for the test.
func setEnv(t *testing.T, vars map[string]*string) {
	t.Helper()
	for k, v := range vars {
		t.Setenv(k, "")
		if v == nil {
			require.NoError(t, os.Unsetenv(k))
		} else {
			t.Setenv(k, *v)
		}
	}
}

func ptr(s string) *string { return &s }

func TestPassphraseSettings(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "passphrase")
	require.NoError(t, os.WriteFile(file, []byte("correct horse\n"), 0o600))
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(empty, []byte("\n"), 0o600))
	tests := []struct {
		name      string
		env       map[string]*string
		opts      Options
		wantEnv   map[string]string
		wantField string // the setting an error names
	}{
		{name: "a file alone is passed on and nothing shadows it",
			env:     map[string]*string{envPassphrase: nil, envPassphraseFile: ptr(file)},
			opts:    Options{PlatformStack: "prod", RequirePassphrase: true},
			wantEnv: map[string]string{envPassphraseFile: file}},
		{name: "a passphrase alone",
			env:     map[string]*string{envPassphrase: ptr("s3cret"), envPassphraseFile: nil},
			opts:    Options{PlatformStack: "prod"},
			wantEnv: map[string]string{envPassphrase: "s3cret"}},
		{name: "an exported empty passphrase beside a file is refused, not silently preferred",
			env:       map[string]*string{envPassphrase: ptr(""), envPassphraseFile: ptr(file)},
			opts:      Options{PlatformStack: "dev"},
			wantField: envPassphraseFile},
		{name: "nothing set: dev gets the empty passphrase",
			env:     map[string]*string{envPassphrase: nil, envPassphraseFile: nil},
			opts:    Options{PlatformStack: "dev"},
			wantEnv: map[string]string{envPassphrase: ""}},
		{name: "nothing set: prod is refused",
			env:       map[string]*string{envPassphrase: nil, envPassphraseFile: nil},
			opts:      Options{PlatformStack: "prod"},
			wantField: envPassphrase},
		{name: "the service refuses the empty passphrase even on dev",
			env:       map[string]*string{envPassphrase: ptr(""), envPassphraseFile: nil},
			opts:      Options{PlatformStack: "dev", RequirePassphrase: true},
			wantField: envPassphrase},
		{name: "an empty file is refused",
			env:       map[string]*string{envPassphrase: nil, envPassphraseFile: ptr(empty)},
			opts:      Options{PlatformStack: "dev"},
			wantField: envPassphraseFile},
		{name: "a missing file is refused",
			env:       map[string]*string{envPassphrase: nil, envPassphraseFile: ptr(filepath.Join(dir, "nope"))},
			opts:      Options{PlatformStack: "dev"},
			wantField: envPassphraseFile},
		{name: "an explicit passphrase wins over an unset environment",
			env:     map[string]*string{envPassphrase: nil, envPassphraseFile: nil},
			opts:    Options{PlatformStack: "prod", Passphrase: "p"},
			wantEnv: map[string]string{envPassphrase: "p"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setEnv(t, tt.env)
			o := tt.opts
			err := o.passphraseDefaults()
			if tt.wantField != "" {
				require.Error(t, err)
				assert.True(t, IsInvalid(err), "kind of %v", err)
				var e *Error
				require.ErrorAs(t, err, &e)
				require.Len(t, e.Fields, 1)
				assert.Equal(t, tt.wantField, e.Fields[0].Field)
				return
			}
			require.NoError(t, err)
			env := map[string]string{}
			o.passphraseEnv(env)
			assert.Equal(t, tt.wantEnv, env)
		})
	}
}
