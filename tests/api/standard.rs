//! Standard mode (contract, "Standard mode"; KServe 0.20 `spec.canary`): the exact merge patches
//! of `set`, `promote` and `rollback`, a 409 retried with the whole canary list, a webhook's 422
//! shown verbatim, a `spec.canary` the API server pruned (KServe < 0.20), `status` with the
//! routing KServe wrote, and waits that end on the done rule or exit 4 on a crash-looping canary.

use serde_json::{Value, json};

use crate::objects::{NAME, NS, conflict, isvc_path, status};
use crate::plugin::run;
use crate::stub::{End, Reply, Route, Stub, Watch};

const M1: &str = "gs://models/iris/v1";
const M2: &str = "gs://models/iris/v2";
const M3: &str = "gs://models/iris/v3";

fn entry(name: &str, uri: &str, percent: i64) -> Value {
    json!({"predictor": {"name": name, "model": {"modelFormat": {"name": "sklearn"}, "storageUri": uri}},
           "trafficPercent": percent})
}

/// A Standard-mode InferenceService (rv `rv`) with these canaries and canary statuses.
fn object(rv: u64, canaries: &[Value], statuses: &[Value]) -> Value {
    let mut v = json!({
        "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
        "metadata": {"name": NAME, "namespace": NS, "resourceVersion": rv.to_string(), "generation": 2,
                     "annotations": {"serving.kserve.io/deploymentMode": "Standard"}},
        "spec": {"predictor": {"minReplicas": 4,
                               "model": {"modelFormat": {"name": "sklearn"}, "storageUri": M1}}},
        "status": {"deploymentMode": "Standard", "observedGeneration": 2,
                   "url": format!("http://{NAME}.{NS}.example.com"),
                   "conditions": [{"type": "PredictorReady", "status": "True"}, {"type": "Ready", "status": "True"},
                                  {"type": "IngressReady", "status": "True"}]}
    });
    if !canaries.is_empty() {
        v["spec"]["canary"] = json!(canaries);
    }
    if !statuses.is_empty() {
        v["status"]["canaryStatuses"] = json!(statuses);
    }
    v
}

fn canary_status(name: &str, ready: bool, percent: i64) -> Value {
    json!({"name": name, "ready": ready, "trafficPercent": percent, "modelStatus": {"transitionStatus": ""}})
}

fn deployment(name: &str, desired: i64, ready: i64) -> Value {
    json!({"metadata": {"name": name, "namespace": NS, "generation": 1},
           "spec": {"replicas": desired},
           "status": {"observedGeneration": 1, "replicas": desired, "updatedReplicas": desired, "readyReplicas": ready}})
}

fn deployments(items: &[Value]) -> Value {
    json!({"kind": "DeploymentList", "apiVersion": "apps/v1", "metadata": {}, "items": items})
}

fn deployments_path() -> String {
    format!("/apis/apps/v1/namespaces/{NS}/deployments")
}

fn pods_path() -> String {
    format!("/api/v1/namespaces/{NS}/pods")
}

fn pod(name: &str, waiting: Option<&str>) -> Value {
    let state = match waiting {
        Some(reason) => json!({"waiting": {"reason": reason, "message": "back-off 10s restarting failed container"}}),
        None => json!({"running": {}}),
    };
    json!({"metadata": {"name": name, "namespace": NS},
           "status": {"phase": "Running", "containerStatuses": [{"name": "kserve-container", "state": state}]}})
}

fn pod_list(items: &[Value]) -> Value {
    json!({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items})
}

const MERGE: &str = "application/merge-patch+json";

