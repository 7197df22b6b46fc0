package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A second server on one state directory refuses to start, naming the
// first; once the first is gone the directory is free again.
func TestOneServerPerStateDir(t *testing.T) {
	dir := t.TempDir()
	release, err := lockStateDir(dir)
	require.NoError(t, err)

	_, err = lockStateDir(dir)
	require.Error(t, err)
	host, _ := os.Hostname()
	assert.Contains(t, err.Error(), fmt.Sprintf("served by pid %d on %s", os.Getpid(), host))
	assert.Contains(t, err.Error(), "--state-dir")

	release()
	again, err := lockStateDir(dir)
	require.NoError(t, err, "the holder is gone: no lock to break by hand")
	again()
}
