package pulumilocks

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAbsoluteURL(t *testing.T) {
	home, err := os.UserHomeDir()
	require.NoError(t, err)
	wd, err := os.Getwd()
	require.NoError(t, err)
	tests := []struct {
		name, in, want, err string
	}{
		{"absolute path", "file:///var/lib/apphub", "file:///var/lib/apphub?metadata=skip", ""},
		{"relative path", "file://./state", "file://" + filepath.Join(wd, "state") + "?metadata=skip", ""},
		{"home", "file://~/state", "file://" + filepath.Join(home, "state") + "?metadata=skip", ""},
		{"other parameters kept", "file:///s?no_tmp_dir=false", "file:///s?metadata=skip&no_tmp_dir=false", ""},
		{"the caller's metadata wins", "file:///s?metadata=", "file:///s?metadata=", ""},
		{"not a file backend", "postgres://db/state", "postgres://db/state", ""},
		{"no directory", "file://", "", "names no directory"},
		{"bad query", "file:///s?a=%zz", "", "query"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AbsoluteURL(tt.in)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