#[test]
fn set_adds_one_canary_entry_with_the_stable_format() {
    let stub = Stub::start();
    stub.on(Route::get(isvc_path()), [Reply::ok(object(100, &[], &[]))]);
    stub.on(Route::patch(isvc_path()), [Reply::ok(object(101, &[entry("v2", M2, 20)], &[]))]);

    let run = run(&stub, &["set", NAME, "20", "--model-uri", M2, "--yes"]);

    run.code(0).stdout_is("inferenceservice.serving.kserve.io/iris canary set\n").all_answered();
    assert_eq!(run.isvc_verbs(), ["GET", "PATCH"], "{}", run.describe());
    let patch = run.patches()[0];
    assert_eq!(patch.content_type(), Some(MERGE));
    assert_eq!(patch.param("fieldManager"), Some("kubectl-isvc-canary"));
    assert_eq!(
        patch.json(),
        json!({"metadata": {"resourceVersion": "100"}, "spec": {"canary": [entry("v2", M2, 20)]}}),
        "{}",
        run.describe()
    );
}

#[test]
fn a_conflict_is_retried_with_the_whole_canary_list() {
    let stub = Stub::start();
    let two = [entry("v2", M2, 20), entry("v3", M3, 10)];
    stub.on(Route::get(isvc_path()), [Reply::ok(object(100, &two, &[])), Reply::ok(object(101, &two, &[]))]);
    let written = object(102, &[entry("v2", M2, 20), entry("v3", M3, 30)], &[]);
    stub.on(Route::patch(isvc_path()), [Reply::status(409, conflict()), Reply::ok(written)]);

    let run = run(&stub, &["set", NAME, "30", "--canary-name", "v3", "--yes"]);

    run.code(0).all_answered();
    assert_eq!(run.isvc_verbs(), ["GET", "PATCH", "GET", "PATCH"], "{}", run.describe());
    let patches = run.patches();
    let want = |rv: &str| json!({"metadata": {"resourceVersion": rv}, "spec": {"canary": [entry("v2", M2, 20), entry("v3", M3, 30)]}});
    assert_eq!(patches[0].json(), want("100"), "{}", run.describe());
    assert_eq!(patches[1].json(), want("101"), "the retry carries the whole list\n{}", run.describe());
}

#[test]
fn several_canaries_need_a_name() {
    let stub = Stub::start();
    stub.on(Route::get(isvc_path()), [Reply::ok(object(100, &[entry("v2", M2, 20), entry("v3", M3, 10)], &[]))]);

    let run = run(&stub, &["set", NAME, "30", "--yes"]);

    run.code(7).stderr_has("--canary-name").all_answered();
    assert!(run.patches().is_empty(), "{}", run.describe());
}

#[test]
fn promote_makes_the_canary_the_stable_predictor() {
    let stub = Stub::start();
    let before = object(100, &[entry("v2", M2, 25)], &[canary_status("v2", true, 25)]);
    stub.on(Route::get(isvc_path()), [Reply::ok(before)]);
    let mut after = object(101, &[], &[]);
    after["spec"]["predictor"]["name"] = json!("v2");
    after["spec"]["predictor"]["model"]["storageUri"] = json!(M2);
    stub.on(Route::patch(isvc_path()), [Reply::ok(after)]);

    let run = run(&stub, &["promote", NAME, "--yes"]);

    run.code(0).stdout_is("inferenceservice.serving.kserve.io/iris promoted\n").all_answered();
    assert_eq!(
        run.patches()[0].json(),
        json!({"metadata": {"resourceVersion": "100"},
               "spec": {"canary": null, "predictor": {"name": "v2", "model": {"storageUri": M2}}}}),
        "{}",
        run.describe()
    );
}

#[test]
fn rollback_removes_the_entry() {
    let stub = Stub::start();
    stub.on(Route::get(isvc_path()), [Reply::ok(object(100, &[entry("v2", M2, 25)], &[]))]);
    stub.on(Route::patch(isvc_path()), [Reply::ok(object(101, &[], &[]))]);

    let run = run(&stub, &["rollback", NAME, "--yes"]);

    run.code(0).stdout_is("inferenceservice.serving.kserve.io/iris rolled back\n").all_answered();
    assert_eq!(
        run.patches()[0].json(),
        json!({"metadata": {"resourceVersion": "100"}, "spec": {"canary": null}}),
        "{}",
        run.describe()
    );
}

