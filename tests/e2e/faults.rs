//! Faults between the plugin and the real cluster (contract §7 "Retries", "A write with no
//! answer", "Preconditions and conflicts"; §9 "The watch"), injected by tests/e2e/faultproxy.rs:
//! the outcome is checked on the real object (kubectl as the admin) and in the audit log, where
//! the plugin's requests carry its own User-Agent (the proxy forwards it unchanged; upstream it
//! authenticates as the admin).

use std::time::Duration;

use serde_json::{Value, json};

use crate::faultproxy::{Fault, FaultProxy};
use crate::harness::*;

/// What `set NAME 10 --model-uri MODEL_2` writes.
fn the_change() -> Value {
    json!({"spec": {"predictor": {"canaryTrafficPercent": 10, "model": {"storageUri": MODEL_2}}}})
}

/// A namespace with a ready InferenceService `name` and a fault proxy in front of the cluster;
/// (namespace, proxy, the kubeconfig that points at the proxy).
fn setup(test: &str, name: &str) -> (Ns, FaultProxy, String) {
    let ns = Ns::new(test);
    ns.create_ready(name, MODEL_1);
    let proxy = FaultProxy::start(ns.cluster, &ns.name);
    let config = proxy.kubeconfig();
    (ns, proxy, config)
}

/// The plugin's requests to the InferenceService `name` in the audit log since `mark`, with
/// `verb`: (audit id, code), one per request; waits until `want` of them are logged (or 5 s).
fn audited(ns: &Ns, mark: u64, name: &str, verb: &str, want: usize) -> Vec<(String, i64)> {
    let pick = |events: &[AuditEvent]| {
        let mut v: Vec<(String, i64)> = events
            .iter()
            .filter(|e| e.verb == verb && e.resource == "inferenceservices" && e.name == name)
            .map(|e| (e.audit_id.clone(), e.code))
            .collect();
        v.sort();
        v.dedup_by(|a, b| a.0 == b.0);
        v
    };
    pick(&ns.audit_since(mark, "", |ev| pick(ev).len() >= want))
}

fn proxied(proxy: &FaultProxy, verb: &str, name: &str) -> usize {
    let path = format!("/inferenceservices/{name}");
    proxy
        .seen()
        .iter()
        .filter(|s| s.verb == verb && s.path.split('?').next().unwrap_or_default().ends_with(&path))
        .count()
}

#[track_caller]
fn changed_once(ns: &Ns, name: &str, before: &Value, out: &crate::proc::Output, proxy: &FaultProxy) {
    let after = ns.get(name);
    assert_eq!(
        owned_view(&after),
        merged(&owned_view(before), &the_change()),
        "the change is in place, and nothing else\n{}\n{}",
        out.describe(),
        proxy.describe()
    );
}

#[track_caller]
fn unchanged(ns: &Ns, name: &str, before: &Value, out: &crate::proc::Output, proxy: &FaultProxy) {
    let after = ns.get(name);
    assert_eq!(owned_view(&after), owned_view(before), "nothing changed\n{}\n{}", out.describe(), proxy.describe());
}

#[test]
fn faults_a_patch_applied_whose_answer_is_lost_ends_0() {
    let name = "lost";
    let (ns, proxy, config) = setup("faults-lost", name);
    proxy.on("patch", "", 1, Fault::DropResponse);
    let before = ns.get(name);
    let mark = ns.audit_mark();

    let out = ns.plugin_as(&config, ["set", name, "10", "--model-uri", MODEL_2, "--yes"]);

    out.code(0).stderr_has("may have been applied");
    changed_once(&ns, name, &before, &out, &proxy);
    applied_once_and_said(&ns, mark, name, proxied(&proxy, "patch", name), &out);
}

/// A PATCH whose answer was lost was applied exactly once, and the plugin said how: the server
/// applied it (re-read: "in place"), or refused it on its precondition because KServe's status
/// writes moved the resourceVersion (a 409 nobody saw; re-read: "not applied", sent once more).
#[track_caller]
fn applied_once_and_said(ns: &Ns, mark: u64, name: &str, sent: usize, out: &crate::proc::Output) {
    let mut codes: Vec<i64> = audited(ns, mark, name, "patch", sent).iter().map(|p| p.1).collect();
    codes.sort();
    match codes.as_slice() {
        [200] => out.stderr_has("the change is in place"),
        [200, 409] => out.stderr_has("was not applied").stderr_has("sending it once more"),
        other => panic!("applied exactly once, said which: PATCH answers {other:?}\n{}", out.describe()),
    };
}

#[test]
fn faults_503s_before_a_patch_are_retried_after_retry_after() {
    let name = "unavailable";
    let (ns, proxy, config) = setup("faults-503", name);
    proxy.on("patch", "", 2, Fault::Status { code: 503, retry_after: Some(1) });
    let before = ns.get(name);
    let mark = ns.audit_mark();

    let out = ns.plugin_as(&config, ["set", name, "10", "--model-uri", MODEL_2, "--yes"]);

    out.ok().stdout_is(&format!("inferenceservice.serving.kserve.io/{name} canary set\n"));
    changed_once(&ns, name, &before, &out, &proxy);
    assert_eq!(proxied(&proxy, "patch", name), 3, "two 503s, then the PATCH that went through\n{}", proxy.describe());
    let patches = audited(&ns, mark, name, "patch", 1);
    assert_eq!(patches.iter().map(|p| p.1).collect::<Vec<_>>(), [200], "one PATCH reached the server: {patches:?}");
}

