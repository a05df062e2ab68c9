//! Rollouts and their Lease against the scripted API server: a lease held by someone else, two
//! processes taking it at the same moment (create and takeover), and a lease taken over while
//! the rollout holds a step: each refused with exit 7, the InferenceService never written twice.
//! Metric gates through the API server's service proxy (`--prometheus-service`).

use serde_json::{Value, json};

use crate::objects::{Isvc, NAME, NS, isvc_list_path, isvc_path, model, pods};
use crate::plugin::run;
use crate::stub::{End, Reply, Route, Stub, Watch};

fn lease_path() -> String {
    format!("/apis/coordination.k8s.io/v1/namespaces/{NS}/leases/isvc-canary-{NAME}")
}

fn leases_path() -> String {
    format!("/apis/coordination.k8s.io/v1/namespaces/{NS}/leases")
}

fn now() -> String {
    let t = jiff::Timestamp::now();
    format!("{}.000000Z", t.strftime("%Y-%m-%dT%H:%M:%S"))
}

/// A finished rollout's record.
fn finished_state() -> String {
    json!({"id": "old", "model": model(1), "plan": {"steps": [{"weight": {"percent": 100, "pause": 0.0}}],
        "gates": [], "failureLimit": 1, "interval": 10.0}, "step": 0, "applied": true, "phase": "promoted",
        "startedAt": "2026-11-30T10:00:00.000000Z"})
    .to_string()
}

fn lease(holder: &str, renewed: &str, rv: u64, state: Option<String>) -> Value {
    let mut l = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": format!("isvc-canary-{NAME}"), "namespace": NS, "resourceVersion": rv.to_string()},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 30, "renewTime": renewed, "leaseTransitions": 1}});
    if let Some(s) = state {
        l["metadata"]["annotations"] = json!({"isvc-canary.kserve.io/rollout": s});
    }
    l
}

fn conflict() -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Conflict", "code": 409,
           "message": "Operation cannot be fulfilled on leases.coordination.k8s.io: the object has been modified"})
}

#[test]
fn a_lease_held_by_someone_else_refuses_the_rollout_naming_the_holder() {
    let stub = Stub::start();
    stub.on(Route::get(isvc_path()), [Reply::ok(Isvc::deployed().json())]);
    stub.on(Route::get(lease_path()), [Reply::ok(lease("ci@runner/42", &now(), 7, Some(finished_state())))]);
    let m2 = model(2);
    let run = run(&stub, &["rollout", NAME, "--model-uri", &m2, "--steps", "10,100"]);
    run.code(7).stderr_has("held by ci@runner/42");
    let writes: Vec<String> = run.requests.iter().filter(|r| r.method != "GET").map(|r| r.line()).collect();
    assert!(writes.is_empty(), "nothing written: {writes:#?}\n{}", run.describe());
}

#[test]
fn two_rollouts_creating_the_lease_at_once_one_is_refused() {
    let stub = Stub::start();
    stub.on(Route::get(isvc_path()), [Reply::ok(Isvc::deployed().json())]);
    stub.on(
        Route::get(lease_path()),
        [Reply::status(404, json!({"kind": "Status", "code": 404, "reason": "NotFound", "message": "not found"}))],
    );
    stub.on(
        Route::post(leases_path()),
        [Reply::status(
            409,
            json!({"kind": "Status", "code": 409, "reason": "AlreadyExists", "message": "already exists"}),
        )],
    );
    let m2 = model(2);
    let run = run(&stub, &["rollout", NAME, "--model-uri", &m2, "--steps", "10,100"]);
    run.code(7).stderr_has("started at the same moment");
    assert!(run.patches().is_empty(), "{}", run.describe());
}

#[test]
fn taking_over_an_expired_lease_at_the_same_moment_as_another_is_refused() {
    let stub = Stub::start();
    stub.on(Route::get(isvc_path()), [Reply::ok(Isvc::deployed().json())]);
    let expired = lease("ci@runner/42", "2026-11-30T10:00:00.000000Z", 7, Some(finished_state()));
    stub.on(Route::get(lease_path()), [Reply::ok(expired)]);
    stub.on(Route::patch(lease_path()), [Reply::status(409, conflict())]);
    let m2 = model(2);
    let run = run(&stub, &["rollout", NAME, "--model-uri", &m2, "--steps", "10,100"]);
    run.code(7).stderr_has("took the lease");
    // The takeover carried the read's resourceVersion; the InferenceService was not touched.
    let lease_patch = run.requests.iter().find(|r| r.method == "PATCH" && r.path == lease_path()).expect("lease PATCH");
    assert_eq!(lease_patch.json()["metadata"]["resourceVersion"], "7", "{}", run.describe());
    assert_eq!(lease_patch.json()["spec"]["leaseTransitions"], 2, "{}", run.describe());
    assert!(run.isvc_requests().iter().all(|r| r.method == "GET"), "{}", run.describe());
}