#[test]
fn a_webhook_refusal_of_an_untouched_field_is_shown_verbatim() {
    let stub = Stub::start();
    stub.on(Route::get(isvc_path()), [Reply::ok(object(100, &[], &[]))]);
    let message = "admission webhook \"inferenceservice.kserve-webhook-server.validator\" denied the request: \
                   the PYTHONPATH environment variable is not allowed on container kserve-container";
    stub.on(Route::patch(isvc_path()), [Reply::status(422, status(422, "Invalid", message))]);

    let run = run(&stub, &["set", NAME, "20", "--model-uri", M2, "--yes"]);

    run.code(7).stderr_has(message).stderr_has("invalid under this KServe release").all_answered();
    assert_eq!(run.isvc_verbs(), ["GET", "PATCH"], "no retry of a refusal\n{}", run.describe());
}

#[test]
fn a_pruned_spec_canary_says_kserve_is_too_old() {
    let stub = Stub::start();
    stub.on(Route::get(isvc_path()), [Reply::ok(object(100, &[], &[]))]);
    // KServe < 0.20: the CRD has no spec.canary, the API server drops it and stores nothing new.
    stub.on(Route::patch(isvc_path()), [Reply::ok(object(100, &[], &[]))]);

    let run = run(&stub, &["set", NAME, "20", "--model-uri", M2, "--yes"]);

    run.code(7).stderr_has("has no spec.canary (needs v0.20+)").all_answered();
    assert_eq!(run.isvc_verbs(), ["GET", "PATCH"], "{}", run.describe());
}

#[test]
fn tag_routing_is_refused_saying_what_exists_instead() {
    let stub = Stub::start();
    stub.on(Route::get(isvc_path()), [Reply::ok(object(100, &[], &[]))]);

    let run = run(&stub, &["tag-routing", NAME, "on", "--yes"]);

    run.code(7).stderr_has("Standard mode").stderr_has("iris-NAME-predictor").all_answered();
    assert!(run.patches().is_empty());
}

#[test]
fn set_wait_ends_when_the_canary_is_ready_and_both_deployments_rolled_out() {
    let stub = Stub::start();
    stub.on(Route::get(isvc_path()), [Reply::ok(object(100, &[], &[]))]);
    let written = object(101, &[entry("v2", M2, 25)], &[]);
    stub.on(Route::patch(isvc_path()), [Reply::ok(written.clone())]);
    let sized = object(102, &[entry("v2", M2, 25)], &[canary_status("v2", false, 25)]);
    let ready = object(103, &[entry("v2", M2, 25)], &[canary_status("v2", true, 25)]);
    let watch = Watch::new()
        .event(100, json!({"type": "MODIFIED", "object": written}))
        .event(100, json!({"type": "MODIFIED", "object": sized}))
        .event(300, json!({"type": "MODIFIED", "object": ready}))
        .end(End::Hold);
    stub.on(Route::watch(format!("/apis/serving.kserve.io/v1beta1/namespaces/{NS}/inferenceservices")), [watch]);
    // KServe's test: 4 stable + 25% ⇒ 3 + 1.
    stub.on(
        Route::get(deployments_path()),
        [Reply::ok(deployments(&[deployment("iris-predictor", 3, 3), deployment("iris-v2-predictor", 1, 1)]))],
    );
    stub.on(Route::get(pods_path()), [Reply::ok(pod_list(&[pod("iris-v2-predictor-5d9c-x1", None)]))]);

    let run = run(
        &stub,
        &[
            "set",
            NAME,
            "25",
            "--model-uri",
            M2,
            "--wait",
            "--timeout",
            "20s",
            "--fail-window",
            "1s",
            "--yes",
            "-o",
            "json",
        ],
    );

    run.code(0);
    assert_eq!(run.json().pointer("/metadata/resourceVersion"), Some(&json!("103")), "{}", run.describe());
    let selectors: Vec<&str> =
        run.requests.iter().filter(|r| r.path == deployments_path()).filter_map(|r| r.param("labelSelector")).collect();
    assert!(
        selectors.iter().all(|s| *s == "serving.kserve.io/inferenceservice=iris,component=predictor"),
        "{}",
        run.describe()
    );
    let pod_selectors: Vec<&str> =
        run.requests.iter().filter(|r| r.path == pods_path()).filter_map(|r| r.param("labelSelector")).collect();
    assert!(pod_selectors.contains(&"app=isvc.iris-v2-predictor"), "{}", run.describe());
}