#[test]
fn faults_a_504_after_an_applied_patch_meets_its_own_change() {
    let name = "timeout";
    let (ns, proxy, config) = setup("faults-504", name);
    proxy.on("patch", "", 1, Fault::ForwardThenStatus(504));
    let before = ns.get(name);
    let mark = ns.audit_mark();

    let out = ns.plugin_as(&config, ["set", name, "10", "--model-uri", MODEL_2, "--yes"]);

    out.code(0).stderr_has("already in place");
    assert!(!out.stderr.contains("someone else"), "its own write is not someone else's\n{}", out.describe());
    changed_once(&ns, name, &before, &out, &proxy);
    let patches = audited(&ns, mark, name, "patch", 2);
    let mut codes: Vec<i64> = patches.iter().map(|p| p.1).collect();
    codes.sort();
    assert_eq!(
        codes,
        [200, 409],
        "applied once; the resent PATCH met the precondition: {patches:?}\n{}",
        proxy.describe()
    );
}

#[test]
fn faults_429_on_every_get_exits_1_after_four_tries() {
    let name = "busy";
    let (ns, proxy, config) = setup("faults-429", name);
    proxy.on(
        "get",
        &format!("/inferenceservices/{name}"),
        usize::MAX,
        Fault::Status { code: 429, retry_after: Some(1) },
    );
    let before = ns.get(name);
    let mark = ns.audit_mark();

    let out = ns.plugin_as(&config, ["set", name, "10", "--model-uri", MODEL_2, "--yes"]);

    out.code(1).stderr_has("too many requests");
    assert_eq!(proxied(&proxy, "get", name), 4, "one try and three retries\n{}", proxy.describe());
    assert_eq!(proxied(&proxy, "patch", name), 0, "nothing written\n{}", proxy.describe());
    unchanged(&ns, name, &before, &out, &proxy);
    let events = ns.audit_since(mark, "", |_| true);
    let writes: Vec<_> = events.iter().filter(|e| WRITE_VERBS.contains(&e.verb.as_str())).collect();
    assert!(writes.is_empty(), "no write: {writes:#?}");
}

/// A PATCH that stalls never reached the server: after `--request-timeout` the re-read shows it
/// not applied and it is sent once more; stalled twice, the command stops there (exit 1).
#[test]
fn faults_a_stalled_patch_is_sent_once_more_and_never_a_third_time() {
    let name = "stall";
    let (ns, proxy, config) = setup("faults-stall", name);
    let set = ["--request-timeout", "3s", "set", name, "10", "--model-uri", MODEL_2, "--yes"];

    // Stalled twice: exit 1, nothing written, no third attempt.
    proxy.on("patch", "", 2, Fault::Stall);
    let before = ns.get(name);
    let mark = ns.audit_mark();
    let out = ns.plugin_as(&config, set);
    out.code(1).stderr_has("may have been applied").stderr_has("no answer twice and was not applied");
    unchanged(&ns, name, &before, &out, &proxy);
    assert_eq!(proxied(&proxy, "patch", name), 2, "sent twice, never a third time\n{}", proxy.describe());
    let events = ns.audit_since(mark, "", |_| true);
    let writes: Vec<_> = events.iter().filter(|e| WRITE_VERBS.contains(&e.verb.as_str())).collect();
    assert!(writes.is_empty(), "the stalled PATCHes never reached the server: {writes:#?}");

    // Stalled once: sent once more, applied once.
    proxy.on("patch", "", 1, Fault::Stall);
    let out = ns.plugin_as(&config, set);
    out.code(0).stderr_has("was not applied").stderr_has("sending it once more");
    assert_eq!(proxied(&proxy, "patch", name), 4, "{}", proxy.describe());
    changed_once(&ns, name, &before, &out, &proxy);
}

