// Package server is the catalog's HTTP API over the automation Manager
// (`apphubctl serve`). Long operations are asynchronous: a request is
// validated, persisted, answered 202 with an operation resource, and run in
// the background; an operation accepted before a restart resumes after it.
package server