#[test]
fn set_wait_exits_4_on_a_crash_looping_canary() {
    let stub = Stub::start();
    stub.on(Route::get(isvc_path()), [Reply::ok(object(100, &[], &[]))]);
    let written = object(101, &[entry("v2", M2, 25)], &[canary_status("v2", false, 25)]);
    stub.on(Route::patch(isvc_path()), [Reply::ok(written)]);
    stub.on(
        Route::watch(format!("/apis/serving.kserve.io/v1beta1/namespaces/{NS}/inferenceservices")),
        [Watch::new().end(End::Hold)],
    );
    stub.on(
        Route::get(deployments_path()),
        [Reply::ok(deployments(&[deployment("iris-predictor", 3, 3), deployment("iris-v2-predictor", 1, 0)]))],
    );
    stub.on(
        Route::get(pods_path()),
        [Reply::ok(pod_list(&[pod("iris-v2-predictor-5d9c-x1", Some("CrashLoopBackOff"))]))],
    );

    let run = run(
        &stub,
        &["set", NAME, "25", "--model-uri", M2, "--wait", "--timeout", "20s", "--fail-window", "1s", "--yes"],
    );

    run.code(4).stderr_has("CrashLoopBackOff").stderr_has("to undo it").stderr_has("rollback iris --canary-name v2");
}

#[test]
fn status_says_no_request_reaches_the_canary_and_gives_its_address() {
    let stub = Stub::start();
    let obj = object(100, &[entry("v2", M2, 25)], &[canary_status("v2", true, 25)]);
    let col = |name: &str| json!({"name": name, "type": "string", "format": "", "description": "", "priority": 0});
    let table = json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": "77"},
        "columnDefinitions": [col("Name"), col("URL"), col("Ready"), col("Age")],
        "rows": [{"cells": [NAME, "http://iris.team-a.example.com", "True", "5d"], "object": obj}]});
    stub.on(Route::get(isvc_path()), [Reply::ok(table)]);
    stub.on(
        Route::get(format!("/apis/serving.knative.dev/v1/namespaces/{NS}/revisions")),
        [Reply::status(404, status(404, "NotFound", "the server could not find the requested resource"))],
    );
    stub.on(
        Route::get(pods_path()),
        [Reply::ok(json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {}, "columnDefinitions": [], "rows": []}))],
    );
    stub.on(
        Route::get(deployments_path()),
        [Reply::ok(deployments(&[deployment("iris-predictor", 3, 3), deployment("iris-v2-predictor", 1, 1)]))],
    );
    let route = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": NAME, "namespace": NS},
        "spec": {"rules": [{"backendRefs": [{"kind": "Service", "name": "iris-predictor", "port": 80}]}]}});
    stub.on(
        Route::get(format!("/apis/gateway.networking.k8s.io/v1/namespaces/{NS}/httproutes/{NAME}")),
        [Reply::ok(route)],
    );

    let text = run(&stub, &["status", NAME]);
    text.code(0);
    let out = text.out.stdout.clone();
    assert!(out.contains("no request reaches the canary v2 through the InferenceService's URL"), "{out}");
    assert!(out.contains("http://iris-v2-predictor.team-a.svc"), "{out}");
    assert!(out.contains("routing (HTTPRoute iris): iris-predictor (weight 1)"), "{out}");
    assert!(out.contains("1/1"), "{out}");

    let json_run = run(&stub, &["status", NAME, "-o", "json"]);
    json_run.code(0);
    let v = json_run.json();
    assert_eq!(v.pointer("/standard/variants/1/name"), Some(&json!("v2")), "{v}");
    assert_eq!(v.pointer("/standard/variants/1/percentAsked"), Some(&json!(25)), "{v}");
    assert_eq!(v.pointer("/standard/variants/1/routedPercent"), Some(&json!(0)), "{v}");
    assert_eq!(v.pointer("/standard/routing/source"), Some(&json!("HTTPRoute iris")), "{v}");
}