#[test]
fn faults_a_wait_resumes_after_a_cut_and_a_410() {
    let ns = Ns::new("faults-watch");
    let name = "watch";
    // The new revision takes a while to be ready, so that the wait outlives both faults.
    ns.knobs(false, json!([{"match": "2.0/model", "readyDelay": "8s"}]));
    ns.create_ready(name, MODEL_1);
    let proxy = FaultProxy::start(ns.cluster, &ns.name);
    let config = proxy.kubeconfig();
    // The first watch is cut after its first event; the second is answered 410 Gone.
    proxy.on("watch", "", 1, Fault::CutAfterEvents(1)).on("watch", "", 1, Fault::WatchGone);

    let out = ns
        .plugin_cmd(&config, ["set", name, "10", "--model-uri", MODEL_2, "--wait", "--timeout", "5m", "--yes"])
        .limit(Duration::from_secs(400))
        .run();

    out.ok().stdout_is(&format!("inferenceservice.serving.kserve.io/{name} canary set\n"));
    assert_eq!(
        traffic(&ns.get(name)),
        vec![(rev(name, 2), 10, String::new(), true), (rev(name, 1), 90, "prev".into(), false)],
        "done only once r2 served 10%\n{}\n{}",
        out.describe(),
        proxy.describe()
    );
    let seen = proxy.seen();
    let watches: Vec<usize> = seen.iter().enumerate().filter(|(_, s)| s.verb == "watch").map(|(i, _)| i).collect();
    assert!(watches.len() >= 3, "reopened after the cut and after the 410\n{}", proxy.describe());
    let gone = watches[1];
    assert!(
        seen[gone..].iter().any(|s| s.verb == "get" && s.path.contains(&format!("/inferenceservices/{name}"))),
        "the 410 made the plugin read the object again\n{}",
        proxy.describe()
    );
    let patches = seen.iter().filter(|s| s.verb == "patch").count();
    assert_eq!(patches, 1, "one write\n{}", proxy.describe());
}

#[test]
fn faults_a_reset_and_a_500_are_not_retried_and_latency_is_harmless() {
    let name = "others";
    let (ns, proxy, config) = setup("faults-others", name);
    let before = ns.get(name);

    // A connection reset on the read: exit 1, not retried.
    proxy.on("get", &format!("/inferenceservices/{name}"), 1, Fault::Reset);
    let out = ns.plugin_as(&config, ["status", name]);
    out.code(1);
    assert_eq!(proxied(&proxy, "get", name), 1, "a reset is not retried\n{}\n{}", out.describe(), proxy.describe());

    // A 500 on the write: exit 1, not retried, nothing written.
    proxy.on("patch", "", 1, Fault::Status { code: 500, retry_after: None });
    let out = ns.plugin_as(&config, ["set", name, "10", "--model-uri", MODEL_2, "--yes"]);
    out.code(1);
    assert_eq!(proxied(&proxy, "patch", name), 1, "a 500 is not retried\n{}\n{}", out.describe(), proxy.describe());
    unchanged(&ns, name, &before, &out, &proxy);

    // Latency below --request-timeout on every request: the change is made once.
    proxy.on("get", "", usize::MAX, Fault::Delay(Duration::from_millis(500)));
    proxy.on("patch", "", usize::MAX, Fault::Delay(Duration::from_millis(500)));
    let out = ns.plugin_as(&config, ["--request-timeout", "5s", "set", name, "10", "--model-uri", MODEL_2, "--yes"]);
    out.ok();
    assert_eq!(proxied(&proxy, "patch", name), 2, "{}", proxy.describe());
    changed_once(&ns, name, &before, &out, &proxy);
}

/// Every mutation, not only `set`: the answer to its PATCH is dropped after the server answered it;
/// the plugin reads the object again, says the change is in place (or, when the server refused it
/// on its precondition, sends it once more), and exits 0; the change was applied exactly once and
/// nothing but the command's own fields moved.
#[test]
fn faults_every_mutation_with_a_lost_answer_is_applied_once_and_said() {
    let name = "every";
    let (ns, proxy, config) = setup("faults-every", name);
    let lost_answer = |args: &[&str], expected: Value| {
        proxy.on("patch", "", 1, Fault::DropResponse);
        let before = ns.get(name);
        let (mark, sent_before) = (ns.audit_mark(), proxied(&proxy, "patch", name));
        let out = ns.plugin_as(&config, args);
        let sent = proxied(&proxy, "patch", name) - sent_before;
        out.code(0).stderr_has("may have been applied");
        assert_eq!(
            owned_view(&ns.get(name)),
            merged(&owned_view(&before), &expected),
            "exactly the command's change\n{}\n{}",
            out.describe(),
            proxy.describe()
        );
        applied_once_and_said(&ns, mark, name, sent, &out);
    };
    let kubectl_patch = |patch: Value| {
        ns.kubectl(["patch", "inferenceservice.serving.kserve.io", name, "--type=merge", "-p", &patch.to_string()])
            .ok();
    };

    // promote: a split armed on the one revision first.
    kubectl_patch(json!({"spec": {"predictor": {"canaryTrafficPercent": 30}}}));
    lost_answer(&["promote", name, "--yes"], json!({"spec": {"predictor": {"canaryTrafficPercent": null}}}));

    // rollback: a canary of model 2, ready, first.
    kubectl_patch(json!({"spec": {"predictor": {"canaryTrafficPercent": 10, "model": {"storageUri": MODEL_2}}}}));
    let r2 = rev(name, 2);
    ns.wait_isvc(name, "r2 ready and serving", ROLLOUT, |v| {
        v.pointer("/status/components/predictor/latestReadyRevision").and_then(Value::as_str) == Some(r2.as_str())
    });
    lost_answer(&["rollback", name, "--yes"], json!({"spec": {"predictor": {"canaryTrafficPercent": 0}}}));

    // tag-routing on.
    lost_answer(
        &["tag-routing", name, "on", "--yes"],
        json!({"metadata": {"annotations": {"serving.kserve.io/enable-tag-routing": "true"}}}),
    );
}
