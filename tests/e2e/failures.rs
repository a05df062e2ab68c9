//! The plugin against failures as a real cluster has them (issue 11): Knative's own autoscaler,
//! kube-scheduler and the kubelet's back-off decide what a failed revision does. Each failure test
//! sets a short progress deadline (DEADLINE) on its own InferenceService. No timing is asserted
//! but lower bounds the world guarantees (a wait cannot end before the ingress is programmed or
//! before a slow model is ready).

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::*;

/// `status NAME -o json`: the predictor's revision entry named `revision`.
fn revision_entry(ns: &Ns, name: &str, revision: &str) -> serde_json::Value {
    let j = ns.plugin(["status", name, "-o", "json"]).ok().json();
    j["components"]["predictor"]["revisions"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["name"] == revision).cloned())
        .unwrap_or_else(|| panic!("no revision {revision} in {j}"))
}

/// The three commands on a canary whose revision failed: `status` shows it failed, `set --wait`
/// (already done by the caller) ended with 4, `rollback --wait` ends with 0 on r1.
fn status_then_rollback(ns: &Ns, name: &str) {
    let r2 = rev(name, 2);
    let out = ns.plugin(["status", name]);
    out.ok();
    eprintln!("[failures] status {name}:\n{}", out.stdout);
    let failure = format!("{r2} failed: ");
    assert!(out.stdout.lines().any(|l| l.starts_with(&failure)), "no failure line\n{}", out.describe());
    assert!(
        revision_entry(ns, name, &r2)["failure"].as_str().is_some_and(|s| !s.is_empty()),
        "no failure in status -o json"
    );
    let out = ns.plugin(["rollback", name, "--wait", "--timeout", "5m"]);
    eprintln!("[failures] rollback {name} --wait: exit {:?}\n{}", out.code, out.stderr);
    out.ok().stderr_has(&rev(name, 1));
    let v = ns.get(name);
    assert_eq!(traffic(&v).iter().find(|t| t.2 == "prev").map(|t| (t.0.clone(), t.1)), Some((rev(name, 1), 100)));
}

#[test]
fn model_that_never_loads_fails_holds_still_and_rolls_back() {
    let ns = Ns::new("fail-never");
    let name = "never";
    let r2 = rev(name, 2);
    ns.create_ready_failing_fast(name, MODEL_1);
    let out =
        ns.plugin(["set", name, "10", "--model-uri", MODEL_FAIL, "--wait", "--fail-window", "3s", "--timeout", "5m"]);
    eprintln!("[failures] set --wait (never loads): exit {:?}\n{}", out.code, out.stderr);
    out.code(4).stderr_has(&format!("rollout failed: {r2} ModelLoadFailed"));
    // Knative fails the revision at its progress deadline and it stays failed for two deadlines,
    // with its one pod crash-looping (the same pod: nothing recreates it meanwhile).
    ns.wait_revision_ready(&r2, "False", ROLLOUT);
    let pods = ns.revision_pods(&r2);
    assert_eq!(pods.len(), 1, "{pods:?}");
    let until = Instant::now() + 2 * DEADLINE;
    while Instant::now() < until {
        let c = ns.revision_condition(&r2, "Ready");
        assert_eq!(c.0, "False", "{r2} Ready went {c:?} within two progress deadlines");
        assert_eq!(ns.revision_pods(&r2), pods, "{r2}'s pods changed within two progress deadlines");
        std::thread::sleep(Duration::from_millis(500));
    }
    status_then_rollback(&ns, name);
}

#[test]
fn image_that_cannot_be_pulled_fails_and_rolls_back() {
    let ns = Ns::new("fail-pull");
    let name = "nopull";
    let r2 = rev(name, 2);
    ns.knobs(false, json!([{"match": "2.0/model", "imagePull": true}]));
    ns.create_ready_failing_fast(name, MODEL_1);
    let out =
        ns.plugin(["set", name, "10", "--model-uri", MODEL_2, "--wait", "--fail-window", "3s", "--timeout", "5m"]);
    eprintln!("[failures] set --wait (image pull): exit {:?}\n{}", out.code, out.stderr);
    out.code(4).stderr_has(&format!("rollout failed: {r2} "));
    // KServe's ConfigurationReady carries Knative's message: the kubelet's waiting message.
    assert!(out.stderr.contains("pulling image") || out.stderr.contains("pull and unpack image"), "{}", out.describe());
    // Its pod never started: Pending, waiting on the image.
    let sel = format!("serving.knative.dev/revision={r2}");
    let phase =
        ns.kubectl(["get", "pods", "-l", sel.as_str(), "-o", "jsonpath={.items[*].status.phase}"]).ok().stdout.clone();
    assert!(phase.split_whitespace().all(|p| p == "Pending"), "{phase}");
    status_then_rollback(&ns, name);
}

