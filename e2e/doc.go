// Package e2e holds the end-to-end tier (build tag e2e): the whole
// lifecycle through the real Pulumi engine and provider plugins.
package e2e
