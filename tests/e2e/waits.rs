//! The waits of issue 5 against the real controllers, driven by the fakes' knobs. No timing is
//! asserted; limits are generous and only keep a broken wait from hanging the run.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::*;

#[test]
fn already_there_returns_at_once_and_sends_nothing() {
    let ns = Ns::new("wait-already");
    let name = "done";
    ns.create_ready(name, MODEL_1);
    ns.plugin(["wait", name, "--for=ready", "--timeout", "60s"])
        .ok()
        .stdout_is("inferenceservice.serving.kserve.io/done condition met\n");
    ns.plugin(["wait", name, "--for=promoted", "--timeout", "60s"]).ok();
    ns.plugin(["wait", "--for=traffic=100", "--timeout", "60s"]).ok();
    let mark = ns.audit_mark();
    let out = ns.plugin(["promote", name, "--wait", "--timeout", "60s"]);
    out.ok().stdout_is("inferenceservice.serving.kserve.io/done unchanged\n");
    let out = ns.plugin(["tag-routing", name, "off", "--wait", "--timeout", "60s"]);
    out.ok().stdout_is("inferenceservice.serving.kserve.io/done unchanged\n");
    // A no-op write is not sent.
    ns.assert_no_write_after_read(mark, &ns.cluster.token_user, name, 2);
    // Not there and nothing will change: a wait --for times out with 3 and says what it saw.
    let out = ns.plugin(["wait", name, "--for=traffic=10", "--timeout", "3s"]);
    out.code(3).stderr_has("timed out");
}

#[test]
fn slow_revision_times_out_with_3_and_keeps_the_change() {
    let ns = Ns::new("wait-timeout");
    let name = "slow";
    ns.knobs(false, json!([{"match": "2.0/model", "readyDelay": "30m"}]));
    ns.create_ready(name, MODEL_1);
    let out = ns.plugin(["set", name, "10", "--model-uri", MODEL_2, "--wait", "--timeout", "5s"]);
    out.code(3).stderr_has("timed out").stderr_has("undo");
    let v = ns.get(name);
    assert_eq!(v["spec"]["predictor"]["canaryTrafficPercent"], 10, "nothing is reverted");
    assert_eq!(v["spec"]["predictor"]["model"]["storageUri"], MODEL_2);
    // A wait --for on the same state also times out.
    ns.plugin(["wait", name, "--for=traffic=10", "--timeout", "3s"]).code(3);
}

#[test]
fn failing_model_exits_4_and_status_shows_the_failed_revision() {
    let ns = Ns::new("wait-fail");
    let name = "broken";
    ns.create_ready(name, MODEL_1);
    let out =
        ns.plugin(["set", name, "10", "--model-uri", MODEL_FAIL, "--wait", "--fail-window", "3s", "--timeout", "5m"]);
    out.code(4).stderr_has("rollout failed").stderr_has(&rev(name, 2));
    // status: r2 as the failed latest created revision without traffic, its reason on a line of
    // its own under the table (-o wide for the model column).
    let out = ns.plugin(["status", name, "-o", "wide"]);
    let rows = revision_rows(&out.ok().stdout);
    let r2 = rows.iter().find(|r| r["REVISION"] == rev(name, 2)).unwrap_or_else(|| panic!("no row {}", out.describe()));
    assert_eq!(
        (r2["MODEL"].as_str(), r2["TRAFFIC"].as_str(), r2["ROLE"].as_str()),
        (MODEL_FAIL, "0%", "latest-created"),
        "{}",
        out.describe()
    );
    let failure = format!("{} failed: ", rev(name, 2));
    assert!(out.stdout.lines().any(|l| l.starts_with(&failure)), "no failure line\n{}", out.describe());
    let j = ns.plugin(["status", name, "-o", "json"]).ok().json();
    let p = &j["components"]["predictor"];
    assert_eq!(p["latestCreatedRevision"], rev(name, 2).as_str());
    assert_eq!(p["latestReadyRevision"], rev(name, 1).as_str());
    let revisions = p["revisions"].as_array().expect("revisions");
    assert!(
        revisions.iter().any(|r| r["name"] == rev(name, 2).as_str()
            && r["percent"] == 0
            && r["failure"].as_str().is_some_and(|s| !s.is_empty())),
        "{j}"
    );
    // A failing pod is listed as kubectl lists it.
    assert!(
        p["pods"].as_array().unwrap().iter().any(|pod| pod["revision"] == rev(name, 2).as_str()
            && pod["status"].as_str().unwrap_or_default().starts_with("Init:")),
        "{j}"
    );
    ns.assert_status_matches_kubectl(name);
    // promote is refused; rollback pins r1 and says the failed revision stays.
    ns.plugin(["promote", name]).code(7).stderr_has("--force");
    let out = ns.plugin(["rollback", name, "--wait", "--timeout", "5m"]);
    out.ok().stderr_has(&rev(name, 1)).stderr_has(MODEL_1);
    let v = ns.get(name);
    assert_eq!(traffic(&v).iter().find(|t| t.2 == "prev").map(|t| (t.0.clone(), t.1)), Some((rev(name, 1), 100)));
}

