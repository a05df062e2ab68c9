//! Standard mode (KServe 0.20 `spec.canary`, contract §13) against the real controllers, with
//! kubectl as the oracle: `set --wait` sizes the variants as KServe's own canary_controller_test
//! asserts (4 stable + 25 % ⇒ 3 + 1), `status` tells the truth about routing, `promote --wait`
//! keeps the canary's pods (no restart) and removes the old stable Deployment, `rollback --wait`
//! deletes the canary, and a canary model that never loads ends the wait with exit 4.
//!
//! These need a world whose KServe has `spec.canary` (v0.20+): on an older KServe they fail, naming
//! the release (tests/run.sh runs them on the v0.20.0 world; the v0.17.0 behaviour is guards.rs's).

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::*;

const NAME: &str = "iris-std";

/// Creates the Standard-mode InferenceService with 4 stable replicas and waits until it is Ready.
fn standard_world(test: &str) -> Ns {
    let ns = Ns::new(test);
    assert!(
        ns.kserve_has_spec_canary(),
        "{test} needs a KServe with spec.canary (v0.20+); this world runs KServe {}",
        cluster().kserve
    );
    let mut predictor = sklearn_predictor(MODEL_1);
    predictor["minReplicas"] = json!(4);
    let mut doc = isvc_doc(NAME, json!({"predictor": predictor}));
    doc["metadata"]["annotations"] = json!({"serving.kserve.io/deploymentMode": "Standard"});
    ns.apply(&doc.to_string());
    ns.wait_isvc(NAME, "Ready True in Standard mode", ROLLOUT, |v| condition(v, "Ready") == "True");
    ns
}

fn deployment(ns: &Ns, name: &str) -> Option<Value> {
    let out = ns.kubectl(["get", "deployment", name, "-o", "json"]);
    (out.code == Some(0)).then(|| out.json())
}

fn replicas(ns: &Ns, name: &str) -> i64 {
    deployment(ns, name).and_then(|d| d["spec"]["replicas"].as_i64()).unwrap_or(-1)
}

fn pod_names(ns: &Ns, deployment: &str) -> Vec<String> {
    let sel = format!("app=isvc.{deployment}");
    let out = ns.kubectl(["get", "pods", "-l", sel.as_str(), "-o", "jsonpath={.items[*].metadata.name}"]);
    let mut names: Vec<String> = out.ok().stdout.split_whitespace().map(str::to_string).collect();
    names.sort();
    names
}

/// Polls until kubectl no longer finds the Deployment.
fn gone(ns: &Ns, name: &str) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if deployment(ns, name).is_none() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    false
}

#[test]
fn set_status_promote_and_rollback_step_by_step() {
    let ns = standard_world("standard-flow");
    let wait = ["--wait", "--timeout", "4m", "--yes"];

    // set 25: the canary v2, sized 3 + 1 (KServe's canary_controller_test).
    ns.plugin([&["set", NAME, "25", "--model-uri", MODEL_2, "--canary-name", "v2"][..], &wait].concat())
        .ok()
        .stdout_has("canary set");
    let v = ns.get(NAME);
    assert_eq!(v["spec"]["canary"][0]["predictor"]["name"], "v2", "{v}");
    assert_eq!(v["spec"]["canary"][0]["trafficPercent"], 25, "{v}");
    let statuses = &v["status"]["canaryStatuses"];
    assert_eq!(statuses[0]["name"], "v2", "{v}");
    assert_eq!(statuses[0]["ready"], true, "{v}");
    assert_eq!(statuses[0]["trafficPercent"], 25, "{v}");
    assert_eq!(replicas(&ns, &format!("{NAME}-v2-predictor")), 1, "the canary's replicas");
    assert_eq!(replicas(&ns, &format!("{NAME}-predictor")), 3, "the stable gives up the canary's replica");

    // status: the routing KServe wrote; on 0.20.0 nothing reaches the canary through the URL.
    let text = ns.plugin(["status", NAME]).ok().stdout.clone();
    let address = format!("{NAME}-v2-predictor.{}.svc", ns.name);
    assert!(text.contains(&address), "{text}");
    let j = ns.plugin(["status", NAME, "-o", "json"]).ok().json();
    let canary = &j["standard"]["variants"][1];
    assert_eq!(canary["name"], "v2", "{j}");
    assert_eq!(canary["replicasDesired"], 1, "{j}");
    if canary["routedPercent"] == json!(0) {
        assert!(text.contains("no request reaches the canary v2 through the InferenceService's URL"), "{text}");
    }
    eprintln!("status:\n{text}");

    // promote: the canary's pods become the stable ones, without a restart.
    let canary_pods = pod_names(&ns, &format!("{NAME}-v2-predictor"));
    assert!(!canary_pods.is_empty());
    ns.plugin([&["promote", NAME][..], &wait].concat()).ok().stdout_has("promoted");
    let v = ns.get(NAME);
    assert_eq!(v["spec"]["predictor"]["name"], "v2", "{v}");
    assert_eq!(v["spec"]["predictor"]["model"]["storageUri"], MODEL_2, "{v}");
    assert!(v["spec"]["canary"].is_null(), "{v}");
    assert!(gone(&ns, &format!("{NAME}-predictor")), "the old stable Deployment is deleted");
    let after = pod_names(&ns, &format!("{NAME}-v2-predictor"));
    for pod in &canary_pods {
        assert!(after.contains(pod), "pod {pod} of the canary was restarted: {after:?}");
    }

    // rollback: a new canary, then removed with its Deployment.
    ns.plugin([&["set", NAME, "25", "--model-uri", MODEL_3, "--canary-name", "v3"][..], &wait].concat()).ok();
    ns.plugin([&["rollback", NAME][..], &wait].concat()).ok();
    let v = ns.get(NAME);
    assert!(v["spec"]["canary"].is_null(), "{v}");
    assert!(gone(&ns, &format!("{NAME}-v3-predictor")), "the canary's Deployment is deleted");
}

