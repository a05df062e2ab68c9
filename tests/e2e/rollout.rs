//! Progressive rollouts on the real cluster, kubectl (and the audit log) as the oracle: a good
//! model promoted step by step, a smoke gate that fails on a model answering 500, a rollout
//! killed in its hold and resumed, one rollout at a time with pause/resume/abort from another
//! process, a model that never loads, an exec gate that fails on the second step.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::*;

/// The NDJSON events of `rollout -o json`.
fn events(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {l}")))
        .collect()
}

fn reasons(evs: &[Value]) -> Vec<String> {
    evs.iter().map(|e| e["reason"].as_str().unwrap_or_default().to_string()).collect()
}

/// The percents of the CanaryStepApplied events, in order.
fn applied_percents(evs: &[Value]) -> Vec<i64> {
    evs.iter().filter(|e| e["reason"] == "CanaryStepApplied").filter_map(|e| e["percent"].as_i64()).collect()
}

/// The rollout's record in its Lease, as kubectl reads it.
fn lease_state(ns: &Ns, name: &str) -> Option<Value> {
    let out = ns.kubectl(["get", "lease", &format!("isvc-canary-{name}"), "-o", "json"]);
    if out.code != Some(0) {
        return None;
    }
    let lease = out.json();
    let text = lease["metadata"]["annotations"]["isvc-canary.kserve.io/rollout"].as_str()?.to_string();
    let mut state: Value = serde_json::from_str(&text).ok()?;
    state["holder"] = lease["spec"]["holderIdentity"].clone();
    Some(state)
}

