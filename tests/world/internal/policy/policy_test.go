package policy

import (
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
)

// The CEL itself is checked against the real API server at start (Install's dry run) and by the
// world tests; here only the shape of the objects.
func TestObjects(t *testing.T) {
	p, b := Policy(), Binding()
	if b.Spec.PolicyName != p.Name || len(b.Spec.ValidationActions) != 1 || b.Spec.ValidationActions[0] != admissionv1.Deny {
		t.Fatalf("binding %+v", b.Spec)
	}
	r := p.Spec.MatchConstraints.ResourceRules[0]
	if r.APIGroups[0] != "serving.knative.dev" || r.Resources[0] != "services" || len(r.Operations) != 2 {
		t.Fatalf("rule %+v", r)
	}
	if *p.Spec.FailurePolicy != admissionv1.Fail || len(p.Spec.Validations) != 2 {
		t.Fatalf("spec %+v", p.Spec)
	}
	for _, v := range p.Spec.Validations {
		if strings.Count(v.Expression, "(") != strings.Count(v.Expression, ")") ||
			strings.Count(v.MessageExpression, "(") != strings.Count(v.MessageExpression, ")") {
			t.Errorf("unbalanced: %s / %s", v.Expression, v.MessageExpression)
		}
	}
	if !strings.Contains(p.Spec.Validations[0].MessageExpression, "expected 0 <= ") ||
		!strings.Contains(p.Spec.Validations[1].MessageExpression, "Traffic targets sum to ") {
		t.Error("messages should follow Knative's")
	}
}