#[test]
fn a_lease_taken_over_during_a_hold_stops_the_rollout_with_the_step_applied() {
    let stub = Stub::start();
    stub.on(Route::get(isvc_path()), [Reply::ok(Isvc::deployed().json())]);
    stub.on(
        Route::get(lease_path()),
        [
            Reply::status(404, json!({"kind": "Status", "code": 404, "reason": "NotFound", "message": "not found"})),
            Reply::ok(lease("other@host/9", &now(), 9, None)),
        ],
    );
    stub.on(Route::post(leases_path()), [Reply::ok(lease("me", &now(), 5, None))]);
    // The first renewal (before any write) and the record of step 1 go through; the next
    // renewal meets another holder.
    let ok = Reply::ok(lease("me", &now(), 6, None));
    stub.on(Route::patch(lease_path()), [ok.clone(), ok, Reply::status(409, conflict())]);
    stub.on(Route::watch(isvc_list_path()), [Watch::new().end(End::Hold)]);
    stub.on(Route::patch(isvc_path()), [Reply::ok(Isvc::canary(10).rv(101).patched_by_us().json())]);
    stub.on(Route::get(crate::objects::pods_path()), [Reply::ok(pods(&[1, 2]))]);
    let m2 = model(2);
    let run = run(
        &stub,
        &["rollout", NAME, "--model-uri", &m2, "--steps", "10,100", "--pause", "30s", "--lease-duration", "3s"],
    );
    run.code(7)
        .stderr_has("taken over by other@host/9")
        .stderr_has("stopped at step 1 of 2 (10%), which is applied; nothing was reverted");
    // One write of the InferenceService: the step; no rollback by a process that lost the lease.
    assert_eq!(run.patches().len(), 1, "{}", run.describe());
}

#[test]
fn a_lease_that_cannot_be_renewed_stops_the_rollout_once_it_runs_out() {
    let stub = Stub::start();
    stub.on(Route::get(isvc_path()), [Reply::ok(Isvc::deployed().json())]);
    stub.on(
        Route::get(lease_path()),
        [Reply::status(404, json!({"kind": "Status", "code": 404, "reason": "NotFound", "message": "not found"}))],
    );
    stub.on(Route::post(leases_path()), [Reply::ok(lease("me", &now(), 5, None))]);
    let broken = json!({"kind": "Status", "code": 500, "reason": "InternalError", "message": "etcd is down"});
    // The first renewal (before any write) and the record of step 1 go through; then every
    // renewal fails.
    let ok = Reply::ok(lease("me", &now(), 6, None));
    stub.on(Route::patch(lease_path()), [ok.clone(), ok, Reply::status(500, broken)]);
    stub.on(Route::watch(isvc_list_path()), [Watch::new().end(End::Hold)]);
    stub.on(Route::patch(isvc_path()), [Reply::ok(Isvc::canary(10).rv(101).patched_by_us().json())]);
    stub.on(Route::get(crate::objects::pods_path()), [Reply::ok(pods(&[1, 2]))]);
    let m2 = model(2);
    let run = run(
        &stub,
        &["rollout", NAME, "--model-uri", &m2, "--steps", "10,100", "--pause", "30s", "--lease-duration", "3s"],
    );
    run.code(1)
        .stderr_has("the lease could not be renewed for 3s")
        .stderr_has("stopped at step 1 of 2 (10%), which is applied")
        .stderr_has("--resume");
    assert_eq!(run.patches().len(), 1, "the step only; no rollback without the lease\n{}", run.describe());
}

#[test]
fn a_first_step_refused_by_a_guard_rail_ends_the_rollout_as_refused() {
    let stub = Stub::start();
    // A canary of another model is in progress: step 1's new model would drop it (exit 7).
    stub.on(Route::get(isvc_path()), [Reply::ok(Isvc::canary(10).json())]);
    stub.on(
        Route::get(lease_path()),
        [Reply::status(404, json!({"kind": "Status", "code": 404, "reason": "NotFound", "message": "not found"}))],
    );
    stub.on(Route::post(leases_path()), [Reply::ok(lease("me", &now(), 5, None))]);
    stub.on(Route::patch(lease_path()), [Reply::ok(lease("me", &now(), 6, None))]);
    let m3 = model(3);
    let run = run(&stub, &["rollout", NAME, "--model-uri", &m3, "--steps", "10,100"]);
    run.code(7).stderr_has("would drop it").stderr_has("nothing was changed");
    assert!(!run.stderr_contains("--resume"), "nothing to resume\n{}", run.describe());
    assert!(run.patches().is_empty(), "{}", run.describe());
    // The last write of the lease records the outcome and releases it: a new rollout may start.
    let last = run.requests.iter().rev().find(|r| r.method == "PATCH" && r.path == lease_path()).expect("lease PATCH");
    let body = last.json();
    assert_eq!(body["spec"]["holderIdentity"], "", "{}", run.describe());
    let state: Value =
        serde_json::from_str(body["metadata"]["annotations"]["isvc-canary.kserve.io/rollout"].as_str().unwrap())
            .unwrap();
    assert_eq!(state["phase"], "refused", "{}", run.describe());
}

