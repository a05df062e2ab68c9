package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// stdCreate is a Standard-mode InferenceService as KServe's own canary_controller_test.go writes
// it: stable minReplicas 4, autoscalerClass none (no HPA), so that the replicas are exact.
const stdCreate = `apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: iris
  annotations:
    serving.kserve.io/deploymentMode: Standard
    serving.kserve.io/autoscalerClass: none
spec:
  predictor:
    minReplicas: 4
    model:
      modelFormat:
        name: sklearn
      storageUri: "gs://kfserving-examples/models/sklearn/1.0/model"
`

// stdCanary adds a canary predictor v2 at 25 %: in KServe v0.20.0 the percentage sets replicas
// (ceil(4 × 25 / 100) = 1, the stable lowered to 3); the HTTPRoutes still send every request to
// the stable predictor (kserve-facts §4.7).
const stdCanary = `{"spec":{"canary":[{"predictor":{"name":"v2","model":{"modelFormat":{"name":"sklearn"},` +
	`"storageUri":"gs://kfserving-examples/models/sklearn/2.0/model"}},"trafficPercent":25}]}}`

// stdISVC is the Standard-mode part of an InferenceService's status.
type stdISVC struct {
	Status struct {
		URL            string `json:"url"`
		DeploymentMode string `json:"deploymentMode"`
		Conditions     []struct {
			Type, Status, Reason string
		} `json:"conditions"`
		CanaryStatuses []struct {
			Name           string `json:"name"`
			Ready          bool   `json:"ready"`
			TrafficPercent int    `json:"trafficPercent"`
		} `json:"canaryStatuses"`
	} `json:"status"`
}

func (s *stdISVC) cond(typ string) string {
	for _, c := range s.Status.Conditions {
		if c.Type == typ {
			return c.Status
		}
	}
	return ""
}

func (n *ns) getStd(name string) (*stdISVC, error) {
	out, err := n.k("", "get", "isvc", name, "-o", "json")
	if err != nil {
		return nil, err
	}
	var s stdISVC
	return &s, json.Unmarshal([]byte(out), &s)
}

// readyReplicas is "name=ready/replicas" of every Deployment in the namespace, by name.
func (n *ns) readyReplicas() (map[string]string, error) {
	out, err := n.k("", "get", "deployments", "-o",
		`jsonpath={range .items[*]}{.metadata.name}{"="}{.status.readyReplicas}{"/"}{.spec.replicas}{"\n"}{end}`)
	if err != nil {
		return nil, err
	}
	got := map[string]string{}
	for _, line := range strings.Fields(out) {
		k, v, _ := strings.Cut(line, "=")
		got[k] = v
	}
	return got, nil
}

// predictStd POSTs the docs' request through the ingress and returns the status, the Service that
// answered (Isvc-Canary-Variant) and the pod (Isvc-Canary-Pod).
func (w *world) predictStd(host, model string) (int, string, string, error) {
	req, err := http.NewRequest(http.MethodPost, "http://"+w.env.Ingress+"/v1/models/"+model+":predict", strings.NewReader(iris))
	if err != nil {
		return 0, "", "", err
	}
	req.Host = host
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK && !strings.Contains(string(body), `"predictions"`) {
		return 0, "", "", fmt.Errorf("answer without predictions: %s", body)
	}
	return resp.StatusCode, resp.Header.Get("Isvc-Canary-Variant"), resp.Header.Get("Isvc-Canary-Pod"), nil
}

