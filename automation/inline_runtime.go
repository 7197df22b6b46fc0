package automation

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// inlineRuntime serves an inline program to a `pulumi up --client=…` the
// Manager runs itself: the language runtime the SDK starts for Stack.Up
// (auto.languageRuntimeServer, unexported), with the SDK's own building
// blocks. Running the CLI directly lets an update end with the CLI's exit,
// its outputs and summary taken from its engine events, instead of three
// more CLI processes that each derive the passphrase's key.
type inlineRuntime struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	fn      pulumi.RunFunc
	addr    string
	cancel  chan bool
	done    <-chan error
	mu      sync.Mutex
	idle    *sync.Cond
	running bool
	closed  bool
}

func startInlineRuntime(fn pulumi.RunFunc) (*inlineRuntime, error) {
	r := &inlineRuntime{fn: fn, cancel: make(chan bool)}
	r.idle = sync.NewCond(&r.mu)
	port, done, err := serveLoopback(r.cancel, func(srv *grpc.Server) { pulumirpc.RegisterLanguageRuntimeServer(srv, r) })
	if err != nil {
		return nil, fmt.Errorf("starting the program's language runtime: %w", err)
	}
	r.addr, r.done = fmt.Sprintf("127.0.0.1:%d", port), done
	return r, nil
}

// serveLoopback serves a gRPC service on a free loopback port as the SDK's
// own servers do, until cancel is sent; done reports the server's end.
func serveLoopback(cancel chan bool, register func(*grpc.Server)) (int, <-chan error, error) {
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancel,
		Init: func(srv *grpc.Server) error {
			register(srv)
			return nil
		},
		Options: rpcutil.TracingServerInterceptorOptions(nil),
	})
	return handle.Port, handle.Done, err
}

// Close waits for a program run in progress, then stops the server.
func (r *inlineRuntime) Close() error {
	r.mu.Lock()
	for r.running {
		r.idle.Wait()
	}
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	r.cancel <- true
	close(r.cancel)
	return <-r.done
}

func (r *inlineRuntime) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, errors.New("program canceled")
	}
	r.running = true
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.running = false
		r.mu.Unlock()
		r.idle.Broadcast()
	}()

	var engine string
	if len(req.Args) > 0 {
		engine = req.Args[0]
	}
	pctx, err := pulumi.NewContext(ctx, pulumi.RunInfo{
		EngineAddr: engine, MonitorAddr: req.GetMonitorAddress(),
		Config: req.GetConfig(), ConfigSecretKeys: req.GetConfigSecretKeys(),
		Project: req.GetProject(), Stack: req.GetStack(), Organization: req.GetOrganization(),
		Parallel: req.GetParallel(), DryRun: req.GetDryRun(),
	})
	if err != nil {
		return nil, err
	}
	defer pctx.Close()
	if err := runRecovered(pctx, r.fn); err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// runRecovered runs the program, turning a panic into the program's error
// as the SDK's inline runtime does.
func runRecovered(pctx *pulumi.Context, fn pulumi.RunFunc) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("go inline source runtime error, an unhandled panic occurred: %v", p)
		}
	}()
	return pulumi.RunWithContext(pctx, fn)
}

func (r *inlineRuntime) GetRequiredPlugins(context.Context, *pulumirpc.GetRequiredPluginsRequest) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (r *inlineRuntime) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: "1.0.0"}, nil
}

func (r *inlineRuntime) InstallDependencies(*pulumirpc.InstallDependenciesRequest, pulumirpc.LanguageRuntime_InstallDependenciesServer) error {
	return nil
}
