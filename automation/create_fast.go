package automation

import (
	"context"
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
)

// createFast creates a stack without `pulumi stack init` (its process and
// key derivation, 0.3 s of a preview create) when the file backend's files
// allow it and this Manager has a salt its CLI made with its passphrase:
// the first stack of a process goes through the CLI, the rest reuse that
// salt (or the platform's, once the CLI has decrypted the platform's
// secrets with it), as every stack of one passphrase could. ok is false
// when the CLI must create it.
func (m *Manager) createFast(ctx context.Context, ws auto.Workspace, project, stack string) (st auto.Stack, ok bool, err error) {
	m.saltMu.Lock()
	salt := m.salt
	m.saltMu.Unlock()
	if salt == "" {
		return auto.Stack{}, false, nil
	}
	created, err := m.state.CreateStack(project, stack, "v"+m.cmd.Version().String(), salt, m.opts.Now())
	if err != nil || !created {
		return auto.Stack{}, false, err
	}
	if err := ws.SaveStackSettings(ctx, stack, &workspace.ProjectStack{EncryptionSalt: salt}); err != nil {
		return auto.Stack{}, true, fmt.Errorf("writing stack settings: %w", err)
	}
	st, err = auto.SelectStack(ctx, stack, ws)
	return st, true, err
}

// rememberSalt keeps, for createFast, the encryption salt of a stack the
// CLI just created or decrypted with this Manager's passphrase.
func (m *Manager) rememberSalt(ctx context.Context, ws auto.Workspace, stack string) {
	settings, err := ws.StackSettings(ctx, stack)
	if err != nil || settings.EncryptionSalt == "" {
		return
	}
	m.saltMu.Lock()
	m.salt = settings.EncryptionSalt
	m.saltMu.Unlock()
}
