// Package pulumistate reads Pulumi's self-managed backend state directly,
// as the CLI writes it: the stack checkpoints, update history and locks of
// a file:// backend, and the lock rows of the DIY postgres backend. It is
// the one place that knows that layout, which is the CLI's internal
// business rather than an API.
//
// Every Pulumi CLI call costs 0.28-0.46 s on the 2-core machine (process
// start of a 150 MB binary, plus passphrase key derivation when it loads
// secrets), and the SDK spends four of them per update on questions a
// file:// backend answers from its own files: does the stack exist (select),
// is anything pending (export), what are the outputs (two `stack output`
// calls). Backend answers those from the checkpoint the CLI wrote; when it
// cannot answer with certainty (another backend, another layout, a schema it
// does not know, a secret output) it says so (ErrUnknown) and the CLI is
// asked instead. WrapCommand and WrapWorkspace put those answers in front
// of the SDK's CLI calls.
//
// Recovery reads and removes the locks an operation that died left
// behind, where the backend keeps them (NewLockStore).
//
// What this package reads must be what the CLI reads: the agreement test
// against the real CLI (automation/filestate_cli_test.go, build tag
// clitest) runs both on the same stacks, so a CLI whose backend layout
// changes fails there.
package pulumistate
