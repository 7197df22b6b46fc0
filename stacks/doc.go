// Package stacks holds one exported pulumi.RunFunc per stack kind (platform,
// preview, build) with its typed config. A RunFunc loads and validates its
// whole config before it registers any resource, so a bad value never
// half-applies a stack.
package stacks
