// Package install puts into a fresh cluster what KServe's and Knative's controllers need: their
// CRDs, ConfigMaps, the sklearn ClusterServingRuntime, KServe's admission webhooks, namespaces and
// the activator Service. Every manifest is read at run time from the Go module cache, from the very
// module versions this binary was built with; nothing is copied into the repository.
package install

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"runtime/debug"
)

// Modules are the module-cache folders holding the manifests. GatewayAPI is set only for a KServe
// release that routes Standard-mode InferenceServices with the Gateway API (see GatewayAPIVersion).
type Modules struct {
	KServe, Serving, Networking, Caching, GatewayAPI string
	// Release is the KServe release whose manager runs (v0.17.0, v0.20.0).
	Release string
}

// Releases are the KServe releases the world can run, each built from its own module under
// tests/kserve/<release> into kserve-manager-<release>.
var Releases = []string{"v0.20.0", "v0.17.0"}

// GatewayAPIVersion is the sigs.k8s.io/gateway-api version a KServe release requires (its
// go.mod), whose standard-channel CRDs the world installs for Standard mode; "" when the world
// runs that release without the Gateway API.
func GatewayAPIVersion(release string) string {
	switch release {
	case "v0.20.0":
		return "v1.5.1"
	case "v0.17.0":
		return "v1.4.2-0.20260116062110-0d0ca872766e"
	}
	return ""
}

// FindModules finds KServe's folder for the release named (the manager is a binary of its own,
// not linked here), reads the versions of Knative linked into this binary, and asks the go command
// for their folders in the module cache (`go mod download -json` answers from the cache when the
// module is there, as it is after the build).
func FindModules(release string) (Modules, error) {
	known := false
	for _, r := range Releases {
		known = known || r == release
	}
	if !known {
		return Modules{}, fmt.Errorf("KServe %q: the world runs %v", release, Releases)
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return Modules{}, fmt.Errorf("no build information in this binary")
	}
	m := Modules{Release: release}
	var err error
	if m.KServe, err = moduleDir("github.com/kserve/kserve", release); err != nil {
		return Modules{}, err
	}
	if v := GatewayAPIVersion(release); v != "" {
		if m.GatewayAPI, err = moduleDir("sigs.k8s.io/gateway-api", v); err != nil {
			return Modules{}, err
		}
	}
	want := map[string]*string{}
	want["knative.dev/serving"] = &m.Serving
	want["knative.dev/networking"] = &m.Networking
	want["knative.dev/caching"] = &m.Caching
	for _, dep := range info.Deps {
		dst, ok := want[dep.Path]
		if !ok {
			continue
		}
		mod := dep
		if dep.Replace != nil {
			mod = dep.Replace
		}
		dir, err := moduleDir(mod.Path, mod.Version)
		if err != nil {
			return Modules{}, err
		}
		*dst = dir
		delete(want, dep.Path)
	}
	for path := range want {
		return Modules{}, fmt.Errorf("module %s is not linked into this binary", path)
	}
	return m, nil
}

func moduleDir(path, version string) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", path+"@"+version)
	cmd.Dir = "/" // outside any module: the answer must not depend on the working directory
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %v: %s%s", path, version, err, errb.String(), out.String())
	}
	var res struct{ Dir, Error string }
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return "", err
	}
	if res.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: %s", path, version, res.Error)
	}
	return res.Dir, nil
}
