package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"isvc-canary.test/world/internal/controlplane"
)

// TestSharedCluster checks the test run's cluster as the launcher describes it: the three users
// are who env.json says, only the admin may read anything, and the audit log records requests.
func TestSharedCluster(t *testing.T) {
	env := controlplane.LoadEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	clients := map[string]kubernetes.Interface{}
	for name, path := range map[string]string{"admin": env.Kubeconfigs.Admin, "limited": env.Kubeconfigs.Limited, "token": env.Kubeconfigs.Token} {
		cfg, err := controlplane.RESTConfig(path)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Host != env.Server {
			t.Errorf("%s kubeconfig points at %s, env.json says %s", name, cfg.Host, env.Server)
		}
		clients[name] = kubernetes.NewForConfigOrDie(cfg)
	}

	wantUser := map[string]string{"admin": controlplane.AdminUser, "limited": env.Users.Limited, "token": env.Users.Token}
	for name, c := range clients {
		review, err := c.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("%s: self-subject review: %v", name, err)
		}
		if got := review.Status.UserInfo.Username; got != wantUser[name] {
			t.Errorf("%s is user %q, want %q", name, got, wantUser[name])
		}
	}

	// Every component of the world is there: KServe's and Knative's namespaces and CRDs.
	for _, ns := range []string{"kserve", "knative-serving"} {
		if _, err := clients["admin"].CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
			t.Errorf("namespace %s: %v", ns, err)
		}
	}
	if _, err := clients["admin"].CoreV1().ConfigMaps("kserve").Get(ctx, "inferenceservice-config", metav1.GetOptions{}); err != nil {
		t.Errorf("inferenceservice-config: %v", err)
	}

	for _, name := range []string{"limited", "token"} {
		_, err := clients[name].CoreV1().Pods("kserve").List(ctx, metav1.ListOptions{})
		if !apierrors.IsForbidden(err) {
			t.Errorf("%s listing pods: got %v, want Forbidden", name, err)
		}
	}

	// The audit event of a request is written once its response is complete: allow a moment.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		audit, err := os.ReadFile(env.AuditLog)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(audit), `"username":"`+env.Users.Limited+`"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit log %s has no request of %s", env.AuditLog, env.Users.Limited)
		}
	}
}