#[test]
fn knative_mode_shows_a_refusal_of_an_untouched_field_the_same_way() {
    let stub = Stub::start();
    stub.on(Route::get(isvc_path()), [Reply::ok(crate::objects::Isvc::deployed().json())]);
    let message = "admission webhook denied the request: the PYTHONPATH environment variable is not allowed";
    stub.on(Route::patch(isvc_path()), [Reply::status(422, status(422, "Invalid", message))]);

    let run = run(&stub, &["set", NAME, "10", "--model-uri", M2, "--yes"]);

    run.code(7).stderr_has(message).stderr_has("invalid under this KServe release").all_answered();
}

fn lease_path() -> String {
    format!("/apis/coordination.k8s.io/v1/namespaces/{NS}/leases/isvc-canary-{NAME}")
}

fn lease(rv: u64) -> Value {
    let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S.000000Z").to_string();
    json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": format!("isvc-canary-{NAME}"), "namespace": NS, "resourceVersion": rv.to_string()},
        "spec": {"holderIdentity": "me", "leaseDurationSeconds": 30, "renewTime": now, "leaseTransitions": 1}})
}

/// A Standard-mode InferenceService whose state follows the PATCHes sent to it: the stable v1
/// (4 replicas), then the canary v2 at 50 % (2 + 2), then v2 promoted (4) or, for a rollback,
/// v1 alone again (4). With `recorded`, a stopped rollout's state is in an expired Lease and the
/// object starts with the canary at 50 % (its step 1 in place).
fn standard_rollout_stub(promotes: bool, recorded: Option<Value>) -> Stub {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let stub = Stub::start();
    let written = Arc::new(AtomicUsize::new(usize::from(recorded.is_some())));
    let mut last = object(102, &[], &[]);
    if promotes {
        last["spec"]["predictor"]["name"] = json!("v2");
        last["spec"]["predictor"]["model"]["storageUri"] = json!(M2);
    }
    let last_stable = if promotes { "iris-v2-predictor" } else { "iris-predictor" };
    let states = [object(100, &[], &[]), object(101, &[entry("v2", M2, 50)], &[canary_status("v2", true, 50)]), last];
    let dep_states = [
        deployments(&[deployment("iris-predictor", 4, 4)]),
        deployments(&[deployment("iris-predictor", 2, 2), deployment("iris-v2-predictor", 2, 2)]),
        deployments(&[deployment(last_stable, 4, 4)]),
    ];
    let at = |n: usize| n.min(2);
    let (w, s) = (written.clone(), states.clone());
    stub.on_fn(Route::get(isvc_path()), move |_| Reply::ok(s[at(w.load(Ordering::SeqCst))].clone()));
    let (w, s) = (written.clone(), states.clone());
    stub.on_fn(Route::patch(isvc_path()), move |_| Reply::ok(s[at(w.fetch_add(1, Ordering::SeqCst) + 1)].clone()));
    let w = written.clone();
    stub.on_fn(Route::get(deployments_path()), move |_| Reply::ok(dep_states[at(w.load(Ordering::SeqCst))].clone()));
    stub.on(Route::get(pods_path()), [Reply::ok(pod_list(&[]))]);
    stub.on(
        Route::watch(format!("/apis/serving.kserve.io/v1beta1/namespaces/{NS}/inferenceservices")),
        [Watch::new().end(End::Hold)],
    );
    let lease_read = match recorded {
        Some(state) => {
            let mut l = lease(4);
            l["spec"]["holderIdentity"] = json!("");
            l["spec"]["renewTime"] = json!("2026-11-30T10:00:00.000000Z");
            l["metadata"]["annotations"] = json!({"isvc-canary.kserve.io/rollout": state.to_string()});
            Reply::ok(l)
        }
        None => {
            Reply::status(404, json!({"kind": "Status", "code": 404, "reason": "NotFound", "message": "not found"}))
        }
    };
    stub.on(Route::get(lease_path()), [lease_read]);
    stub.on(Route::post(format!("/apis/coordination.k8s.io/v1/namespaces/{NS}/leases")), [Reply::ok(lease(5))]);
    stub.on(Route::patch(lease_path()), [Reply::ok(lease(6))]);
    stub
}

