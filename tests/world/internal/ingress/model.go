package ingress

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"strings"
)

// Classes is the number of distinct predictions (the iris data set has three).
const Classes = 3

// Predict is the fake model: a class in 0..Classes-1 derived from a hash of the revision name and
// the instance (its canonical JSON), so the same revision always answers the same thing.
func Predict(revision string, instance any) int64 {
	b, _ := json.Marshal(instance) // map keys are sorted: canonical enough
	h := fnv.New64a()
	h.Write([]byte(revision))
	h.Write([]byte{0})
	h.Write(b)
	return int64(h.Sum64() % Classes)
}

type reply struct {
	status int
	body   any
}

func errorReply(status int, format string, args ...any) reply {
	return reply{status, map[string]string{"error": fmt.Sprintf(format, args...)}}
}

// Answer serves KServe's V1 and V2 inference protocols for one model of one revision.
// model is the InferenceService's name (KServe's model servers use it as the model name); empty
// accepts any name.
func Answer(method, path string, body []byte, revision, model string) (int, []byte) {
	r := answer(method, path, body, revision, model)
	out, _ := json.Marshal(r.body)
	return r.status, append(out, '\n')
}

func answer(method, path string, body []byte, revision, model string) reply {
	get, post := method == http.MethodGet || method == http.MethodHead, method == http.MethodPost
	known := func(name string) bool { return model == "" || name == model }
	notFound := func(name string) reply {
		return errorReply(http.StatusNotFound, "Model with name %s does not exist.", name)
	}
	names := []string{model}
	if model == "" {
		names = []string{}
	}

	switch {
	case path == "/" && get:
		return reply{200, map[string]string{"status": "alive"}}
	case path == "/v1/models" && get:
		return reply{200, map[string]any{"models": names}}
	case path == "/v2/health/live" && get:
		return reply{200, map[string]bool{"live": true}}
	case path == "/v2/health/ready" && get:
		return reply{200, map[string]bool{"ready": true}}
	case path == "/v2" && get:
		return reply{200, map[string]any{"name": "kserve", "version": "sim", "extensions": []string{}}}

	case strings.HasPrefix(path, "/v1/models/"):
		rest := strings.TrimPrefix(path, "/v1/models/")
		if name, ok := strings.CutSuffix(rest, ":predict"); ok {
			if !post {
				return errorReply(http.StatusMethodNotAllowed, "method %s not allowed", method)
			}
			if !known(name) {
				return notFound(name)
			}
			return predictV1(body, revision)
		}
		if strings.Contains(rest, "/") || strings.Contains(rest, ":") {
			break
		}
		if !get {
			return errorReply(http.StatusMethodNotAllowed, "method %s not allowed", method)
		}
		if !known(rest) {
			return notFound(rest)
		}
		return reply{200, map[string]any{"name": rest, "ready": true}}

	case strings.HasPrefix(path, "/v2/models/"):
		parts := strings.Split(strings.TrimPrefix(path, "/v2/models/"), "/")
		name := parts[0]
		// Optional /versions/<v> segment.
		if len(parts) >= 3 && parts[1] == "versions" {
			parts = append([]string{name}, parts[3:]...)
		}
		switch {
		case len(parts) == 2 && parts[1] == "infer":
			if !post {
				return errorReply(http.StatusMethodNotAllowed, "method %s not allowed", method)
			}
			if !known(name) {
				return notFound(name)
			}
			return inferV2(body, revision, name)
		case len(parts) == 2 && parts[1] == "ready" && get:
			if !known(name) {
				return notFound(name)
			}
			return reply{200, map[string]any{"name": name, "ready": true}}
		case len(parts) == 1 && get:
			if !known(name) {
				return notFound(name)
			}
			return reply{200, map[string]any{"name": name, "versions": nil, "platform": "", "inputs": []any{}, "outputs": []any{}}}
		}
	}
	return errorReply(http.StatusNotFound, "Not Found")
}

func predictV1(body []byte, revision string) reply {
	var req map[string]json.RawMessage
	if err := json.Unmarshal(body, &req); err != nil {
		return errorReply(http.StatusBadRequest, "Unrecognized request format: %v", err)
	}
	raw, ok := req["instances"]
	if !ok {
		raw, ok = req["inputs"]
	}
	if !ok {
		return errorReply(http.StatusBadRequest, `Expected "instances" or "inputs" in the request body`)
	}
	var instances []any
	if err := json.Unmarshal(raw, &instances); err != nil {
		return errorReply(http.StatusBadRequest, `Expected "instances" to be a list`)
	}
	predictions := make([]int64, len(instances))
	for i, inst := range instances {
		predictions[i] = Predict(revision, inst)
	}
	return reply{200, map[string]any{"predictions": predictions}}
}

type v2Tensor struct {
	Name     string  `json:"name"`
	Shape    []int64 `json:"shape"`
	Datatype string  `json:"datatype"`
	Data     any     `json:"data"`
}

type v2Request struct {
	ID     string     `json:"id"`
	Inputs []v2Tensor `json:"inputs"`
}

func inferV2(body []byte, revision, name string) reply {
	var req v2Request
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil {
		return errorReply(http.StatusBadRequest, "Unrecognized request format: %v", err)
	}
	if len(req.Inputs) == 0 {
		return errorReply(http.StatusBadRequest, `Expected "inputs" in the request body`)
	}
	in := req.Inputs[0]
	flat := flatten(in.Data, nil)
	rows := 1
	if len(in.Shape) > 0 && in.Shape[0] > 0 {
		rows = int(in.Shape[0])
	}
	if len(flat)%rows != 0 {
		return errorReply(http.StatusBadRequest, "data of %d values does not fit shape %v", len(flat), in.Shape)
	}
	width := len(flat) / rows
	data := make([]int64, rows)
	for i := range data {
		data[i] = Predict(revision, flat[i*width:(i+1)*width])
	}
	id := req.ID
	if id == "" {
		id = newID()
	}
	return reply{200, map[string]any{
		"model_name":    name,
		"model_version": nil,
		"id":            id,
		"parameters":    nil,
		"outputs": []map[string]any{{
			"name": "output-0", "shape": []int{rows}, "datatype": "INT64", "parameters": nil, "data": data,
		}},
	}}
}

func flatten(v any, into []any) []any {
	if list, ok := v.([]any); ok {
		for _, x := range list {
			into = flatten(x, into)
		}
		return into
	}
	return append(into, v)
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
