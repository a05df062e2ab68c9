//! What the scripted API server answers: a Knative-mode InferenceService in a few states of a
//! canary (described by [`State`]), the server-rendered Tables `status` reads (the
//! InferenceService's printer columns, the pods), the Knative revisions with their models, and
//! watch events.

#![allow(dead_code)]

use serde_json::{Value, json};

pub const NS: &str = "team-a";
pub const NAME: &str = "iris";
/// The annotation KServe puts the model URI in on a Knative Revision.
const SOURCE_URI: &str = "internal.serving.kserve.io/storage-initializer-sourceuri";

/// `NAME-predictor-0000N`.
pub fn rev(name: &str, n: u32) -> String {
    format!("{name}-predictor-{n:05}")
}

pub fn model(n: u32) -> String {
    format!("gs://kserve-models/{NAME}/sklearn/v{n}")
}

pub fn isvc_list_path() -> String {
    format!("/apis/serving.kserve.io/v1beta1/namespaces/{NS}/inferenceservices")
}

pub fn isvc_path(name: &str) -> String {
    format!("{}/{name}", isvc_list_path())
}

pub fn revisions_path() -> String {
    format!("/apis/serving.knative.dev/v1/namespaces/{NS}/revisions")
}

pub fn pods_path() -> String {
    format!("/api/v1/namespaces/{NS}/pods")
}

/// One status traffic entry: revision number, percent, `latestRevision`, tag.
#[derive(Clone, Debug)]
pub struct Entry(pub u32, pub i64, pub bool, pub Option<&'static str>);

/// One pod: revision number, READY, STATUS.
#[derive(Clone, Debug)]
pub struct Pod(pub u32, pub &'static str, pub &'static str);

/// An InferenceService as the plugin reads it, and its pods.
#[derive(Clone, Debug)]
pub struct State {
    pub name: &'static str,
    pub resource_version: u64,
    pub ctp: Option<i64>,
    /// The model in the spec: `model(n)`.
    pub model: u32,
    pub lcr: u32,
    pub lrr: u32,
    pub lro: Option<u32>,
    pub pro: Option<u32>,
    pub traffic: Vec<Entry>,
    /// The configuration, component and Ready conditions: "True" or "Unknown".
    pub ready: &'static str,
    pub pods: Vec<Pod>,
}

impl State {
    /// r1 rolled out with model v1, all traffic on it.
    pub fn deployed() -> State {
        State {
            name: NAME,
            resource_version: 100,
            ctp: None,
            model: 1,
            lcr: 1,
            lrr: 1,
            lro: Some(1),
            pro: None,
            traffic: vec![Entry(1, 100, true, None)],
            ready: "True",
            pods: vec![Pod(1, "2/2", "Running")],
        }
    }

    /// Model v2 at `ctp`%, r2 created but not ready: both entries still on r1.
    pub fn canary_starting(ctp: i64) -> State {
        State {
            resource_version: 120,
            ctp: Some(ctp),
            model: 2,
            lcr: 2,
            traffic: vec![Entry(1, ctp, true, None), Entry(1, 100 - ctp, false, Some("prev"))],
            ready: "Unknown",
            pods: vec![Pod(1, "2/2", "Running"), Pod(2, "0/2", "Init:0/1")],
            ..State::deployed()
        }
    }

    /// r2 ready and serving `ctp`%, r1 the rest.
    pub fn canary(ctp: i64) -> State {
        State {
            resource_version: 130,
            lrr: 2,
            traffic: vec![Entry(2, ctp, true, Some("latest")), Entry(1, 100 - ctp, false, Some("prev"))],
            ready: "True",
            pods: vec![Pod(1, "2/2", "Running"), Pod(2, "2/2", "Running")],
            ..State::canary_starting(ctp)
        }
    }

    /// r2 promoted: one entry at 100%, r1's pod going away.
    pub fn promoted() -> State {
        State {
            resource_version: 140,
            ctp: None,
            lro: Some(2),
            pro: Some(1),
            traffic: vec![Entry(2, 100, true, None)],
            pods: vec![Pod(2, "2/2", "Running"), Pod(1, "2/2", "Terminating")],
            ..State::canary(10)
        }
    }

    pub fn named(self, name: &'static str) -> State {
        State { name, ..self }
    }

    pub fn ctp(self, ctp: Option<i64>) -> State {
        State { ctp, ..self }
    }

    pub fn rv(self, resource_version: u64) -> State {
        State { resource_version, ..self }
    }

    /// The object, as GET, LIST, PATCH and watch events return it.
    pub fn object(&self) -> Value {
        let name = self.name;
        let mut predictor = json!({"model": {"modelFormat": {"name": "sklearn"}, "storageUri": model(self.model),
                                             "protocolVersion": "v1"}});
        if let Some(p) = self.ctp {
            predictor["canaryTrafficPercent"] = json!(p);
        }
        let host = |tag: Option<&str>| match tag {
            Some(t) => format!("http://{t}-{name}-predictor-{NS}.serving.example.com"),
            None => format!("http://{name}-predictor-{NS}.serving.example.com"),
        };
        let traffic: Vec<Value> = self
            .traffic
            .iter()
            .map(|Entry(n, percent, latest, tag)| {
                let mut t = json!({"revisionName": rev(name, *n), "percent": percent, "latestRevision": latest});
                if let Some(tag) = tag {
                    t["tag"] = json!(tag);
                    t["url"] = json!(host(Some(tag)));
                }
                t
            })
            .collect();
        let mut component = json!({
            "latestCreatedRevision": rev(name, self.lcr),
            "latestReadyRevision": rev(name, self.lrr),
            "traffic": traffic,
            "url": host(None),
        });
        if let Some(n) = self.lro {
            component["latestRolledoutRevision"] = json!(rev(name, n));
        }
        if let Some(n) = self.pro {
            component["previousRolledoutRevision"] = json!(rev(name, n));
        }
        let cond = |type_: &str, status: &str| {
            let mut c = json!({"type": type_, "status": status, "lastTransitionTime": "2026-11-02T09:02:00Z"});
            if status != "True" {
                c["reason"] = json!("RevisionMissing");
                c["message"] = json!(format!(
                    "Configuration \"{name}-predictor\" is waiting for a Revision to become ready: \
                     revision \"{}\" has 0 ready pods of 1 requested",
                    rev(name, self.lcr)
                ));
            }
            c
        };
        let r = self.ready;
        json!({
            "apiVersion": "serving.kserve.io/v1beta1",
            "kind": "InferenceService",
            "metadata": {
                "name": name,
                "namespace": NS,
                "uid": "6f1c3f0e-9a51-4c2e-9d43-2b8f3c1d7a10",
                "resourceVersion": self.resource_version.to_string(),
                "generation": 3,
                "creationTimestamp": "2026-11-02T09:00:00Z",
                "managedFields": [
                    {"manager": "kubectl-client-side-apply", "operation": "Update",
                     "apiVersion": "serving.kserve.io/v1beta1", "time": "2026-11-02T09:00:00Z",
                     "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:predictor": {".": {}}}}},
                ],
            },
            "spec": {"predictor": predictor},
            "status": {
                "url": format!("http://{name}-{NS}.serving.example.com"),
                "deploymentMode": "Serverless",
                "observedGeneration": 3,
                "components": {"predictor": component},
                "conditions": [
                    cond("IngressReady", "True"),
                    cond("PredictorConfigurationReady", r),
                    cond("PredictorReady", r),
                    cond("PredictorRouteReady", "True"),
                    cond("Ready", r),
                ],
            }
        })
    }

    /// The InferenceService Table with the object (`status` asks with `includeObject=Object`):
    /// KServe's printer columns, PrevRolledoutRevision and LatestReadyRevision at priority 1.
    pub fn table(&self) -> Value {
        table(&[self])
    }

    /// The pods Table, with objects labelled as Knative labels them.
    pub fn pod_table(&self) -> Value {
        let rows: Vec<Value> = self
            .pods
            .iter()
            .map(|Pod(n, ready, status)| {
                let pod = format!("{}-deployment-7c9d5b6f4-x2kq{n}", rev(self.name, *n));
                json!({
                    "cells": [pod, ready, status, 0, "4d23h", "10.244.1.17", "worker-1", null, null],
                    "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": {
                        "name": pod, "namespace": NS,
                        "labels": {"serving.knative.dev/revision": rev(self.name, *n),
                                   "serving.kserve.io/inferenceservice": self.name, "component": "predictor"}}},
                })
            })
            .collect();
        let col = |name: &str, type_: &str, priority: i64| json!({"name": name, "type": type_, "format": "", "description": "", "priority": priority});
        json!({
            "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": "900"},
            "columnDefinitions": [col("Name", "string", 0), col("Ready", "string", 0), col("Status", "string", 0),
                                  col("Restarts", "string", 0), col("Age", "string", 0), col("IP", "string", 1),
                                  col("Node", "string", 1), col("Nominated Node", "string", 1),
                                  col("Readiness Gates", "string", 1)],
            "rows": rows,
        })
    }

    /// The Knative revisions of this InferenceService up to its LCR, each with its model.
    pub fn revisions(&self) -> Value {
        let items: Vec<Value> = (1..=self.lcr)
            .map(|n| {
                let ready = if n <= self.lrr { "True" } else { "Unknown" };
                json!({"apiVersion": "serving.knative.dev/v1", "kind": "Revision",
                       "metadata": {"name": rev(self.name, n), "namespace": NS,
                                    "annotations": {SOURCE_URI: model(n)}},
                       "status": {"conditions": [{"type": "Ready", "status": ready}]}})
            })
            .collect();
        json!({"apiVersion": "serving.knative.dev/v1", "kind": "RevisionList", "metadata": {}, "items": items})
    }
}

