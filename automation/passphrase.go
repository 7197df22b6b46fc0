package automation

import (
	"fmt"
	"os"
	"strings"

	"github.com/apphub/apphub-infra/internal/validate"
)

// Passphrase settings of the passphrase secrets provider, as the Pulumi CLI
// reads them: PULUMI_CONFIG_PASSPHRASE first (an exported empty value
// counts as set), else PULUMI_CONFIG_PASSPHRASE_FILE. The Manager passes on
// only what the caller set, so a passphrase file is never shadowed by an
// empty variable nobody meant to set.
const (
	envPassphrase     = "PULUMI_CONFIG_PASSPHRASE"
	envPassphraseFile = "PULUMI_CONFIG_PASSPHRASE_FILE"
)

// passphraseDefaults fills in the passphrase from the environment and
// checks that exactly one source gives it. With none, only a dev platform
// may run with the empty passphrase (as `make up` does); with
// RequirePassphrase, an empty one is refused.
func (o *Options) passphraseDefaults() error {
	if o.Passphrase == "" && !o.PassphraseSet {
		o.Passphrase, o.PassphraseSet = os.LookupEnv(envPassphrase)
	}
	if o.Passphrase != "" {
		o.PassphraseSet = true
	}
	if o.PassphraseFile == "" {
		o.PassphraseFile = os.Getenv(envPassphraseFile)
	}
	if o.PassphraseSet && o.PassphraseFile != "" {
		return invalidSetting(envPassphraseFile, fmt.Sprintf("is set together with %s: the Pulumi CLI would use %s and ignore the file; unset one", envPassphrase, envPassphrase))
	}
	if o.PassphraseFile != "" {
		b, err := os.ReadFile(o.PassphraseFile)
		if err != nil {
			return invalidSetting(envPassphraseFile, fmt.Sprintf("cannot be read: %v", err))
		}
		if strings.TrimRight(string(b), "\r\n") == "" {
			return invalidSetting(envPassphraseFile, fmt.Sprintf("names %s, which is empty; put the passphrase in it", o.PassphraseFile))
		}
		return nil
	}
	if !o.PassphraseSet {
		if o.RequirePassphrase || o.PlatformStack != devStack {
			return errNoPassphrase("is not set")
		}
		o.PassphraseSet = true // dev: the empty passphrase, as `make up` uses
	}
	if o.Passphrase == "" && o.RequirePassphrase {
		return errNoPassphrase("is empty")
	}
	return nil
}

func errNoPassphrase(what string) *Error {
	return invalidSetting(envPassphrase, fmt.Sprintf("%s: stacks' secrets are encrypted with it; write one to a file only you can read and export %s=<file> (or export %s)",
		what, envPassphraseFile, envPassphrase))
}

// invalidSetting is a bad setting of the caller's environment, named as
// the caller wrote it.
func invalidSetting(field, rule string) *Error {
	fields := validate.Errors{{Field: field, Rule: rule}}
	return &Error{Kind: KindInvalid, Op: "settings", Fields: fields, Reason: fields.Error()}
}

// devStack is the one platform stack that may use the empty passphrase.
const devStack = "dev"

// emptyPassphrase reports whether the Manager encrypts with the empty
// passphrase.
func (o Options) emptyPassphrase() bool { return o.PassphraseFile == "" && o.Passphrase == "" }

// passphraseEnv is what the CLI is given of the passphrase settings.
func (o Options) passphraseEnv(env map[string]string) {
	if o.PassphraseFile != "" {
		env[envPassphraseFile] = o.PassphraseFile
		return
	}
	env[envPassphrase] = o.Passphrase
}