#[test]
fn a_canary_that_never_loads_fails_the_wait_with_4() {
    let ns = standard_world("standard-fail");
    let out = ns.plugin([
        "set",
        NAME,
        "25",
        "--model-uri",
        MODEL_FAIL,
        "--canary-name",
        "bad",
        "--wait",
        "--fail-window",
        "3s",
        "--timeout",
        "5m",
        "--yes",
    ]);
    out.code(4).stderr_has("rollout failed").stderr_has("rollback");
}

/// The rollout's record in its Lease (`rollout`, §12), with the holder.
fn lease_record(ns: &Ns) -> Value {
    let lease = ns.kubectl(["get", "lease", &format!("isvc-canary-{NAME}"), "-o", "json"]).ok().json();
    let text = lease["metadata"]["annotations"]["isvc-canary.kserve.io/rollout"].as_str().expect("rollout annotation");
    let mut state: Value = serde_json::from_str(text).expect("rollout state");
    state["holder"] = lease["spec"]["holderIdentity"].clone();
    state
}

#[test]
fn rollout_rolls_back_on_a_failing_exec_gate_and_promotes_on_a_passing_one() {
    let ns = standard_world("standard-rollout");
    let limits = ["--timeout", "4m", "--yes"];

    // A gate that fails: the canary v3 is removed with its Deployment, exit 4 naming the gate.
    let out = ns.plugin(
        [
            &["rollout", NAME, "--model-uri", MODEL_3, "--canary-name", "v3", "--steps", "25,100"][..],
            &["--pause", "2s", "--exec", "false"],
            &limits,
        ]
        .concat(),
    );
    out.code(4).stderr_has("gate exec 'false' failed").stderr_has("rolled back");
    let v = ns.get(NAME);
    assert!(v["spec"]["canary"].is_null(), "{v}");
    assert_eq!(v["spec"]["predictor"]["model"]["storageUri"], MODEL_1, "{v}");
    assert!(gone(&ns, &format!("{NAME}-v3-predictor")), "the canary's Deployment is deleted");
    let s = lease_record(&ns);
    assert_eq!((s["phase"].as_str(), s["holder"].as_str()), (Some("rolled-back"), Some("")), "{s}");

    // A gate that passes: 25 %, the hold, then the promotion of v2.
    let out = ns.plugin(
        [
            &["rollout", NAME, "--model-uri", MODEL_2, "--canary-name", "v2", "--steps", "25,100"][..],
            &["--pause", "2s", "--exec", "true"],
            &limits,
        ]
        .concat(),
    );
    out.ok().stdout_has("CanaryStepApplied").stdout_has("inferenceservice.serving.kserve.io/iris-std promoted");
    let v = ns.get(NAME);
    assert_eq!(v["spec"]["predictor"]["name"], "v2", "{v}");
    assert_eq!(v["spec"]["predictor"]["model"]["storageUri"], MODEL_2, "{v}");
    assert!(v["spec"]["canary"].is_null(), "{v}");
    assert!(gone(&ns, &format!("{NAME}-predictor")), "the old stable Deployment is deleted");

    // The Lease records both, released; the revision of a Standard rollout is the canary's name.
    let s = lease_record(&ns);
    assert_eq!((s["phase"].as_str(), s["holder"].as_str()), (Some("promoted"), Some("")), "{s}");
    assert_eq!(s["revision"], "v2", "{s}");
    let h = ns.plugin(["history", NAME, "-o", "json"]).ok().json();
    assert_eq!(h["rollouts"][0]["outcome"], "promoted", "{h}");
    assert_eq!(h["rollouts"][0]["revision"], "v2", "{h}");
    assert_eq!(h["rollouts"][0]["model"], MODEL_2, "{h}");
    assert_eq!(h["rollouts"][1]["outcome"], "rolled-back", "{h}");
    assert_eq!(h["rollouts"][1]["revision"], "v3", "{h}");
}
