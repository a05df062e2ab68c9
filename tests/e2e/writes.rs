//! Every mutation changes only the fields it owns (the whole object compared before and after)
//! and stays within the contract's request budget: one GET and one PATCH of the
//! InferenceService, no discovery (counted in the audit log), plus the one GET of the target
//! Revision that `rollback` may make. Dry runs and --print-patch change nothing.

use serde_json::{Value, json};

use crate::harness::*;

/// Runs one mutation as the token user and checks the fields it changed and the requests it made.
fn mutation(ns: &Ns, name: &str, args: &[&str], patch: Value, extra_revision_get: bool) {
    let c = ns.cluster;
    let before = ns.get(name);
    let mark = ns.audit_mark();
    let out = ns.plugin_as(&c.token, args);
    out.ok();
    let after = ns.get(name);
    assert_eq!(
        owned_view(&after),
        merged(&owned_view(&before), &patch),
        "the object changed in other ways than {patch}\n{}",
        out.describe()
    );
    let events = ns.audit_since(mark, &c.token_user, |ev| ev.iter().any(|e| e.verb == "patch"));
    let summary: Vec<String> = events.iter().map(|e| format!("{} {} ({})", e.verb, e.uri, e.user)).collect();
    let isvc = |verb: &str| {
        events.iter().filter(|e| e.verb == verb && e.resource == "inferenceservices" && e.name == name).count()
    };
    assert_eq!(isvc("get"), 1, "one GET of the InferenceService: {summary:#?}");
    assert_eq!(isvc("patch"), 1, "one PATCH of the InferenceService: {summary:#?}");
    let revision_gets = events.iter().filter(|e| e.resource == "revisions" && e.verb == "get").count();
    assert_eq!(revision_gets, usize::from(extra_revision_get), "GETs of a Revision: {summary:#?}");
    assert_eq!(events.len(), 2 + usize::from(extra_revision_get), "no other request (no discovery): {summary:#?}");
    assert!(events.iter().all(|e| e.user == c.token_user), "{summary:#?}");
    // The write is ours, by field manager.
    let managers: Vec<&str> = after["metadata"]["managedFields"]
        .as_array()
        .map(|m| m.iter().filter_map(|f| f["manager"].as_str()).collect())
        .unwrap_or_default();
    assert!(managers.contains(&"kubectl-isvc-canary"), "field manager kubectl-isvc-canary in {managers:?}");
}

fn settled(ns: &Ns, name: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    ns.wait_isvc(name, what, ROLLOUT, |v| {
        let p = &v["status"]["components"]["predictor"];
        p["latestCreatedRevision"] == p["latestReadyRevision"] && pred(v)
    })
}

#[test]
fn mutations_change_only_their_fields_within_the_request_budget() {
    let ns = Ns::new("write-budget");
    let name = "budget";
    let c = ns.cluster;
    ns.grant_least_privilege(&c.token_user, true);
    ns.create_ready(name, MODEL_1);
    let (r1, r2) = (rev(name, 1), rev(name, 2));

    mutation(
        &ns,
        name,
        &["set", name, "20", "--model-uri", MODEL_2],
        json!({"spec": {"predictor": {"canaryTrafficPercent": 20, "model": {"storageUri": MODEL_2}}}}),
        false,
    );
    settled(&ns, name, "r2 at 20%", |v| traffic(v).first().is_some_and(|t| t.0 == r2 && t.1 == 20));

    mutation(&ns, name, &["set", name, "50"], json!({"spec": {"predictor": {"canaryTrafficPercent": 50}}}), false);
    settled(&ns, name, "r2 at 50%", |v| traffic(v).first().is_some_and(|t| t.0 == r2 && t.1 == 50));

    mutation(&ns, name, &["promote", name], json!({"spec": {"predictor": {"canaryTrafficPercent": null}}}), false);
    ns.wait_rolled_out(name);

    mutation(&ns, name, &["rollback", name], json!({"spec": {"predictor": {"canaryTrafficPercent": 0}}}), true);
    settled(&ns, name, "r1 at 100% (prev)", |v| traffic(v).get(1).is_some_and(|t| t.0 == r1 && t.1 == 100));

    mutation(
        &ns,
        name,
        &["tag-routing", name, "on"],
        json!({"metadata": {"annotations": {"serving.kserve.io/enable-tag-routing": "true"}}}),
        false,
    );
    settled(&ns, name, "r3 created and ready", |v| {
        v["status"]["components"]["predictor"]["latestReadyRevision"] == rev(name, 3).as_str()
    });

    mutation(
        &ns,
        name,
        &["tag-routing", name, "off"],
        json!({"metadata": {"annotations": {"serving.kserve.io/enable-tag-routing": null}}}),
        false,
    );
    settled(&ns, name, "r4 created and ready", |v| {
        v["status"]["components"]["predictor"]["latestReadyRevision"] == rev(name, 4).as_str()
    });

    // `set 100` is promote: it removes the field.
    mutation(&ns, name, &["set", name, "100"], json!({"spec": {"predictor": {"canaryTrafficPercent": null}}}), false);
    ns.wait_rolled_out(name);
}

