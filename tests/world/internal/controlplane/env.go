package controlplane

import (
	"encoding/json"
	"fmt"
	"os"
)

// EnvVar names the env.json of the test run's cluster; tests/run.sh sets it.
const EnvVar = "ISVC_CANARY_TEST_ENV"

// Env is what `world up` writes to DIR/env.json and prints after "READY ".
type Env struct {
	StateDir    string      `json:"stateDir"`
	Server      string      `json:"server"` // https://127.0.0.1:PORT
	Kubeconfigs Kubeconfigs `json:"kubeconfigs"`
	Users       Users       `json:"users"`
	Ingress     string      `json:"ingress"` // host:port of the fake ingress
	// KServe is the KServe release whose manager runs (v0.20.0, v0.17.0): `world up --kserve`.
	KServe string `json:"kserve"`
	// Prometheus is the world's Prometheus (http://127.0.0.1:PORT), scraping what the ingress
	// exports per revision; empty when tests/build-go.sh did not build it.
	Prometheus string `json:"prometheus,omitempty"`
	AuditLog   string `json:"auditLog"`
	PID        int    `json:"pid"` // the launcher's
}

// Kubeconfigs are the paths of the test users' kubeconfigs.
type Kubeconfigs struct {
	Admin   string `json:"admin"`   // client certificate, system:masters
	Limited string `json:"limited"` // client certificate, no bindings
	Token   string `json:"token"`   // bearer token, no bindings
}

// Users are the names the API server knows the non-admin test users by (for RoleBindings).
type Users struct {
	Limited string `json:"limited"`
	Token   string `json:"token"`
}

// Fataler is the part of testing.TB that LoadEnv needs.
type Fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// LoadEnv reads the shared cluster's env.json named by ISVC_CANARY_TEST_ENV. Without it the test
// fails (never skips): the cluster is started once per run by tests/run.sh.
func LoadEnv(t Fataler) *Env {
	t.Helper()
	path := os.Getenv(EnvVar)
	if path == "" {
		t.Fatalf("%s is not set: run tests/run.sh (it starts the test cluster and runs the tests against it)", EnvVar)
	}
	env, err := ReadEnv(path)
	if err != nil {
		t.Fatalf("%v: run tests/run.sh", err)
	}
	return env
}

// ReadEnv reads an env.json.
func ReadEnv(path string) (*Env, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var env Env
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &env, nil
}