fn wait_lease(ns: &Ns, name: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        if let Some(s) = lease_state(ns, name)
            && pred(&s)
        {
            return s;
        }
        assert!(
            start.elapsed() < ROLLOUT,
            "timed out waiting for the lease to show {what}: {:?}",
            lease_state(ns, name)
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The Kubernetes Events on the InferenceService written by the plugin, oldest first.
fn k8s_events(ns: &Ns, name: &str) -> Vec<(String, String)> {
    let out = ns.kubectl(["get", "events", "--field-selector", &format!("involvedObject.name={name}"), "-o", "json"]);
    let mut items: Vec<Value> = out.ok().json()["items"].as_array().cloned().unwrap_or_default();
    items.retain(|e| e["source"]["component"] == "kubectl-isvc-canary");
    items.sort_by_key(|e| {
        (
            e["lastTimestamp"].as_str().unwrap_or_default().to_string(),
            e["metadata"]["creationTimestamp"].as_str().unwrap_or_default().to_string(),
            e["metadata"]["resourceVersion"].as_str().and_then(|r| r.parse::<u64>().ok()).unwrap_or(0),
        )
    });
    items
        .iter()
        .map(|e| {
            (
                e["reason"].as_str().unwrap_or_default().to_string(),
                e["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn assert_rolled_back(ns: &Ns, name: &str) {
    let v = ns.get(name);
    assert_eq!(v["spec"]["predictor"]["canaryTrafficPercent"], 0, "rolled back: ctp 0");
    let t = traffic(&v);
    assert!(
        t.iter().any(|(r, p, tag, _)| r == &rev(name, 1) && *p == 100 && tag == "prev"),
        "100% back on the first revision: {t:?}"
    );
}

#[test]
fn rollout_of_a_good_model_ends_promoted_and_tells_the_same_story_everywhere() {
    let ns = Ns::new("rollout-good");
    let name = "good";
    ns.create_ready(name, MODEL_1);
    let watch = ns.plugin_spawn(["status", name, "--watch", "-o", "json"]);
    std::thread::sleep(Duration::from_secs(2));
    let ingress = ns.cluster.ingress.clone();
    let out = ns.plugin([
        "rollout",
        name,
        "--model-uri",
        MODEL_2,
        "--steps",
        "10,50,100",
        "--pause",
        "2s",
        "--smoke",
        "--gate-interval",
        "1s",
        "--ingress",
        &ingress,
        "-o",
        "json",
    ]);
    std::thread::sleep(Duration::from_secs(2));
    let seen = watch.stop();
    out.ok();
    let evs = events(&out.stdout);
    assert_eq!(applied_percents(&evs), vec![10, 50, 100], "{}", out.describe());
    assert_eq!(reasons(&evs).first().map(String::as_str), Some("RolloutStarted"));
    assert_eq!(reasons(&evs).last().map(String::as_str), Some("Promoted"), "{}", out.describe());
    // The smoke gate's request reached the canary itself (its revision answered), at each step
    // before 100.
    let gates: Vec<&Value> = evs.iter().filter(|e| e["reason"] == "GatePassed").collect();
    assert!(!gates.is_empty(), "{}", out.describe());
    for g in gates {
        assert_eq!(g["gate"]["answeredBy"], rev(name, 2).as_str(), "{g}");
    }
    // kubectl: the new revision serves 100%; tag routing came on in step 1's own patch, so no
    // revision was cut for it alone (the second revision is the canary).
    let v = ns.get(name);
    assert_eq!(traffic(&v), vec![(rev(name, 2), 100, "latest".into(), true)]);
    assert_eq!(v["metadata"]["annotations"]["serving.kserve.io/enable-tag-routing"], "true");
    assert_eq!(v["status"]["components"]["predictor"]["latestCreatedRevision"], rev(name, 2).as_str());
    // status --watch saw each split, in order.
    let mut splits: Vec<i64> = Vec::new();
    for line in seen.stdout.lines() {
        let o: Value = serde_json::from_str(line).expect("status --watch -o json line");
        let latest = o["components"]["predictor"]["traffic"]
            .as_array()
            .and_then(|t| t.iter().find(|e| e["latest"] == true && e["revision"] == rev(name, 2).as_str()))
            .and_then(|e| e["percent"].as_i64());
        if let Some(p) = latest
            && splits.last() != Some(&p)
        {
            splits.push(p);
        }
    }
    let order: Vec<i64> = splits.iter().copied().filter(|p| [10, 50, 100].contains(p)).collect();
    assert_eq!(order, vec![10, 50, 100], "status --watch saw the splits in order: {splits:?}");
    // The Kubernetes Events say the same.
    let k = k8s_events(&ns, name);
    let steps: Vec<&String> = k.iter().filter(|(r, _)| r == "CanaryStepApplied").map(|(_, m)| m).collect();
    assert_eq!(steps.len(), 3, "{k:#?}");
    assert!(steps[0].starts_with("10% ") && steps[1].starts_with("50% ") && steps[2].starts_with("promoted"), "{k:#?}");
    assert!(k.iter().any(|(r, _)| r == "Promoted"), "{k:#?}");
    // history: the revision with its traffic, and the rollout's outcome.
    let h = ns.plugin(["history", name, "-o", "json"]).ok().json();
    assert_eq!(h["revisions"][0]["name"], rev(name, 2).as_str());
    assert_eq!(h["revisions"][0]["model"], MODEL_2);
    let percents: Vec<i64> =
        h["revisions"][0]["traffic"].as_array().unwrap().iter().filter_map(|t| t["percent"].as_i64()).collect();
    assert_eq!(percents, vec![10, 50, 100]);
    // The revision that served before kept the rest of each split, until the promotion.
    assert_eq!(h["revisions"][1]["name"], rev(name, 1).as_str());
    let stable: Vec<i64> =
        h["revisions"][1]["traffic"].as_array().unwrap().iter().filter_map(|t| t["percent"].as_i64()).collect();
    assert_eq!(stable, vec![90, 50, 0]);
    assert_eq!(h["revisions"][1]["traffic"][0]["role"], "stable");
    assert_eq!(h["rollouts"][0]["outcome"], "promoted");
    let text = ns.plugin(["history", name]).ok().stdout.clone();
    assert!(text.contains("(promoted)") && text.contains(MODEL_1), "{text}");
    // The lease is released, the outcome recorded.
    let s = lease_state(&ns, name).expect("lease");
    assert_eq!((s["phase"].as_str(), s["holder"].as_str()), (Some("promoted"), Some("")));
    // undo: the first revision's model back, at once, as a new revision.
    ns.plugin(["undo", name, "--to-revision", "1", "--promote", "--wait"]).ok().stdout_has("promoted");
    let v = ns.get(name);
    assert_eq!(v["spec"]["predictor"]["model"]["storageUri"], MODEL_1);
    assert_eq!(traffic(&v), vec![(rev(name, 3), 100, "latest".into(), true)]);
}

#[test]
fn smoke_gate_on_a_model_answering_500_rolls_back_at_step_1() {
    let ns = Ns::new("rollout-smoke-500");
    let name = "errs";
    ns.create_ready(name, MODEL_1);
    ns.knobs(false, json!([{"match": "sklearn/2.0", "errorRate": 1}]));
    let ingress = ns.cluster.ingress.clone();
    let out = ns.plugin([
        "rollout",
        name,
        "--model-uri",
        MODEL_2,
        "--steps",
        "10,50,100",
        "--pause",
        "2s",
        "--smoke",
        "--ingress",
        &ingress,
        "-o",
        "json",
    ]);
    out.code(4)
        .stderr_has("gate smoke failed at step 1 of 3 (10%): HTTP 500 against a threshold of HTTP 200")
        .stderr_has(&format!("rolled back: 100% of traffic to {}", rev(name, 1)));
    let evs = events(&out.stdout);
    let failed: Vec<&Value> = evs.iter().filter(|e| e["reason"] == "GateFailed").collect();
    assert_eq!(failed.len(), 1, "{}", out.describe());
    // The request went through the canary's own URL: its revision answered.
    assert_eq!(failed[0]["gate"]["answeredBy"], rev(name, 2).as_str(), "{}", failed[0]);
    assert_eq!(failed[0]["step"], 1);
    assert_eq!(applied_percents(&evs), vec![10]);
    assert_eq!(reasons(&evs).last().map(String::as_str), Some("RolledBack"));
    assert_rolled_back(&ns, name);
    let k = k8s_events(&ns, name);
    assert!(k.iter().any(|(r, m)| r == "GateFailed" && m.contains("HTTP 500")), "{k:#?}");
    assert!(k.iter().any(|(r, _)| r == "RolledBack"), "{k:#?}");
    assert_eq!(lease_state(&ns, name).expect("lease")["phase"], "rolled-back");
}

#[test]
fn a_rollout_killed_in_its_hold_resumes_from_that_step_without_writing_it_again() {
    let ns = Ns::new("rollout-resume");
    let name = "killed";
    ns.create_ready(name, MODEL_1);
    let first = ns.plugin_spawn([
        "rollout",
        name,
        "--model-uri",
        MODEL_2,
        "--steps",
        "10,50,100",
        "--pause",
        "25s",
        "--lease-duration",
        "4s",
        "-o",
        "json",
    ]);
    wait_lease(&ns, name, "step 1 applied and holding", |s| s["step"] == 0 && s["applied"] == true);
    let pid = first.pid();
    let mark = ns.audit_mark();
    let killed = first.stop();
    assert_eq!(applied_percents(&events(&killed.stdout)), vec![10], "{}", killed.describe());
    // While its lease has not run out, nobody takes over: refused, naming the holder.
    let early = ns.plugin(["rollout", name, "--resume"]);
    early.code(7).stderr_has(&format!("/{pid}"));
    std::thread::sleep(Duration::from_secs(5));
    let out = ns.plugin(["rollout", name, "--resume", "-o", "json"]);
    out.ok();
    let evs = events(&out.stdout);
    assert_eq!(reasons(&evs).first().map(String::as_str), Some("RolloutResumed"), "{}", out.describe());
    assert_eq!(applied_percents(&evs), vec![50, 100], "the applied step is not applied again\n{}", out.describe());
    assert_eq!(traffic(&ns.get(name)), vec![(rev(name, 2), 100, String::new(), true)]);
    // The audit log: after the kill, exactly two writes to the InferenceService (50%, then the
    // promotion), none for the step that was already applied.
    let audit = ns.audit_since(mark, "", |ev| {
        ev.iter().filter(|e| e.verb == "patch" && e.resource == "inferenceservices").count() >= 2
    });
    let patches: Vec<&AuditEvent> =
        audit.iter().filter(|e| e.verb == "patch" && e.resource == "inferenceservices" && e.code == 200).collect();
    assert_eq!(patches.len(), 2, "{patches:#?}");
    let s = lease_state(&ns, name).expect("lease");
    assert_eq!(s["phase"], "promoted");
}

#[test]
fn one_rollout_at_a_time_and_pause_resume_abort_from_another_process() {
    let ns = Ns::new("rollout-control");
    let name = "driven";
    ns.create_ready(name, MODEL_1);
    let dir = std::env::temp_dir().join(format!("rollout-control-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let plan = dir.join("plan.yaml");
    std::fs::write(&plan, "steps: [{percent: 10, pause: 1s}, pause, {percent: 50, pause: 10m}, 100]\n").expect("plan");
    let runner = ns.plugin_spawn([
        "rollout",
        name,
        "--model-uri",
        MODEL_2,
        "--plan",
        plan.to_str().unwrap(),
        "--lease-duration",
        "6s",
    ]);
    let pid = runner.pid();
    wait_lease(&ns, name, "the manual pause", |s| s["phase"] == "paused" && s["step"] == 1);
    // A second rollout is refused, naming the first.
    let second = ns.plugin(["rollout", name, "--model-uri", MODEL_3, "--steps", "10,100"]);
    second.code(7).stderr_has(&format!("/{pid}")).stderr_has("is running");
    // resume ends the manual step.
    ns.plugin(["resume", name]).ok().stdout_has("resumed");
    wait_lease(&ns, name, "step 3 (50%) holding", |s| s["step"] == 2 && s["applied"] == true);
    ns.plugin(["pause", name]).ok().stdout_has("paused at step 3 of 4 (50%)");
    assert_eq!(lease_state(&ns, name).expect("lease")["phase"], "paused");
    ns.plugin(["resume", name]).ok();
    assert_eq!(lease_state(&ns, name).expect("lease")["phase"], "running");
    ns.plugin(["abort", name]).ok().stdout_has("aborted");
    let ended = runner.finish();
    ended.code(4).stderr_has("aborted by");
    assert_rolled_back(&ns, name);
    assert_eq!(lease_state(&ns, name).expect("lease")["phase"], "aborted");
    let k = k8s_events(&ns, name);
    for reason in ["RolloutPaused", "RolloutResumedByUser", "RolloutAborted"] {
        assert!(k.iter().any(|(r, _)| r == reason), "{reason}: {k:#?}");
    }
    // Nothing left to act on.
    ns.plugin(["pause", name]).code(7).stderr_has("no rollout of driven is in progress");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_model_that_never_loads_ends_4_without_running_the_gates() {
    let ns = Ns::new("rollout-noload");
    let name = "noload";
    ns.create_ready(name, MODEL_1);
    let marker = std::env::temp_dir().join(format!("rollout-gate-ran-{}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    let touch = format!("touch {}", marker.display());
    let out = ns.plugin([
        "rollout",
        name,
        "--model-uri",
        MODEL_FAIL,
        "--steps",
        "10,100",
        "--exec",
        &touch,
        "--fail-window",
        "3s",
    ]);
    out.code(4).stderr_has("rollout failed").stderr_has("rolled back");
    assert!(!marker.exists(), "no gate runs on a revision that never became ready");
    assert!(out.stdout.contains("CanaryFailed"), "{}", out.describe());
    let v = ns.get(name);
    assert_eq!(v["spec"]["predictor"]["canaryTrafficPercent"], 0);
    assert_eq!(lease_state(&ns, name).expect("lease")["phase"], "rolled-back");
}

#[test]
fn an_exec_gate_failing_on_the_second_step_rolls_back_with_its_output() {
    let ns = Ns::new("rollout-exec");
    let name = "execd";
    ns.create_ready(name, MODEL_1);
    let gate = r#"if [ "$ISVC_CANARY_STEP" = 2 ]; then echo "p99 too high at $ISVC_CANARY_PERCENT% on $ISVC_CANARY_REVISION"; exit 3; fi"#;
    let out = ns.plugin(["rollout", name, "--model-uri", MODEL_2, "--steps", "10,50,100", "--exec", gate]);
    out.code(4)
        .stderr_has("failed at step 2 of 3 (50%): exit 3 against a threshold of exit 0")
        .stderr_has(&format!("p99 too high at 50% on {}", rev(name, 2)));
    assert!(out.stdout.contains("GateFailed step 2/3 50%"), "{}", out.describe());
    assert_rolled_back(&ns, name);
}

#[test]
fn ctrl_c_in_a_hold_leaves_the_step_applied_and_resume_goes_on_at_once() {
    let ns = Ns::new("rollout-ctrl-c");
    let name = "interrupted";
    ns.create_ready(name, MODEL_1);
    let run = ns.plugin_spawn(["rollout", name, "--model-uri", MODEL_2, "--steps", "10,100", "--pause", "5m"]);
    wait_lease(&ns, name, "step 1 holding", |s| s["step"] == 0 && s["applied"] == true);
    let pid = rustix::process::Pid::from_raw(run.pid() as i32).expect("pid");
    rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("SIGINT");
    let out = run.finish();
    out.code(130).stderr_has("interrupted while holding the step").stderr_has(&format!(
        "the rollout stopped at step 1 of 2 (10%), which is applied; nothing was reverted; continue with `kubectl isvc-canary -n {} rollout {name} --resume`",
        ns.name
    ));
    // The step stays; the lease is released for the next process.
    assert_eq!(traffic(&ns.get(name))[0], (rev(name, 2), 10, String::new(), true));
    let s = lease_state(&ns, name).expect("lease");
    assert_eq!((s["phase"].as_str(), s["holder"].as_str()), (Some("interrupted"), Some("")));
    // A new rollout is refused while this one is unfinished.
    ns.plugin(["rollout", name, "--model-uri", MODEL_3]).code(7).stderr_has("--resume");
    // --resume takes the released lease at once (no lease duration to wait out), and holds what
    // is left of the pause.
    let resumed = ns.plugin_spawn(["rollout", name, "--resume", "--lease-duration", "3s"]);
    let taken = wait_lease(&ns, name, "taken over", |s| s["holder"] != "" && s["phase"] == "running");
    assert_eq!(taken["step"], 0);
    // Its process dies too: abort waits for the lease to run out, then rolls back itself.
    resumed.stop();
    ns.plugin(["abort", name]).ok().stdout_has("aborted");
    assert_rolled_back(&ns, name);
    assert_eq!(lease_state(&ns, name).expect("lease")["phase"], "aborted");
    let k = k8s_events(&ns, name);
    assert!(k.iter().any(|(r, _)| r == "RolloutInterrupted"), "{k:#?}");
    assert!(k.iter().any(|(r, _)| r == "RolloutAborted"), "{k:#?}");
}

#[test]
fn a_gate_that_stays_inconclusive_never_passes_the_step_and_times_out() {
    let ns = Ns::new("rollout-inconclusive");
    let name = "unsure";
    ns.create_ready(name, MODEL_1);
    // Nothing listens on port 1: every smoke request fails to connect, which decides nothing.
    let out = ns.plugin([
        "rollout",
        name,
        "--model-uri",
        MODEL_2,
        "--steps",
        "10,100",
        "--smoke",
        "--ingress",
        "127.0.0.1:1",
        "--gate-interval",
        "1s",
        "--timeout",
        "4s",
    ]);
    out.code(3).stderr_has("holding the step: smoke is inconclusive").stderr_has("which is applied");
    assert_eq!(traffic(&ns.get(name))[0], (rev(name, 2), 10, "latest".into(), true), "held at step 1, not promoted");
    assert_eq!(lease_state(&ns, name).expect("lease")["phase"], "interrupted");
}
