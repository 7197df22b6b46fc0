package automation

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The CLI names a locked stack's holders when it refuses an update; those
// lines are all a dead holder is judged on.
func TestLockHoldersFromTheCLIsRefusal(t *testing.T) {
	refusal := errors.New(`error: the stack is currently locked by 2 lock(s). Either wait for the other process(es) to end or delete the lock file with ` + "`pulumi cancel`" + `.
  file:///state/.pulumi/locks/organization/apphub-preview/preview-x/1.json: created by svc@this-host (pid 999999) at 2026-12-01T07:00:00Z
  file:///state/.pulumi/locks/organization/apphub-preview/preview-x/2.json: created by first.last@example@replica-b (pid 42) at 2026-12-01T08:00:01Z`)
	assert.Equal(t, []lockHolder{
		{Username: "svc", Hostname: "this-host", Pid: 999999, Since: time.Date(2026, 12, 1, 7, 0, 0, 0, time.UTC)},
		{Username: "first.last@example", Hostname: "replica-b", Pid: 42, Since: time.Date(2026, 12, 1, 8, 0, 1, 0, time.UTC)},
	}, lockHolders(refusal))
	assert.Nil(t, lockHolders(errors.New("created by svc@host (pid 1) at yesterday")), "a time it cannot read proves nothing")
	assert.Nil(t, lockHolders(errors.New("conflict")))
}

// A lock is broken only when its holder is provably dead.
func TestDeadHolderIsProvenOrLeft(t *testing.T) {
	since := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	takeover := &Takeover{Host: "replica-b", Since: since}
	tests := []struct {
		name     string
		holder   lockHolder
		takeover *Takeover
		dead     bool
	}{
		{"this host, process gone", lockHolder{Hostname: "this-host", Pid: 999999, Since: since}, nil, true},
		{"this host, process alive (this test runs no pulumi, so a live pid of another program does not count)", lockHolder{Hostname: "this-host", Pid: os.Getpid(), Since: since}, nil, true},
		{"another host without a takeover", lockHolder{Hostname: "replica-b", Pid: 42, Since: since.Add(time.Second)}, nil, false},
		{"the dead attempt's host since it began", lockHolder{Hostname: "replica-b", Pid: 42, Since: since.Add(time.Second)}, takeover, true},
		{"the dead attempt's host long before it began", lockHolder{Hostname: "replica-b", Pid: 43, Since: since.Add(-2 * time.Hour)}, takeover, false},
		{"a third host during a takeover", lockHolder{Hostname: "laptop", Pid: 44, Since: since.Add(time.Second)}, takeover, false},
	}
	m := &Manager{hostname: "this-host"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.takeover != nil {
				ctx = WithTakeover(ctx, *tt.takeover)
			}
			assert.Equal(t, tt.dead, m.deadHolder(ctx, tt.holder))
		})
	}
}

func TestProcessAliveNeedsAPulumiProcess(t *testing.T) {
	require.False(t, processAlive(0))
	assert.False(t, processAlive(os.Getpid()), "a live process that is not pulumi keeps no lock alive")
}