#[test]
fn a_standard_rollout_adds_the_canary_entry_then_promotes_it() {
    let stub = standard_rollout_stub(true, None);

    let run = run(
        &stub,
        &[
            "rollout",
            NAME,
            "--model-uri",
            M2,
            "--steps",
            "50,100",
            "--canary-name",
            "v2",
            "--exec",
            "test \"$ISVC_CANARY_URL $ISVC_CANARY_REVISION $ISVC_CANARY_PERCENT\" = \"http://iris-v2-predictor.team-a.svc.cluster.local v2 50\"",
            "--timeout",
            "20s",
            "-o",
            "json",
        ],
    );

    run.code(0);
    let patches = run.patches();
    assert_eq!(patches.len(), 2, "{}", run.describe());
    assert_eq!(patches[0].content_type(), Some(MERGE));
    assert_eq!(
        patches[0].json(),
        json!({"metadata": {"resourceVersion": "100"}, "spec": {"canary": [entry("v2", M2, 50)]}}),
        "step 1: the spec.canary entry at 50%\n{}",
        run.describe()
    );
    assert_eq!(
        patches[1].json(),
        json!({"metadata": {"resourceVersion": "101"},
               "spec": {"canary": null, "predictor": {"name": "v2", "model": {"storageUri": M2}}}}),
        "step 2: the promotion\n{}",
        run.describe()
    );
    let events: Vec<Value> = run.out.stdout.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let reasons: Vec<&str> = events.iter().filter_map(|e| e["reason"].as_str()).collect();
    assert_eq!(
        reasons,
        ["RolloutStarted", "CanaryStepApplied", "GatePassed", "CanaryStepApplied", "Promoted"],
        "{}",
        run.describe()
    );
    assert!(events.iter().skip(1).all(|e| e["revision"] == "v2"), "the recorded revision is the canary's name");
    // The outcome in the Lease: promoted, the canary's name as the revision, the stable's as stable.
    let last = run.requests.iter().rev().find(|r| r.method == "PATCH" && r.path == lease_path()).expect("lease PATCH");
    let body = last.json();
    let state: Value =
        serde_json::from_str(body["metadata"]["annotations"]["isvc-canary.kserve.io/rollout"].as_str().unwrap())
            .unwrap();
    assert_eq!(state["phase"], "promoted", "{}", run.describe());
    assert_eq!(state["revision"], "v2");
    assert_eq!(state["canary"], "v2");
    assert_eq!(state["stable"], "iris-predictor");
}

