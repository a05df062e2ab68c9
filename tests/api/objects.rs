//! Stored objects as the API server would return them: a Knative-mode InferenceService in the
//! states of kserve-facts.md §4.5 (deployed, canary starting, canary ready, promoted), pod lists,
//! `Status` errors and watch events.

#![allow(dead_code)]

use serde_json::{Value, json};

pub const NS: &str = "team-a";
pub const NAME: &str = "iris";
/// Our field manager, as the PATCH response's managedFields show it.
pub const US: &str = "kubectl-isvc-canary";
pub const ALICE: &str = "alice-editor";

/// `iris-predictor-0000N`.
pub fn rev(n: u32) -> String {
    format!("{NAME}-predictor-{n:05}")
}

pub fn model(n: u32) -> String {
    format!("gs://models/iris/v{n}")
}

pub fn isvc_path() -> String {
    format!("/apis/serving.kserve.io/v1beta1/namespaces/{NS}/inferenceservices/{NAME}")
}

pub fn isvc_list_path() -> String {
    format!("/apis/serving.kserve.io/v1beta1/namespaces/{NS}/inferenceservices")
}

pub fn pods_path() -> String {
    format!("/api/v1/namespaces/{NS}/pods")
}

pub fn revision_path(n: u32) -> String {
    format!("/apis/serving.knative.dev/v1/namespaces/{NS}/revisions/{}", rev(n))
}

