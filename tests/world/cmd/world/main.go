// Command world is the launcher of the project's test cluster: etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, KServe's manager, Knative Serving's controller and
// autoscaler as child processes, and the fake kubelet and ingress in its own process.
//
//	world up --state DIR [--parent-fd N] [--bin-dir DIR] [--kserve RELEASE] [--no-controllers]
//	world sandbox --state DIR [--plugin-dir DIR] [--bin-dir DIR] [--kserve RELEASE]
//	world restart --state DIR NAME   (restarts one child of the running world on DIR; control.go)
//	world knative-controller --kubeconfig FILE   (started by `up`, not by hand)
//	world knative-autoscaler --kubeconfig FILE --stats-url URL   (started by `up`, not by hand)
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"isvc-canary.test/world/internal/knative"
)

func usage() {
	fmt.Fprintln(os.Stderr, `usage:
  world up --state DIR [--parent-fd N] [--bin-dir DIR] [--kserve RELEASE] [--no-controllers]
  world sandbox --state DIR [--plugin-dir DIR] [--bin-dir DIR] [--kserve RELEASE]
  world restart --state DIR NAME
  world knative-controller --kubeconfig FILE
  world knative-autoscaler --kubeconfig FILE --stats-url URL`)
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	logger := log.New(os.Stderr, "world: ", log.Ltime|log.Lmicroseconds)
	switch os.Args[1] {
	case "up", "sandbox":
		os.Exit(runWorld(os.Args[1], os.Args[2:], logger))
	case "restart":
		os.Exit(restartCommand(os.Args[2:]))
	case "knative-controller":
		fs := flag.NewFlagSet("knative-controller", flag.ExitOnError)
		kubeconfig := fs.String("kubeconfig", "", "kubeconfig of the controller")
		_ = fs.Parse(os.Args[2:])
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		if err := knative.Run(ctx, *kubeconfig); err != nil {
			logger.Fatal(err)
		}
	case "knative-autoscaler":
		fs := flag.NewFlagSet("knative-autoscaler", flag.ExitOnError)
		kubeconfig := fs.String("kubeconfig", "", "kubeconfig of the autoscaler")
		statsURL := fs.String("stats-url", "", "the test ingress's statistics endpoint")
		_ = fs.Parse(os.Args[2:])
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		if err := knative.RunAutoscaler(ctx, *kubeconfig, *statsURL); err != nil && ctx.Err() == nil {
			logger.Fatal(err)
		}
	default:
		usage()
	}
}
