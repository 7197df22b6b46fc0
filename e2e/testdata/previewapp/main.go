// Command previewapp is the app the real-node tier deploys as a preview: a
// static HTTP server that reports what a preview's app sees (its version,
// the request's host and path, and the APPHUB_* variables the platform
// sets), with switches for the failures a real kubelet must report.
//
//	PORT                 the port to listen on (the platform sets it)
//	READY_AFTER_SECONDS  /healthz answers 503 until this long after start
//	NEVER_READY=1        /healthz always answers 503
//	EXIT_CODE=N          exit with code N at start, serving nothing
//
// The version is set at link time: -ldflags "-X main.version=v2".
package main

import (
	"context"
	"encoding/json"
	"errors"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

var version = "dev"

// answer is what / returns.
type answer struct {
	Version   string `json:"version"`
	Launch    string `json:"launch"`
	PublicURL string `json:"publicUrl"`
	BasePath  string `json:"basePath"`
	Host      string `json:"host"`
	Path      string `json:"path"`
}

func main() {
	if code := os.Getenv("EXIT_CODE"); code != "" {
		n, err := strconv.Atoi(code)
		if err != nil {
			log.Fatalf("EXIT_CODE %q: %v", code, err)
		}
		log.Printf("previewapp %s: exiting with code %d as EXIT_CODE asks", version, n)
		os.Exit(n)
	}
	readyAt := time.Now()
	if s := os.Getenv("READY_AFTER_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			log.Fatalf("READY_AFTER_SECONDS %q: %v", s, err)
		}
		readyAt = readyAt.Add(time.Duration(n) * time.Second)
	}
	never := os.Getenv("NEVER_READY") == "1"

	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if never || time.Now().Before(readyAt) {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(answer{
			Version: version, Launch: os.Getenv("APPHUB_LAUNCH_ID"),
			PublicURL: os.Getenv("APPHUB_PUBLIC_URL"), BasePath: os.Getenv("APPHUB_BASE_PATH"),
			Host: r.Host, Path: r.URL.Path,
		})
	})
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	srv := &http.Server{Addr: ":" + port, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		// Finish what is in flight; the platform's preStop pause has
		// already let the ingress stop sending new requests here.
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("previewapp %s listening on :%s", version, port)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