/// One status traffic entry: revision number, percent, `latestRevision`, tag.
#[derive(Clone, Debug)]
pub struct Target(pub u32, pub i64, pub bool, pub Option<&'static str>);

/// An InferenceService, described by what the plugin reads; [`Isvc::json`] renders it whole.
#[derive(Clone, Debug)]
pub struct Isvc {
    pub resource_version: u64,
    pub ctp: Option<i64>,
    pub model: String,
    /// The legacy schema: `spec.predictor.sklearn.storageUri` instead of `spec.predictor.model`.
    pub legacy: bool,
    pub lcr: u32,
    pub lrr: u32,
    pub lro: Option<u32>,
    pub pro: Option<u32>,
    pub traffic: Vec<Target>,
    /// `PredictorConfigurationReady` (and with it PredictorReady, Ready): "True" or "Unknown".
    pub configuration: &'static str,
    /// Extra managedFields entries (manager, time) after the creator's and the controller's.
    pub writers: Vec<(String, String)>,
}

impl Isvc {
    /// §4.5-1: r1 rolled out with model v1, no canaryTrafficPercent.
    pub fn deployed() -> Isvc {
        Isvc {
            resource_version: 100,
            ctp: None,
            model: model(1),
            legacy: false,
            lcr: 1,
            lrr: 1,
            lro: Some(1),
            pro: None,
            traffic: vec![Target(1, 100, true, None)],
            configuration: "True",
            writers: Vec::new(),
        }
    }

    /// §4.5-2 before r2 is ready: model v2 at `ctp`, both entries still resolve to r1.
    pub fn canary_starting(ctp: i64) -> Isvc {
        Isvc {
            ctp: Some(ctp),
            model: model(2),
            lcr: 2,
            traffic: vec![Target(1, ctp, true, None), Target(1, 100 - ctp, false, Some("prev"))],
            configuration: "Unknown",
            ..Isvc::deployed()
        }
    }

    /// §4.5-2/3: r2 ready and serving `ctp`%, r1 (LRO) the rest.
    pub fn canary(ctp: i64) -> Isvc {
        Isvc {
            lrr: 2,
            traffic: vec![Target(2, ctp, true, None), Target(1, 100 - ctp, false, Some("prev"))],
            configuration: "True",
            ..Isvc::canary_starting(ctp)
        }
    }

    /// §4.5-4: r2 promoted (LRO r2, PRO r1), one entry at 100%.
    pub fn promoted() -> Isvc {
        Isvc { ctp: None, lro: Some(2), pro: Some(1), traffic: vec![Target(2, 100, true, None)], ..Isvc::canary(10) }
    }

    pub fn rv(self, resource_version: u64) -> Isvc {
        Isvc { resource_version, ..self }
    }

    pub fn ctp(self, ctp: Option<i64>) -> Isvc {
        Isvc { ctp, ..self }
    }

    pub fn model(self, uri: impl Into<String>) -> Isvc {
        Isvc { model: uri.into(), ..self }
    }

    pub fn legacy(self) -> Isvc {
        Isvc { legacy: true, ..self }
    }

    /// A later write by `manager` (a managedFields entry at `time`).
    pub fn written_by(mut self, manager: &str, time: &str) -> Isvc {
        self.writers.push((manager.to_string(), time.to_string()));
        self
    }

    /// The spec the plugin's PATCH leaves (status unchanged until KServe reconciles).
    pub fn patched_by_us(self) -> Isvc {
        let rv = self.resource_version + 1;
        self.rv(rv).written_by(US, "2026-11-02T10:10:00Z")
    }

    pub fn json(&self) -> Value {
        let mut predictor = if self.legacy {
            json!({"sklearn": {"storageUri": self.model, "protocolVersion": "v1",
                               "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}}}})
        } else {
            json!({"model": {"modelFormat": {"name": "sklearn"}, "storageUri": self.model, "protocolVersion": "v1",
                             "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}}}})
        };
        if let Some(p) = self.ctp {
            predictor["canaryTrafficPercent"] = json!(p);
        }
        let mut managed = vec![
            json!({"manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "serving.kserve.io/v1beta1",
                   "time": "2026-11-02T09:00:00Z", "fieldsType": "FieldsV1",
                   "fieldsV1": {"f:spec": {"f:predictor": {".": {}}}}}),
            json!({"manager": "manager", "operation": "Update", "apiVersion": "serving.kserve.io/v1beta1",
                   "time": "2026-11-02T09:01:00Z", "fieldsType": "FieldsV1", "subresource": "status",
                   "fieldsV1": {"f:status": {".": {}}}}),
        ];
        for (manager, time) in &self.writers {
            managed.push(json!({"manager": manager, "operation": "Update", "apiVersion": "serving.kserve.io/v1beta1",
                                "time": time, "fieldsType": "FieldsV1",
                                "fieldsV1": {"f:spec": {"f:predictor": {"f:canaryTrafficPercent": {}}}}}));
        }
        let url = |tag: Option<&str>| match tag {
            Some(t) => format!("http://{t}-{NAME}-predictor.{NS}.example.com"),
            None => format!("http://{NAME}-predictor.{NS}.example.com"),
        };
        let traffic: Vec<Value> = self
            .traffic
            .iter()
            .map(|Target(n, percent, latest, tag)| {
                let mut t = json!({"revisionName": rev(*n), "percent": percent, "latestRevision": latest});
                if let Some(tag) = tag {
                    t["tag"] = json!(tag);
                    t["url"] = json!(url(Some(*tag)));
                }
                t
            })
            .collect();
        let mut component = json!({
            "latestCreatedRevision": rev(self.lcr),
            "latestReadyRevision": rev(self.lrr),
            "traffic": traffic,
            "url": url(None),
            "address": {"url": format!("http://{NAME}-predictor.{NS}.svc.cluster.local")},
        });
        if let Some(n) = self.lro {
            component["latestRolledoutRevision"] = json!(rev(n));
        }
        if let Some(n) = self.pro {
            component["previousRolledoutRevision"] = json!(rev(n));
        }
        let cond = |type_: &str, status: &str| {
            let mut c = json!({"type": type_, "status": status, "lastTransitionTime": "2026-11-02T09:02:00Z"});
            if status != "True" {
                c["reason"] = json!("RevisionMissing");
                c["message"] =
                    json!(format!("Configuration \"{NAME}-predictor\" is waiting for a Revision to become ready."));
            }
            c
        };
        let c = self.configuration;
        let (target_state, transition) = if c == "True" { ("Loaded", "UpToDate") } else { ("Pending", "InProgress") };
        json!({
            "apiVersion": "serving.kserve.io/v1beta1",
            "kind": "InferenceService",
            "metadata": {
                "name": NAME,
                "namespace": NS,
                "uid": "6f1c3f0e-9a51-4c2e-9d43-2b8f3c1d7a10",
                "resourceVersion": self.resource_version.to_string(),
                "generation": 3,
                "creationTimestamp": "2026-11-02T09:00:00Z",
                "finalizers": ["inferenceservice.finalizers"],
                "managedFields": managed,
            },
            "spec": {"predictor": predictor},
            "status": {
                "url": format!("http://{NAME}.{NS}.example.com"),
                "address": {"url": format!("http://{NAME}.{NS}.svc.cluster.local")},
                "deploymentMode": "Serverless",
                "observedGeneration": 3,
                "components": {"predictor": component},
                "conditions": [
                    cond("IngressReady", "True"),
                    cond("LatestDeploymentReady", c),
                    cond("PredictorConfigurationReady", c),
                    cond("PredictorReady", c),
                    cond("PredictorRouteReady", "True"),
                    cond("Ready", c),
                    cond("RoutesReady", "True"),
                ],
                "modelStatus": {
                    "states": {"activeModelState": "Loaded", "targetModelState": target_state},
                    "transitionStatus": transition,
                    "copies": {"failedCopies": 0, "totalCopies": 1},
                },
            }
        })
    }
}

/// A pod list with one ready pod per revision, labelled as Knative labels them.
pub fn pods(revisions: &[u32]) -> Value {
    let items: Vec<Value> = revisions
        .iter()
        .map(|n| {
            json!({
                "metadata": {
                    "name": format!("{}-deployment-7c9d5b6f4-{n}x2kq", rev(*n)),
                    "namespace": NS,
                    "labels": {
                        "serving.knative.dev/revision": rev(*n),
                        "serving.kserve.io/inferenceservice": NAME,
                        "component": "predictor",
                    },
                },
                "status": {
                    "phase": "Running",
                    "conditions": [
                        {"type": "Initialized", "status": "True"},
                        {"type": "Ready", "status": "True"},
                        {"type": "ContainersReady", "status": "True"},
                        {"type": "PodScheduled", "status": "True"},
                    ],
                },
            })
        })
        .collect();
    json!({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "900"}, "items": items})
}

/// A `Status` error body.
pub fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "details": {"name": NAME, "group": "serving.kserve.io",
           "kind": "inferenceservices"}, "code": code})
}

/// The API server's 409 for a write whose resourceVersion is stale.
pub fn conflict() -> Value {
    status(
        409,
        "Conflict",
        &format!(
            "Operation cannot be fulfilled on inferenceservices.serving.kserve.io \"{NAME}\": the object has been modified; \
             please apply your changes to the latest version and try again"
        ),
    )
}

/// The API server's 422 for a JSON Patch whose `test` failed: `NewGenericServerResponse(422, ...)`
/// in apiserver's patch handler, which keeps none of the failing path in the message.
pub fn json_patch_test_failed() -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": "the server rejected our request due to an error in our request",
           "reason": "Invalid", "details": {}, "code": 422})
}

/// A watch event line.
pub fn event(kind: &str, object: &Isvc) -> Value {
    json!({"type": kind, "object": object.json()})
}

/// The watch's "410 Gone": the resourceVersion it was opened from is too old.
pub fn expired(rv: u64) -> Value {
    json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": format!("too old resource version: {rv} ({})", rv + 50), "reason": "Expired", "code": 410}})
}
