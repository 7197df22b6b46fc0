// Package validate collects field-level problems so that a config or request
// is reported in full, once, before anything is created. Kubernetes name rules
// come from k8s.io/apimachinery so they match what the API server enforces.
package validate
