//go:build tools

// Package tools pins the Pulumi CLI that the project builds into ./bin, so
// developers and CI use one known engine version without downloading a
// prebuilt binary.
package tools

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
)
