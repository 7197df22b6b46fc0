//go:build clitest

package automation

import (
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/opthistory"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An update run by the Manager itself reports the outputs, secret flags and
// summary the CLI gives when asked afterwards, secrets masked, for a new
// stack and for an unchanged one.
func TestInlineUpAgreesWithTheCLI(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, nil)
	ctx := t.Context()
	program := func(ctx *pulumi.Context) error {
		ctx.Export("plain", pulumi.String("value"))
		ctx.Export("number", pulumi.Int(3))
		ctx.Export("list", pulumi.StringArray{pulumi.String("a"), pulumi.String("b")})
		ctx.Export("secret", pulumi.ToSecret(pulumi.String("s3cret")))
		ctx.Export("nested", pulumi.Map{"open": pulumi.String("x"), "closed": pulumi.ToSecret(pulumi.String("y"))})
		return nil
	}
	st, err := m.upsert(ctx, "apphub-preview", "inline-agree", program)
	require.NoError(t, err)
	for _, changes := range []map[string]int{{"create": 1}, {"same": 1}} {
		c := m.collect(ctx, "test", "inline-agree")
		vals, secrets, u, err := m.inlineUp(ctx, st, program, c)
		require.NoError(t, err)
		c.wait()

		outs, err := st.Outputs(ctx)
		require.NoError(t, err)
		wantVals, wantSecrets := plainOutputs(outs)
		assert.Equal(t, masked(wantVals, wantSecrets), vals)
		assert.Equal(t, map[string]bool{"secret": true, "nested": true}, secrets)
		assert.Equal(t, wantSecrets, secrets)
		assert.NotContains(t, vals, "s3cret")

		hist, err := st.History(ctx, 1, 1, opthistory.ShowSecrets(false))
		require.NoError(t, err)
		want := toUpdate(hist[0])
		assert.Equal(t, changes, u.Changes)
		assert.Equal(t, want.Changes, u.Changes)
		assert.Equal(t, want.Kind, u.Kind)
		assert.Equal(t, want.Result, u.Result)
		assert.WithinDuration(t, want.StartTime, u.StartTime, 2*time.Second)
		assert.WithinDuration(t, want.EndTime, u.EndTime, 2*time.Second)
	}

	c := m.collect(ctx, "test", "inline-agree")
	u, err := m.inlineDestroy(ctx, st, program, c)
	require.NoError(t, err)
	c.wait()
	hist, err := st.History(ctx, 1, 1, opthistory.ShowSecrets(false))
	require.NoError(t, err)
	want := toUpdate(hist[0])
	assert.Equal(t, "destroy", u.Kind)
	assert.Equal(t, want.Kind, u.Kind)
	assert.Equal(t, want.Result, u.Result)
	assert.Equal(t, map[string]int{"delete": 1}, u.Changes)
	assert.Equal(t, want.Changes, u.Changes)
	outs, err := st.Outputs(ctx)
	require.NoError(t, err)
	assert.Empty(t, outs, "the stack is empty")
}

// A program that fails makes the update fail with the program's error,
// and the events still end.
func TestInlineUpProgramFailure(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, nil)
	ctx := t.Context()
	program := func(ctx *pulumi.Context) error { panic("the program broke") }
	st, err := m.upsert(ctx, "apphub-preview", "inline-fails", program)
	require.NoError(t, err)
	c := m.collect(ctx, "test", "inline-fails")
	_, _, _, err = m.inlineUp(ctx, st, program, c)
	require.Error(t, err)
	diags := c.wait()
	assert.Contains(t, reason(err, diags), "the program broke")
	assert.False(t, isConcurrentUpdate(err))
}
