// Package automation is the catalog's entry point to preview and build
// stacks (and the platform stack) through the Pulumi Automation API.
//
// A Manager runs the very same RunFuncs as `pulumi up` inline, one stable
// work directory per stack, serialised per stack inside the process (the
// file backend's lock is only a backstop), bounded in concurrency, with the
// caller's context honoured, and results or typed errors that map to exit
// codes and HTTP statuses.
package automation