// TestStandardCanary: a Standard-mode InferenceService on KServe v0.20.0 with the Gateway API, a
// canary predictor added with kubectl (spec.canary[]), and what KServe and the test ingress make
// of it: Deployments 3 + 1 ready, canaryStatuses ready, CanaryPredictorReady and Ready True, the
// HTTPRoutes' status.parents written, and every request answered by a stable pod.
func TestStandardCanary(t *testing.T) {
	t.Parallel()
	n := newNS(t, "std")
	if n.w.env.KServe != "v0.20.0" {
		t.Fatalf("Standard-mode canaries need KServe v0.20.0; this world runs %q", n.w.env.KServe)
	}
	n.step(t, "create", func(t *testing.T) {
		n.apply(stdCreate)
		eventually(t, stepTimeout, "isvc iris Ready with 4 stable pods", func() error {
			s, err := n.getStd("iris")
			if err != nil {
				return err
			}
			reps, err := n.readyReplicas()
			if err != nil {
				return err
			}
			if s.cond("Ready") != "True" || reps["iris-predictor"] != "4/4" {
				return fmt.Errorf("Ready=%s deployments %v", s.cond("Ready"), reps)
			}
			if s.Status.DeploymentMode != "Standard" {
				return fmt.Errorf("status.deploymentMode %q", s.Status.DeploymentMode)
			}
			return nil
		})
	})
	n.step(t, "canary 25", func(t *testing.T) {
		n.patch("iris", stdCanary)
		eventually(t, stepTimeout, "stable 3 + canary 1 ready, canaryStatuses ready", func() error {
			s, err := n.getStd("iris")
			if err != nil {
				return err
			}
			reps, err := n.readyReplicas()
			if err != nil {
				return err
			}
			if reps["iris-predictor"] != "3/3" || reps["iris-v2-predictor"] != "1/1" || len(reps) != 2 {
				return fmt.Errorf("deployments %v", reps)
			}
			if len(s.Status.CanaryStatuses) != 1 || s.Status.CanaryStatuses[0].Name != "v2" ||
				!s.Status.CanaryStatuses[0].Ready || s.Status.CanaryStatuses[0].TrafficPercent != 25 {
				return fmt.Errorf("canaryStatuses %+v", s.Status.CanaryStatuses)
			}
			for _, c := range []string{"CanaryPredictorReady", "PredictorReady", "IngressReady", "Ready"} {
				if s.cond(c) != "True" {
					return fmt.Errorf("%s=%q", c, s.cond(c))
				}
			}
			return nil
		})
	})
	n.step(t, "routes", func(t *testing.T) {
		out := n.must("", "get", "httproutes", "-o",
			`jsonpath={range .items[*]}{.metadata.name}{" "}{range .status.parents[*]}{.parentRef.namespace}{"/"}{.parentRef.name}{":"}{range .conditions[*]}{.type}{"="}{.status}{","}{end}{end}{"\n"}{end}`)
		want := "kserve/kserve-ingress-gateway:Accepted=True,ResolvedRefs=True,"
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 2 {
			t.Fatalf("HTTPRoutes:\n%s", out)
		}
		for _, l := range lines {
			if !strings.HasSuffix(l, " "+want) {
				t.Fatalf("HTTPRoute status.parents: %q, want %q", l, want)
			}
		}
	})
	n.step(t, "requests reach only the stable pods", func(t *testing.T) {
		s, err := n.getStd("iris")
		if err != nil {
			t.Fatal(err)
		}
		stablePods := map[string]bool{}
		for _, p := range strings.Fields(n.must("", "get", "pods", "-l", "app=isvc.iris-predictor", "-o", "jsonpath={.items[*].metadata.name}")) {
			stablePods[p] = true
		}
		if len(stablePods) != 3 {
			t.Fatalf("stable pods %v", stablePods)
		}
		pods := map[string]int{}
		for _, host := range []string{hostOf(s.Status.URL), "iris-predictor-" + n.name + ".example.com"} {
			for i := 0; i < 40; i++ {
				code, variant, pod, err := n.w.predictStd(host, "iris")
				if err != nil {
					t.Fatal(err)
				}
				if code != http.StatusOK || variant != "iris-predictor" || !stablePods[pod] {
					t.Fatalf("request %d to %s: %d from %s/%s (stable pods %v)", i, host, code, variant, pod, stablePods)
				}
				pods[pod]++
			}
		}
		if len(pods) < 2 {
			t.Fatalf("80 requests all went to one pod: %v", pods)
		}
		t.Logf("answers by pod: %v", pods)
	})
}