#[test]
fn dry_runs_and_print_patch_change_nothing() {
    let ns = Ns::new("dry-run");
    let name = "dry";
    ns.create_ready(name, MODEL_1);
    let before = owned_view(&ns.get(name));
    let expected_patch = json!({"spec": {"predictor": {"canaryTrafficPercent": 10, "model": {"storageUri": MODEL_2}}}});

    for mode in ["--dry-run", "--dry-run=client", "--dry-run=server"] {
        let mark = ns.audit_mark();
        let out = ns.plugin(["set", name, "10", "--model-uri", MODEL_2, mode]);
        out.ok()
            .stdout_is("inferenceservice.serving.kserve.io/dry canary set (dry run)\n")
            .stderr_has("patch: ")
            .stderr_has(MODEL_2);
        assert_eq!(owned_view(&ns.get(name)), before, "{mode} changed the object\n{}", out.describe());
        if mode == "--dry-run=server" {
            assert_one_dry_run_patch(&ns, mark);
        } else {
            // A client dry run reads the object and sends nothing.
            ns.assert_no_write_after_read(mark, &ns.cluster.token_user, name, 1);
        }
    }

    // -o json with a client dry run: the object as it would be.
    let out = ns.plugin(["set", name, "10", "--model-uri", MODEL_2, "--dry-run=client", "-o", "json"]);
    let v = out.ok().json();
    assert_eq!(v["spec"]["predictor"]["canaryTrafficPercent"], 10);
    assert_eq!(v["spec"]["predictor"]["model"]["storageUri"], MODEL_2);
    // Server dry run: the object the API server returned (admission ran), not stored.
    let out = ns.plugin(["set", name, "10", "--model-uri", MODEL_2, "--dry-run=server", "-o", "json"]);
    let v = out.ok().json();
    assert_eq!(v["spec"]["predictor"]["canaryTrafficPercent"], 10);
    assert_eq!(owned_view(&ns.get(name)), before);

    // -o name and -o yaml.
    ns.plugin(["set", name, "10", "--dry-run=server", "-o", "name"])
        .ok()
        .stdout_is("inferenceservice.serving.kserve.io/dry\n");
    ns.plugin(["set", name, "10", "--dry-run=server", "-o", "yaml"])
        .ok()
        .stdout_has_line("    canaryTrafficPercent: 10");
    assert_eq!(owned_view(&ns.get(name)), before);

    // --print-patch prints the patch on stdout and sends nothing.
    let mark = ns.audit_mark();
    let out = ns.plugin(["set", name, "10", "--model-uri", MODEL_2, "--print-patch"]);
    assert_eq!(out.ok().json(), expected_patch, "{}", out.describe());
    let out = ns.plugin(["tag-routing", name, "on", "--print-patch"]);
    assert_eq!(out.ok().json(), json!({"metadata": {"annotations": {"serving.kserve.io/enable-tag-routing": "true"}}}));
    ns.assert_no_write_after_read(mark, &ns.cluster.token_user, name, 2);
    let mark = ns.audit_mark();
    let out = ns.plugin(["tag-routing", name, "on", "--dry-run=server"]);
    out.ok().stdout_has_line("inferenceservice.serving.kserve.io/dry tag routing enabled (dry run)");
    assert_one_dry_run_patch(&ns, mark);
    assert_eq!(owned_view(&ns.get(name)), before);
}

/// The plugin's requests since `mark` hold one write, a PATCH with `dryRun=All`.
#[track_caller]
fn assert_one_dry_run_patch(ns: &Ns, mark: u64) {
    let events = ns.audit_since(mark, &ns.cluster.token_user, |ev| ev.iter().any(|e| e.verb == "patch"));
    let writes: Vec<&AuditEvent> = events.iter().filter(|e| WRITE_VERBS.contains(&e.verb.as_str())).collect();
    assert_eq!(writes.len(), 1, "one write: {events:#?}");
    assert_eq!(writes[0].verb, "patch", "{events:#?}");
    assert!(writes[0].uri.contains("dryRun=All"), "a server dry run: {events:#?}");
}
