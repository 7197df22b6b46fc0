// Package queue runs the service's stack operations on River, a job queue
// with SQLite (one host, nothing to install) and PostgreSQL (N replicas)
// drivers. Each accepted request is an operation record plus a River job:
// River owns scheduling, retries, cancellation and leader election; the
// record owns what the API reports (status, reason, result, events), and a
// per-stack lease proves which replica is alive while it works a stack.
package queue
