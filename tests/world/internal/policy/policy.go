// Package policy installs the admission check that stands in for Knative's webhook, which the
// test cluster does not run (it would rewrite its own registration to an in-cluster address).
// A ValidatingAdmissionPolicy on serving.knative.dev Services (CREATE, UPDATE) refuses what
// Knative's webhook refuses for traffic: a spec.traffic[*].percent outside 0..100, and targets
// whose percents do not sum to 100 (when there are any). canaryTrafficPercent 150 gives one
// target at 150 and -5 gives -5 and 105: both are refused, so KServe's ReconcileFailed path is the
// real one. The messages follow Knative's ("expected 0 <= X <= 100", "Traffic targets sum to N,
// want 100"), but the API server frames them as a policy denial, not a webhook's.
package policy

import (
	"context"
	"fmt"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Name of the policy and of its binding.
const Name = "isvc-sim-knative-service-traffic"

const (
	// A target without percent counts as 0, as in Knative.
	percents = `object.spec.traffic.map(t, has(t.percent) ? t.percent : 0)`
	// Knative lists the index of each bad target; CEL here has no indexed map, so walk indexes.
	badIndexes = `[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15].filter(i, i < size(object.spec.traffic) && ` +
		`has(object.spec.traffic[i].percent) && (object.spec.traffic[i].percent < 0 || object.spec.traffic[i].percent > 100))`
)

// Policy is the ValidatingAdmissionPolicy.
func Policy() *admissionv1.ValidatingAdmissionPolicy {
	fail := admissionv1.Fail
	return &admissionv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: Name},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: &fail,
			MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update},
					Rule: admissionv1.Rule{
						APIGroups: []string{"serving.knative.dev"}, APIVersions: []string{"*"}, Resources: []string{"services"},
					},
				},
			}}},
			Validations: []admissionv1.Validation{
				{
					Expression: `!has(object.spec.traffic) || object.spec.traffic.all(t, !has(t.percent) || (t.percent >= 0 && t.percent <= 100))`,
					Message:    "validation failed: expected 0 <= percent <= 100: spec.traffic[*].percent",
					MessageExpression: `'validation failed: ' + ` + badIndexes +
						`.map(i, 'expected 0 <= ' + string(object.spec.traffic[i].percent) + ' <= 100: spec.traffic[' + string(i) + '].percent').join(', ')`,
				},
				{
					Expression:        `!has(object.spec.traffic) || size(object.spec.traffic) == 0 || ` + percents + `.sum() == 100`,
					Message:           "validation failed: Traffic targets sum to a value other than 100, want 100: spec.traffic",
					MessageExpression: `'validation failed: Traffic targets sum to ' + string(` + percents + `.sum()) + ', want 100: spec.traffic'`,
				},
			},
		},
	}
}

// Binding applies the policy everywhere, denying.
func Binding() *admissionv1.ValidatingAdmissionPolicyBinding {
	return &admissionv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: Name},
		Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        Name,
			ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
		},
	}
}

// Install creates (or updates) the policy and its binding, then waits until the API server
// enforces it: a server-side dry run of a Knative Service with a target at 150 % must be refused.
// Knative's Service CRD must already be established.
func Install(ctx context.Context, cfg *rest.Config) error {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	api := cs.AdmissionregistrationV1()
	p := Policy()
	if have, err := api.ValidatingAdmissionPolicies().Get(ctx, Name, metav1.GetOptions{}); err == nil {
		p.ResourceVersion = have.ResourceVersion
		_, err = api.ValidatingAdmissionPolicies().Update(ctx, p, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("policy: %w", err)
		}
	} else if _, err = api.ValidatingAdmissionPolicies().Create(ctx, p, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	b := Binding()
	if have, err := api.ValidatingAdmissionPolicyBindings().Get(ctx, Name, metav1.GetOptions{}); err == nil {
		b.ResourceVersion = have.ResourceVersion
		_, err = api.ValidatingAdmissionPolicyBindings().Update(ctx, b, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("policy binding: %w", err)
		}
	} else if _, err = api.ValidatingAdmissionPolicyBindings().Create(ctx, b, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("policy binding: %w", err)
	}
	return waitEnforced(ctx, cfg)
}

// ProbeService is a Knative Service the policy must refuse.
func ProbeService(percent int64) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "serving.knative.dev/v1",
		"kind":       "Service",
		"metadata":   map[string]any{"name": "isvc-sim-policy-probe", "namespace": "default"},
		"spec": map[string]any{
			"template": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"image": "probe"}}}},
			"traffic":  []any{map[string]any{"latestRevision": true, "percent": percent}},
		},
	}}
}

func waitEnforced(ctx context.Context, cfg *rest.Config) error {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ksvc := dyn.Resource(schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "services"}).Namespace("default")
	deadline := time.Now().Add(60 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		_, err := ksvc.Create(ctx, ProbeService(150), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		switch {
		case err == nil:
			last = fmt.Errorf("a Knative Service with a target at 150%% was admitted")
		case (apierrors.IsInvalid(err) || apierrors.IsForbidden(err)) && strings.Contains(err.Error(), Name):
			return nil
		default:
			last = err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("policy %s not enforced after 60s: %v", Name, last)
}