#[test]
fn unschedulable_canary_fails_and_rolls_back() {
    let ns = Ns::new("fail-sched");
    let name = "huge";
    let r2 = rev(name, 2);
    ns.create_ready_failing_fast(name, MODEL_1);
    // A canary asking for more CPU than the one Node has (someone else's edit: the plugin does not
    // set resources); then `set 10 --wait` finds the split asked for and waits for it.
    let patch = json!({"spec": {"predictor": {"canaryTrafficPercent": 10,
        "model": {"storageUri": MODEL_2, "resources": {"requests": {"cpu": "1000"}, "limits": {"cpu": "1000"}}}}}});
    ns.kubectl(["patch", "inferenceservice.serving.kserve.io", name, "--type=merge", "-p", &patch.to_string()]).ok();
    let out = ns.plugin(["set", name, "10", "--wait", "--fail-window", "3s", "--timeout", "5m"]);
    eprintln!("[failures] set --wait (unschedulable): exit {:?}\n{}", out.code, out.stderr);
    out.code(4).stderr_has(&format!("rollout failed: {r2} ")).stderr_has("Insufficient cpu");
    let sel = format!("serving.knative.dev/revision={r2}");
    let reasons = ns
        .kubectl([
            "get",
            "pods",
            "-l",
            sel.as_str(),
            "-o",
            r#"jsonpath={.items[*].status.conditions[?(@.type=="PodScheduled")].reason}"#,
        ])
        .ok()
        .stdout
        .clone();
    assert!(reasons.split_whitespace().all(|r| r == "Unschedulable"), "{reasons}");
    status_then_rollback(&ns, name);
}

#[test]
fn wait_after_a_traffic_change_waits_for_the_ingress() {
    let ns = Ns::new("wait-ingress");
    let name = "gw";
    let delay = Duration::from_secs(4);
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "isvc-sim", "namespace": ns.name},
        "data": {"ingressDelay": format!("{}s", delay.as_secs())}});
    ns.apply(&cm.to_string());
    ns.create_ready(name, MODEL_1);
    let started = Instant::now();
    let out = ns.plugin(["set", name, "30", "--wait", "--timeout", "5m"]);
    let took = started.elapsed();
    out.ok();
    // The gateway programs the change `delay` after it sees it: no correct wait ends sooner, and
    // when it ends the route and the ingress say so.
    assert!(took >= delay, "set --wait ended after {took:?}, before the ingress could be programmed ({delay:?})");
    let v = ns.get(name);
    for c in ["IngressReady", "PredictorRouteReady"] {
        assert_eq!(condition(&v, c), "True", "{c} at the end of the wait\n{v}");
    }
    let lb = ns
        .kubectl([
            "get",
            "ingresses.networking.internal.knative.dev",
            &format!("{name}-predictor"),
            "-o",
            r#"jsonpath={.status.conditions[?(@.type=="LoadBalancerReady")].status}"#,
        ])
        .ok()
        .stdout
        .clone();
    assert_eq!(lb, "True");
}

#[test]
fn revision_at_zero_is_not_failed() {
    let ns = Ns::new("zero");
    let name = "idle";
    let (r1, r2) = (rev(name, 1), rev(name, 2));
    ns.create_ready_with(name, MODEL_1, json!({}), json!({"minReplicas": 0}));
    // Knative's autoscaler scales the idle revision to zero; it stays Ready.
    let start = Instant::now();
    while !ns.revision_pods(&r1).is_empty() {
        assert!(start.elapsed() < ROLLOUT, "{r1} was not scaled to zero");
        std::thread::sleep(Duration::from_millis(500));
    }
    let out = ns.plugin(["status", name]);
    eprintln!("[failures] status at zero:\n{}", out.stdout);
    out.ok();
    assert!(!out.stdout.contains(" failed: "), "{}", out.describe());
    assert!(revision_entry(&ns, name, &r1)["failure"].is_null(), "a revision at zero is not failed");
    let out = ns.plugin(["set", name, "10", "--model-uri", MODEL_2, "--wait", "--timeout", "5m"]);
    eprintln!("[failures] set --wait at zero: exit {:?}\n{}", out.code, out.stderr);
    out.ok();
    let out = ns.plugin(["promote", name, "--wait", "--timeout", "5m"]);
    eprintln!("[failures] promote --wait at zero: exit {:?}\n{}", out.code, out.stderr);
    out.ok();
    let v = ns.get(name);
    assert_eq!(traffic(&v), vec![(r2.clone(), 100, String::new(), true)]);
}