#[test]
fn a_standard_rollout_whose_gate_fails_removes_the_entry_and_exits_4() {
    let stub = standard_rollout_stub(false, None);

    let run =
        run(&stub, &["rollout", NAME, "--model-uri", M2, "--steps", "50,100", "--exec", "false", "--timeout", "20s"]);

    // The canary's name is derived from the model as `set` derives it: …/iris/v2 ⇒ v2.
    run.code(4).stderr_has("gate exec").stderr_has("rolled back: the canary v2 removed");
    let patches = run.patches();
    assert_eq!(patches.len(), 2, "{}", run.describe());
    assert_eq!(patches[0].json()["spec"]["canary"], json!([entry("v2", M2, 50)]));
    assert_eq!(patches[1].json(), json!({"metadata": {"resourceVersion": "101"}, "spec": {"canary": null}}));
}

#[test]
fn a_resumed_standard_rollout_finds_its_step_in_place_and_sends_only_the_promotion() {
    let state = json!({"id": "1-1", "model": M2,
        "plan": {"steps": [{"weight": {"percent": 50, "pause": 0.0}}, {"weight": {"percent": 100, "pause": 0.0}}],
                 "gates": [], "failureLimit": 1, "interval": 10.0},
        "step": 0, "applied": true, "holdStartedAt": "2026-11-30T10:00:00.000000Z", "revision": "v2",
        "stable": "iris-predictor", "canary": "v2", "phase": "interrupted", "gates": [],
        "traffic": [{"percent": 50, "at": "2026-11-30T10:00:00.000000Z"}], "startedAt": "2026-11-30T10:00:00.000000Z"});
    let stub = standard_rollout_stub(true, Some(state));

    let run = run(&stub, &["rollout", NAME, "--resume", "--timeout", "20s"]);

    run.code(0);
    assert!(run.out.stdout.contains("inferenceservice.serving.kserve.io/iris promoted"), "{}", run.describe());
    let patches = run.patches();
    assert_eq!(patches.len(), 1, "step 1 is in place: no PATCH for it\n{}", run.describe());
    assert_eq!(
        patches[0].json(),
        json!({"metadata": {"resourceVersion": "101"},
               "spec": {"canary": null, "predictor": {"name": "v2", "model": {"storageUri": M2}}}}),
        "{}",
        run.describe()
    );
}

#[test]
fn a_standard_rollout_refuses_a_smoke_gate_before_any_write() {
    let stub = Stub::start();
    stub.on(Route::get(isvc_path()), [Reply::ok(object(100, &[], &[]))]);

    let run = run(&stub, &["rollout", NAME, "--model-uri", M2, "--steps", "10,100", "--smoke", "--yes"]);

    run.code(2)
        .stderr_has("smoke gates are not available in Standard mode")
        .stderr_has("reach no spec.canary variant on KServe 0.20.0")
        .stderr_has("an exec gate, which gets the canary's in-cluster URL");
    let writes: Vec<String> = run.requests.iter().filter(|r| r.method != "GET").map(|r| r.line()).collect();
    assert!(writes.is_empty(), "nothing written: {writes:#?}\n{}", run.describe());
}