/// An InferenceService Table of several.
pub fn table(states: &[&State]) -> Value {
    let rows: Vec<Value> = states
        .iter()
        .map(|s| {
            let latest = s.traffic.iter().find(|e| e.2).map(|e| e.1);
            let prev = s.traffic.iter().find(|e| e.3 == Some("prev")).map(|e| e.1);
            json!({
                "cells": [s.name, format!("http://{}-{NS}.serving.example.com", s.name), s.ready, prev, latest,
                          s.pro.map(|n| rev(s.name, n)), rev(s.name, s.lrr), "5d2h"],
                "object": s.object(),
            })
        })
        .collect();
    let col = |name: &str, type_: &str, priority: i64| json!({"name": name, "type": type_, "format": "", "description": "", "priority": priority});
    json!({
        "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": "901"},
        "columnDefinitions": [col("Name", "string", 0), col("URL", "string", 0), col("Ready", "string", 0),
                              col("Prev", "integer", 0), col("Latest", "integer", 0),
                              col("PrevRolledoutRevision", "string", 1), col("LatestReadyRevision", "string", 1),
                              col("Age", "date", 0)],
        "rows": rows,
    })
}

/// An InferenceService list (the LIST without NAME).
pub fn list(states: &[&State]) -> Value {
    let items: Vec<Value> = states.iter().map(|s| s.object()).collect();
    json!({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceServiceList",
           "metadata": {"resourceVersion": "902"}, "items": items})
}

/// A watch event line.
pub fn event(kind: &str, state: &State) -> Value {
    json!({"type": kind, "object": state.object()})
}