/// Prometheus's query path through the API server's service proxy.
const PROM_PROXY: &str = "/api/v1/namespaces/monitoring/services/prometheus:9090/proxy/api/v1/query";

fn prom_value(v: &str) -> Value {
    json!({"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1.0, v]}]}})
}

/// A rollout whose first step holds on a metric gate; `prom` answers the service proxy.
fn metric_rollout(
    prom: impl Fn(&crate::stub::Recorded) -> Reply + Send + Sync + 'static,
    extra: &[&str],
) -> crate::plugin::Run {
    let stub = Stub::start();
    stub.on(Route::get(isvc_path()), [Reply::ok(Isvc::canary(10).json())]);
    stub.on(
        Route::get(lease_path()),
        [Reply::status(404, json!({"kind": "Status", "code": 404, "reason": "NotFound", "message": "not found"}))],
    );
    stub.on(Route::post(leases_path()), [Reply::ok(lease("me", &now(), 5, None))]);
    stub.on(Route::patch(lease_path()), [Reply::ok(lease("me", &now(), 6, None))]);
    stub.on(Route::watch(isvc_list_path()), [Watch::new().end(End::Hold)]);
    stub.on(
        Route::patch(isvc_path()),
        [
            Reply::ok(Isvc::canary(10).rv(101).patched_by_us().json()),
            Reply::ok(Isvc::promoted().rv(102).patched_by_us().json()),
        ],
    );
    stub.on(Route::get(crate::objects::pods_path()), [Reply::ok(pods(&[1, 2]))]);
    stub.on_fn(Route::get(PROM_PROXY), prom);
    let m2 = model(2);
    let mut args = vec![
        "rollout",
        NAME,
        "--model-uri",
        &m2,
        "--steps",
        "10,100",
        "--prometheus-service",
        "monitoring/prometheus:9090",
    ];
    args.extend_from_slice(extra);
    run(&stub, &args)
}

#[test]
fn a_metric_gate_asks_prometheus_through_the_service_proxy_with_the_kubeconfig_credentials() {
    // The request count (the query that ends in `* 60`) and the success rate.
    let run = metric_rollout(
        |r| Reply::ok(prom_value(if r.param("query").unwrap_or_default().ends_with("* 60") { "120" } else { "0.995" })),
        &["--metric", "success-rate >= 0.99", "-o", "json", "--timeout", "3s"],
    );
    // The gate passed, so the rollout went on to promote (whose wait the stub never ends: exit 3).
    run.code(3);
    let writes = run.requests.iter().filter(|r| r.method == "PATCH" && r.path == isvc_path()).count();
    // Step 1 is found in place (the stub's object already serves it); the write is the promotion.
    assert_eq!(writes, 1, "the promotion\n{}", run.describe());
    let asked: Vec<_> = run.requests.iter().filter(|r| r.path == PROM_PROXY).collect();
    assert_eq!(asked.len(), 2, "the rate and the request count\n{}", run.describe());
    for r in &asked {
        assert_eq!(r.header("authorization"), Some("Bearer stub-token"), "{}", run.describe());
        let q = r.param("query").unwrap();
        assert!(q.contains("kn_serving_invocation_duration_seconds_count"), "{q}");
        assert!(q.contains(&format!("kn_revision_name=\"{}\"", crate::objects::rev(2))), "the canary: {q}");
        assert!(r.param("time").is_some(), "one evaluation time for every query");
    }
    assert_eq!(asked[0].param("time"), asked[1].param("time"));
    let passed = run
        .out
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["reason"] == "GatePassed")
        .unwrap_or_else(|| panic!("no GatePassed\n{}", run.describe()));
    assert_eq!(passed["gate"]["value"], "0.995");
    assert_eq!(passed["gate"]["threshold"], ">= 0.99");
    assert_eq!(passed["gate"]["at"], asked[0].param("time").unwrap());
}

#[test]
fn a_prometheus_the_service_proxy_cannot_reach_is_inconclusive_and_never_passes_the_step() {
    let down = json!({"kind": "Status", "code": 503, "reason": "ServiceUnavailable",
                      "message": "no endpoints available for service \"prometheus\""});
    let run = metric_rollout(
        move |_| Reply::status(503, down.clone()),
        &["--metric", "success-rate >= 0.99", "--timeout", "2s", "--gate-interval", "1s"],
    );
    run.code(3).stderr_has("success-rate is inconclusive").stderr_has("service monitoring/prometheus:9090");
    let writes = run.requests.iter().filter(|r| r.method == "PATCH" && r.path == isvc_path()).count();
    assert_eq!(writes, 0, "an inconclusive gate never promotes\n{}", run.describe());
}
