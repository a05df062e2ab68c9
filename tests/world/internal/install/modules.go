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

	// Linked so that the build information names the KServe version whose manifests to read.
	"github.com/kserve/kserve/pkg/constants"
)

// Modules are the module-cache folders holding the manifests.
type Modules struct {
	KServe, Serving, Networking, Caching string
}

// FindModules reads the versions of KServe and Knative linked into this binary and asks the go
// command for their folders in the module cache (`go mod download -json` answers from the cache
// when the module is there, as it is after the build).
func FindModules() (Modules, error) {
	_ = constants.KServeNamespace
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return Modules{}, fmt.Errorf("no build information in this binary")
	}
	want := map[string]*string{}
	var m Modules
	want["github.com/kserve/kserve"] = &m.KServe
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
