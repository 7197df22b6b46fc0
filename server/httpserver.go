package server

import (
	"net/http"
	"time"
)

// Limits of a connection: a client that sends its headers or body too
// slowly, or keeps an idle connection, is cut off instead of holding a
// file descriptor and a goroutine for ever. The event stream and a build
// log follow lift the write deadline for themselves (liftWriteDeadline).
const (
	readHeaderTimeout = 10 * time.Second
	// readTimeout covers the whole request: bodies are at most maxBody.
	readTimeout    = 30 * time.Second
	writeTimeout   = 60 * time.Second
	idleTimeout    = 60 * time.Second
	maxHeaderBytes = 64 << 10
)

func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
	}
}

// liftWriteDeadline lets a stream write for as long as its operation runs;
// the client's going away still ends it (the request's context).
func liftWriteDeadline(w http.ResponseWriter) {
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
}

// maxUIBody bounds what the queue UI's forms and API calls send.
const maxUIBody = 64 << 10

// guardUI protects the queue UI, which a browser drives with Basic
// credentials it sends on its own: a state-changing request from another
// site is refused (Sec-Fetch-Site, else Origin against Host), no page may
// frame it, and bodies are bounded.
func guardUI(h http.Handler) http.Handler {
	bounded := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Content-Security-Policy", "frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		r.Body = http.MaxBytesReader(w, r.Body, maxUIBody)
		h.ServeHTTP(w, r)
	})
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refuseUnread(w)
		writeError(w, http.StatusForbidden, "forbidden", "cross-site requests may not change the queue", nil)
	}))
	return csrf.Handler(bounded)
}
