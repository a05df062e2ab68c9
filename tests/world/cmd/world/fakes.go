package main

// The fakes and the admission policy live in packages another person writes; every call to them
// is in this file.

import (
	"context"
	"net"

	"k8s.io/client-go/rest"

	"isvc-canary.test/world/internal/ingress"
	"isvc-canary.test/world/internal/kubelet"
	"isvc-canary.test/world/internal/policy"
)

// fake is one fake running in the launcher's process.
type fake struct {
	name string
	run  func(ctx context.Context) error
}

// fakes lists the fakes to run against the cluster; ln is the fake ingress's loopback listener,
// statsLn the one where it tells Knative's autoscaler what traffic each revision served.
func fakes(cfg *rest.Config, ln, statsLn net.Listener) []fake {
	return []fake{
		{"kubelet", func(ctx context.Context) error { return kubelet.Run(ctx, cfg) }},
		{"ingress", func(ctx context.Context) error { return ingress.Run(ctx, cfg, ln, statsLn) }},
	}
}

// installPolicy installs the ValidatingAdmissionPolicy that stands in for Knative's webhook on
// Knative Services' traffic.
func installPolicy(ctx context.Context, cfg *rest.Config) error {
	return policy.Install(ctx, cfg)
}