#[test]
fn promote_wait_ends_when_the_old_stable_deployment_is_gone() {
    let stub = Stub::start();
    stub.on(
        Route::get(isvc_path()),
        [Reply::ok(object(100, &[entry("v2", M2, 25)], &[canary_status("v2", true, 25)]))],
    );
    let mut after = object(101, &[], &[]);
    after["spec"]["predictor"]["name"] = json!("v2");
    after["spec"]["predictor"]["model"]["storageUri"] = json!(M2);
    stub.on(Route::patch(isvc_path()), [Reply::ok(after.clone())]);
    let mut settled = after.clone();
    settled["metadata"]["resourceVersion"] = json!("102");
    let watch = Watch::new()
        .event(50, json!({"type": "MODIFIED", "object": after}))
        .event(400, json!({"type": "MODIFIED", "object": settled}))
        .end(End::Hold);
    stub.on(Route::watch(format!("/apis/serving.kserve.io/v1beta1/namespaces/{NS}/inferenceservices")), [watch]);
    // The old stable Deployment is there at first (the pre-write list and the first turn), then gone.
    stub.on(
        Route::get(deployments_path()),
        [
            Reply::ok(deployments(&[deployment("iris-predictor", 3, 3), deployment("iris-v2-predictor", 1, 1)])),
            Reply::ok(deployments(&[deployment("iris-predictor", 3, 3), deployment("iris-v2-predictor", 1, 1)])),
            Reply::ok(deployments(&[deployment("iris-v2-predictor", 4, 4)])),
        ],
    );
    stub.on(Route::get(pods_path()), [Reply::ok(pod_list(&[pod("iris-v2-predictor-5d9c-x1", None)]))]);

    let run = run(&stub, &["promote", NAME, "--wait", "--timeout", "20s", "--yes"]);

    run.code(0).stdout_is("inferenceservice.serving.kserve.io/iris promoted\n");
    let lists = run.requests.iter().filter(|r| r.path == deployments_path()).count();
    assert!(lists >= 3, "waited for the old Deployment to go\n{}", run.describe());
}

#[test]
fn rollback_wait_times_out_with_3_while_the_canary_deployment_stays() {
    let stub = Stub::start();
    stub.on(Route::get(isvc_path()), [Reply::ok(object(100, &[entry("v2", M2, 25)], &[]))]);
    stub.on(Route::patch(isvc_path()), [Reply::ok(object(101, &[], &[]))]);
    stub.on(
        Route::watch(format!("/apis/serving.kserve.io/v1beta1/namespaces/{NS}/inferenceservices")),
        [Watch::new().end(End::Hold)],
    );
    stub.on(
        Route::get(deployments_path()),
        [Reply::ok(deployments(&[deployment("iris-predictor", 3, 3), deployment("iris-v2-predictor", 1, 1)]))],
    );
    stub.on(Route::get(pods_path()), [Reply::ok(pod_list(&[]))]);

    let run = run(&stub, &["rollback", NAME, "--wait", "--timeout", "2s", "--yes"]);

    run.code(3).stderr_has("iris-v2-predictor");
}

#[test]
fn where_the_route_is_weighted_set_waits_until_it_carries_the_percent() {
    let stub = Stub::start();
    stub.on(Route::get(isvc_path()), [Reply::ok(object(100, &[], &[]))]);
    let ready = object(101, &[entry("v2", M2, 25)], &[canary_status("v2", true, 25)]);
    stub.on(Route::patch(isvc_path()), [Reply::ok(ready)]);
    stub.on(
        Route::watch(format!("/apis/serving.kserve.io/v1beta1/namespaces/{NS}/inferenceservices")),
        [Watch::new().end(End::Hold)],
    );
    stub.on(
        Route::get(deployments_path()),
        [Reply::ok(deployments(&[deployment("iris-predictor", 3, 3), deployment("iris-v2-predictor", 1, 1)]))],
    );
    stub.on(Route::get(pods_path()), [Reply::ok(pod_list(&[]))]);
    let weights = |stable: i64, canary: i64| {
        json!({"spec": {"rules": [{"backendRefs": [
            {"name": "iris-predictor", "weight": stable}, {"name": "iris-v2-predictor", "weight": canary}]}]}})
    };
    // A KServe that weights the route: first still 100/0, then 75/25.
    stub.on(
        Route::get(format!("/apis/gateway.networking.k8s.io/v1/namespaces/{NS}/httproutes/{NAME}")),
        [Reply::ok(weights(100, 0)), Reply::ok(weights(75, 25))],
    );

    let run = run(&stub, &["set", NAME, "25", "--model-uri", M2, "--wait", "--timeout", "20s", "--yes"]);

    run.code(0);
    let reads = run.requests.iter().filter(|r| r.path.ends_with("/httproutes/iris")).count();
    assert_eq!(reads, 2, "done only once the route carries 25%\n{}", run.describe());
}