#[test]
fn slow_model_is_waited_for_not_failed() {
    let ns = Ns::new("slow-model");
    let name = "slow";
    let ready_after = Duration::from_secs(30);
    ns.knobs(false, json!([{"match": "2.0/model", "readyDelay": format!("{}s", ready_after.as_secs())}]));
    ns.create_ready(name, MODEL_1);
    let started = Instant::now();
    let out = ns.plugin(["set", name, "10", "--model-uri", MODEL_2, "--wait", "--timeout", "5m"]);
    let took = started.elapsed();
    eprintln!("[failures] set --wait (slow model): exit {:?} after {took:?}\n{}", out.code, out.stderr);
    out.ok();
    assert!(took >= ready_after, "ended after {took:?}, before the model could be ready");
    assert_eq!(ns.revision_condition(&rev(name, 2), "Ready").0, "True");
}

#[test]
fn canary_that_crash_loops_after_it_was_ready_is_failed_and_not_promoted() {
    let ns = Ns::new("fail-oom");
    let name = "oom";
    let r2 = rev(name, 2);
    // The model server of model 2 is OOMKilled 3 s after each start: it is ready first.
    ns.knobs(false, json!([{"match": "2.0/model", "oomAfter": "3s"}]));
    ns.create_ready_failing_fast(name, MODEL_1);
    let out = ns.plugin(["set", name, "10", "--model-uri", MODEL_2, "--wait", "--timeout", "5m"]);
    eprintln!("[failures] set --wait (OOMKilled after start): exit {:?}\n{}", out.code, out.stderr);
    out.ok();
    // Once it has crashed and been restarted once (the kubelet's back-off then leaves it down for
    // 20 s), status shows it failed, twice in a row.
    let start = Instant::now();
    let shown = |ns: &Ns| {
        let e = revision_entry(ns, name, &r2);
        e["failure"].as_str() == Some("ModelLoadFailed: exit code 137")
    };
    loop {
        let sel = format!("serving.knative.dev/revision={r2}");
        let restarts = ns
            .kubectl([
                "get",
                "pods",
                "-l",
                sel.as_str(),
                "-o",
                "jsonpath={.items[*].status.containerStatuses[?(@.name==\"kserve-container\")].restartCount}",
            ])
            .stdout
            .clone();
        if restarts.trim().parse::<u32>().unwrap_or(0) >= 1 && shown(&ns) {
            std::thread::sleep(Duration::from_secs(1));
            if shown(&ns) {
                break;
            }
        }
        assert!(start.elapsed() < ROLLOUT, "{r2} was never shown failed");
        std::thread::sleep(Duration::from_millis(500));
    }
    let out = ns.plugin(["status", name]);
    eprintln!("[failures] status (OOMKilled):\n{}", out.stdout);
    out.ok().stdout_has(&format!("{r2} failed: ModelLoadFailed: exit code 137"));
    let out = ns.plugin(["promote", name]);
    eprintln!("[failures] promote (OOMKilled): exit {:?}\n{}", out.code, out.stderr);
    out.code(7).stderr_has("failing after it was ready").stderr_has("--force");
    status_then_rollback_ready(&ns, name);
}

/// `rollback --wait` of a canary that was ready: back to r1 at 100 %.
fn status_then_rollback_ready(ns: &Ns, name: &str) {
    let out = ns.plugin(["rollback", name, "--wait", "--timeout", "5m"]);
    eprintln!("[failures] rollback {name} --wait: exit {:?}\n{}", out.code, out.stderr);
    out.ok().stderr_has(&rev(name, 1));
    let v = ns.get(name);
    assert_eq!(traffic(&v).iter().find(|t| t.2 == "prev").map(|t| (t.0.clone(), t.1)), Some((rev(name, 1), 100)));
}