#[test]
fn wait_for_ends_when_someone_else_s_change_lands() {
    let ns = Ns::new("wait-for");
    let name = "watched";
    let (r1, r2) = (rev(name, 1), rev(name, 2));
    ns.create_ready(name, MODEL_1);
    let patch = |body: &str| {
        ns.kubectl(["patch", "inferenceservice.serving.kserve.io", name, "--type=merge", "-p", body]).ok();
    };

    // traffic=30 after someone sets ctp 30 with kubectl (no new model: both entries on r1).
    let waiting = ns.plugin_spawn(["wait", name, "--for=traffic=30", "--timeout", "5m"]);
    std::thread::sleep(Duration::from_secs(2));
    patch(r#"{"spec":{"predictor":{"canaryTrafficPercent":30}}}"#);
    waiting.finish().ok().stdout_is("inferenceservice.serving.kserve.io/watched condition met\n");
    assert_eq!(
        traffic(&ns.get(name)),
        vec![(r1.clone(), 30, String::new(), true), (r1.clone(), 70, "prev".into(), false)]
    );

    // A canary of model 2 (through the plugin), then promoted by someone else: the wait ends
    // only when r2 is the rolled-out revision, alone at 100%.
    ns.plugin(["set", name, "10", "--model-uri", MODEL_2, "--wait"]).ok();
    let waiting = ns.plugin_spawn(["wait", name, "--for=promoted", "--timeout", "5m"]);
    std::thread::sleep(Duration::from_secs(2));
    patch(r#"{"spec":{"predictor":{"canaryTrafficPercent":null}}}"#);
    waiting.finish().ok();
    let v = ns.get(name);
    assert_eq!(traffic(&v), vec![(r2.clone(), 100, String::new(), true)]);
    assert_eq!(v["status"]["components"]["predictor"]["latestRolledoutRevision"], r2.as_str());

    // rolled-back after someone pins with kubectl: not at the transient pass of facts §4.5-6
    // (prev still on r2), only once prev is r1 at 100%.
    let waiting = ns.plugin_spawn(["wait", name, "--for=rolled-back", "--timeout", "5m"]);
    std::thread::sleep(Duration::from_secs(2));
    patch(r#"{"spec":{"predictor":{"canaryTrafficPercent":0}}}"#);
    waiting.finish().ok();
    assert_eq!(
        traffic(&ns.get(name)),
        vec![(r2.clone(), 0, String::new(), true), (r1.clone(), 100, "prev".into(), false)]
    );
}

#[test]
fn each_wait_succeeds_with_a_flapping_revision_inside_the_window() {
    let ns = Ns::new("wait-flap");
    let name = "flappy";
    // Model 1's pod, once ready, toggles its readiness every 2 s (4 s a round); model 2's pod
    // becomes ready only 10 s after its containers start. The wait for the split needs a ready
    // pod of both revisions, so it cannot end before model 2's pod is ready, more than two flap
    // rounds after the wait began: model 1's pod drops out of Ready at least once while the
    // plugin waits, whenever the wait starts.
    ns.knobs(false, json!([{"match": "1.0/model", "flap": "2s"}, {"match": "2.0/model", "readyDelay": "10s"}]));
    ns.create_ready(name, MODEL_1);
    // kubectl watches every pod of the InferenceService from before the wait to after it.
    let pods = ns.watch_readiness(&format!("serving.kserve.io/inferenceservice={name}"));
    pods.wait_listed(1);
    let started = Instant::now();
    let out = ns.plugin(["set", name, "10", "--model-uri", MODEL_2, "--wait", "--timeout", "5m"]);
    let ended = Instant::now();
    let seen = pods.stop();
    let drops = readiness_drops(&seen, started, ended);
    let when: Vec<String> = drops.iter().map(|d| format!("{} at +{:.1?}", d.pod, d.at - started)).collect();
    eprintln!("the wait took {:.1?}; dropped out of Ready meanwhile: {when:?}", ended - started);
    assert!(
        drops.iter().any(|d| d.revision == rev(name, 1)),
        "a pod of {} went from Ready to not Ready while the plugin waited ({:?}); kubectl saw: {seen:#?}\n{}",
        rev(name, 1),
        ended - started,
        out.describe()
    );
    // Only with a flap inside the window does success mean something.
    out.ok().stdout_is("inferenceservice.serving.kserve.io/flappy canary set\n");
    let v = ns.get(name);
    assert_eq!(traffic(&v).first().map(|t| (t.0.clone(), t.1)), Some((rev(name, 2), 10)));
}

#[test]
fn status_watch_json_emits_one_object_per_change() {
    let ns = Ns::new("status-watch");
    let name = "seen";
    ns.create_ready(name, MODEL_1);
    let watch = ns.plugin_spawn(["status", name, "--watch", "-o", "json"]);
    std::thread::sleep(Duration::from_secs(3));
    ns.plugin(["set", name, "10", "--model-uri", MODEL_2, "--wait"]).ok();
    std::thread::sleep(Duration::from_secs(3));
    let out = watch.stop();
    let objects: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {l}\n{}", out.describe()))
        })
        .collect();
    assert!(objects.len() >= 2, "the first state and at least one change\n{}", out.describe());
    for o in &objects {
        assert!(o["observedAt"].as_str().is_some_and(|t| t.contains('T')), "observedAt: {o}");
        assert_eq!(o["name"], name);
    }
    // Consecutive objects differ (AGE and observedAt aside).
    let key = |o: &Value| {
        let mut o = o.clone();
        o.as_object_mut().map(|m| m.remove("observedAt"));
        if let Some(cs) = o["components"].as_object_mut() {
            for c in cs.values_mut() {
                if let Some(pods) = c["pods"].as_array_mut() {
                    for p in pods {
                        p.as_object_mut().map(|m| m.remove("age"));
                    }
                }
            }
        }
        o
    };
    for pair in objects.windows(2) {
        assert_ne!(key(&pair[0]), key(&pair[1]), "an object without a change\n{}", out.describe());
    }
    let first = &objects[0]["components"]["predictor"];
    assert_eq!(first["traffic"][0]["revision"], rev(name, 1).as_str());
    let last = &objects.last().unwrap()["components"]["predictor"];
    let t = last["traffic"].as_array().unwrap();
    assert_eq!(
        (t[0]["revision"].as_str(), t[0]["percent"].as_i64()),
        (Some(rev(name, 2).as_str()), Some(10)),
        "{}",
        out.describe()
    );
}

#[test]
fn a_no_op_write_is_not_sent_and_its_wait_ends_only_when_done() {
    let ns = Ns::new("wait-noop");
    let name = "again";
    ns.knobs(false, json!([{"match": "2.0/model", "readyDelay": "8s"}]));
    ns.create_ready(name, MODEL_1);
    ns.plugin(["set", name, "10", "--model-uri", MODEL_2]).ok();
    ns.wait_created(name, 2);
    // The same command again, with --wait: nothing to write, but it waits for the done rule.
    let mark = ns.audit_mark();
    let out = ns.plugin(["set", name, "10", "--model-uri", MODEL_2, "--wait", "--timeout", "5m"]);
    out.ok().stdout_is("inferenceservice.serving.kserve.io/again unchanged\n");
    ns.assert_no_write_after_read(mark, &ns.cluster.token_user, name, 1);
    let v = ns.get(name);
    assert_eq!(
        traffic(&v),
        vec![(rev(name, 2), 10, String::new(), true), (rev(name, 1), 90, "prev".into(), false)],
        "the wait ended only once r2 served its 10%\n{}",
        out.describe()
    );
}

#[test]
fn interrupted_wait_exits_130_and_keeps_the_change() {
    let ns = Ns::new("wait-interrupt");
    let name = "stopped";
    ns.knobs(false, json!([{"match": "2.0/model", "readyDelay": "30m"}]));
    ns.create_ready(name, MODEL_1);
    let running = ns.plugin_spawn(["set", name, "10", "--model-uri", MODEL_2, "--wait"]);
    ns.wait_created(name, 2);
    std::thread::sleep(Duration::from_secs(1));
    crate::proc::Cmd::new("kill").args(["-INT", &running.pid().to_string()]).run().ok();
    let out = running.finish();
    out.code(130).stderr_has(&format!("to undo it: kubectl isvc-canary -n {} rollback {name}\n", ns.name));
    let v = ns.get(name);
    assert_eq!(v["spec"]["predictor"]["canaryTrafficPercent"], 10, "nothing is reverted");
    assert_eq!(v["spec"]["predictor"]["model"]["storageUri"], MODEL_2);
}

#[test]
fn a_watch_cut_in_the_middle_resumes() {
    let ns = Ns::new("wait-cut");
    let name = "cut";
    ns.knobs(false, json!([{"match": "2.0/model", "readyDelay": "8s"}]));
    ns.create_ready(name, MODEL_1);
    let c = ns.cluster;
    let proxy = CutProxy::start(&c.server);
    let config = proxy.kubeconfig(&c.admin, &c.server, &ns.name);
    let mark = ns.audit_mark();
    let running = ns
        .plugin_cmd(&config, ["set", name, "10", "--model-uri", MODEL_2, "--wait", "--timeout", "5m"])
        .limit(Duration::from_secs(400))
        .spawn();
    ns.wait_created(name, 2);
    std::thread::sleep(Duration::from_secs(1));
    assert!(proxy.cut() > 0, "the wait holds a connection");
    std::thread::sleep(Duration::from_secs(2));
    proxy.cut();
    let out = running.finish();
    out.ok().stdout_is("inferenceservice.serving.kserve.io/cut canary set\n");
    assert_eq!(
        traffic(&ns.get(name)),
        vec![(rev(name, 2), 10, String::new(), true), (rev(name, 1), 90, "prev".into(), false)],
        "done only once r2 served 10%\n{}",
        out.describe()
    );
    let events = ns.audit_since(mark, &c.token_user, |_| true);
    let mut watches: Vec<&str> = events
        .iter()
        .filter(|e| e.verb == "watch" && e.resource == "inferenceservices")
        .map(|e| e.audit_id.as_str())
        .collect();
    watches.sort();
    watches.dedup();
    let watches = watches.len();
    assert!(watches >= 2, "the watch was opened again after the cut: {events:#?}");
}
