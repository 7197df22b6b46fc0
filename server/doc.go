// Package server is the catalog's HTTP API over the automation Manager
// (`apphubctl serve`). Long operations are asynchronous: a request is
// validated, recorded in the queue (package queue: River on SQLite or
// PostgreSQL), answered 202 with an operation resource, and worked by
// whichever replica's River client fetches it; an operation accepted
// before a restart, or left by a replica that died, resumes after it.
package server
