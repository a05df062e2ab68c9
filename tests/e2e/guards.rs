//! The guard rails of the contract (facts §4.5), each against the real controllers: refused with
//! exit 7 and nothing changed, or allowed with the flag that says "I know".

use serde_json::{Value, json};

use crate::harness::*;

#[track_caller]
fn unchanged(ns: &Ns, name: &str, before: &Value, why: &str) {
    assert_eq!(owned_view(&ns.get(name)), owned_view(before), "the object changed: {why}");
}

/// An sklearn InferenceService that asks for a deployment mode by annotation.
fn in_mode(name: &str, mode: &str) -> String {
    let mut doc = isvc_doc(name, json!({"predictor": sklearn_predictor(MODEL_1)}));
    doc["metadata"]["annotations"] = json!({"serving.kserve.io/deploymentMode": mode});
    doc.to_string()
}

#[test]
fn standard_mode_without_a_canary_mechanism_is_refused() {
    let ns = Ns::new("standard-mode");
    let name = "raw";
    ns.apply(&in_mode(name, "RawDeployment"));
    // KServe records the mode in status once it has reconciled; give it a minute.
    let start = std::time::Instant::now();
    let v = loop {
        let v = ns.get(name);
        if v["status"]["deploymentMode"].is_string() || start.elapsed() > std::time::Duration::from_secs(60) {
            break v;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    let annotation = v["metadata"]["annotations"]["serving.kserve.io/deploymentMode"].clone();
    eprintln!(
        "stored annotation deploymentMode = {annotation}, status.deploymentMode = {}",
        v["status"]["deploymentMode"]
    );
    // Seen on KServe v0.17.0: the defaulter rewrites the legacy value, and status records it.
    assert_eq!(annotation, "Standard", "the annotation as stored: {v}");
    assert_eq!(v["status"]["deploymentMode"], "Standard", "{v}");
    ns.wait_reconciled(name);
    let before = ns.get(name);
    // What Standard mode has no use for, on every KServe release: refused, naming the mode.
    for args in [vec!["tag-routing", name, "on"], vec!["undo", name, "--to-revision", "1"]] {
        let out = ns.plugin(&args);
        out.code(7).stderr_has("Standard");
        unchanged(&ns, name, &before, &out.describe());
    }
    // `rollout` runs in Standard mode (tests/e2e/standard.rs), but not its smoke and metric gates,
    // which reach no spec.canary variant: exit 2 before any write; no rollout to pause.
    let out = ns.plugin(["rollout", name, "--model-uri", MODEL_2, "--steps", "10,100", "--smoke"]);
    out.code(2).stderr_has("not available in Standard mode").stderr_has("exec gate");
    unchanged(&ns, name, &before, &out.describe());
    let out = ns.plugin(["pause", name]);
    out.code(7).stderr_has("nothing to pause");
    unchanged(&ns, name, &before, &out.describe());
    // Before KServe 0.20 the CRD has no spec.canary: the write is pruned, and said so (contract
    // §13); with no canary there is nothing to change the percent of or to roll back.
    if !ns.kserve_has_spec_canary() {
        let out = ns.plugin(["set", name, "10", "--model-uri", MODEL_2, "--yes"]);
        out.code(7).stderr_has("needs v0.20+").stderr_has("Standard");
        unchanged(&ns, name, &before, &out.describe());
    }
    for args in [vec!["set", name, "10"], vec!["rollback", name]] {
        let out = ns.plugin(&args);
        out.code(7).stderr_has("no canary");
        unchanged(&ns, name, &before, &out.describe());
    }
    // status shows it, whatever its mode.
    let j = ns.plugin(["status", name, "-o", "json"]).ok().json();
    assert_eq!(j["mode"], "Standard");
    assert_eq!(j["standard"]["variants"][0]["role"], "stable", "{j}");

    // ModelMesh: refused the same way.
    let mm = "mesh";
    ns.apply(&in_mode(mm, "ModelMesh"));
    ns.wait_reconciled(mm);
    let before = ns.get(mm);
    for args in [vec!["set", mm, "10", "--model-uri", MODEL_2], vec!["promote", mm], vec!["tag-routing", mm, "on"]] {
        let out = ns.plugin(&args);
        out.code(7).stderr_has("ModelMesh");
        unchanged(&ns, mm, &before, &out.describe());
    }
}

#[test]
fn first_split_is_armed_and_gitops_owners_are_warned() {
    let ns = Ns::new("armed-gitops");
    let name = "early";
    // The first model never becomes ready here, so nothing is ever rolled out.
    ns.knobs(false, json!([{"match": "1.0/model", "readyDelay": "30m"}]));
    ns.create_sklearn(name, MODEL_1);
    ns.wait_created(name, 1);
    let out = ns.plugin(["set", name, "10"]);
    out.ok().stdout_is("inferenceservice.serving.kserve.io/early canary set\n").stderr_has("armed");
    assert_eq!(ns.get(name)["spec"]["predictor"]["canaryTrafficPercent"], 10);

    // An object applied by Argo CD's field manager: every mutation warns that a sync reverts it.
    let managed = "managed";
    let out = ns
        .kubectl_cmd()
        .args(["-n", ns.name.as_str(), "apply", "--server-side", "--field-manager=argocd-controller", "-f", "-"])
        .stdin(sklearn_yaml(managed, MODEL_1, None).into_bytes())
        .run();
    out.ok();
    ns.plugin(["set", managed, "10", "--model-uri", MODEL_2, "--dry-run=server"]).ok().stderr_has("argocd-controller");
}

#[test]
fn partial_rollback_needs_split_with_previous_and_promoted_is_a_no_op() {
    let ns = Ns::new("partial-rollback");
    let name = "partial";
    let (r1, r2) = (rev(name, 1), rev(name, 2));
    ns.create_ready(name, MODEL_1);
    ns.plugin(["set", name, "10", "--model-uri", MODEL_2, "--wait"]).ok();
    ns.plugin(["promote", name, "--wait"]).ok();

    // Already promoted: exit 0, "unchanged", and no PATCH at all.
    let before = ns.get(name);
    let mark = ns.audit_mark();
    let out = ns.plugin(["promote", name]);
    out.ok().stdout_is("inferenceservice.serving.kserve.io/partial unchanged\n");
    let out2 = ns.plugin(["promote", name, "--wait"]);
    out2.ok().stdout_is("inferenceservice.serving.kserve.io/partial unchanged\n");
    ns.assert_no_write_after_read(mark, &ns.cluster.token_user, name, 2);
    unchanged(&ns, name, &before, "promote of a promoted revision");

    // set 20 with no model change would send 80% back to r1 (KServe's rule): refused.
    let out = ns.plugin(["set", name, "20"]);
    out.code(7).stderr_has("--split-with-previous");
    unchanged(&ns, name, &before, &out.describe());

    // With the flag it is done, and lands where facts §4.5-7 says: r2 20%, r1 80%.
    let out = ns.plugin(["set", name, "20", "--split-with-previous", "--wait"]);
    out.ok();
    let v = ns.get(name);
    assert_eq!(
        traffic(&v),
        vec![(r2.clone(), 20, String::new(), true), (r1.clone(), 80, "prev".into(), false)],
        "{}",
        out.describe()
    );
    let p = &v["status"]["components"]["predictor"];
    assert_eq!(
        (p["latestRolledoutRevision"].as_str(), p["previousRolledoutRevision"].as_str()),
        (Some(r1.as_str()), Some(r1.as_str()))
    );
}

#[test]
fn replace_and_promote_of_an_unready_revision_need_their_flags() {
    let ns = Ns::new("replace-force");
    let name = "slow";
    // The second model takes far longer than this test to become ready.
    ns.knobs(false, json!([{"match": "2.0/model", "readyDelay": "30m"}]));
    ns.create_ready(name, MODEL_1);
    ns.plugin(["set", name, "10", "--model-uri", MODEL_2])
        .ok()
        .stdout_is("inferenceservice.serving.kserve.io/slow canary set\n");
    ns.wait_created(name, 2);
    let before = ns.get(name);

    // Another model while the canary of model 2 is in progress: refused without --replace.
    let out = ns.plugin(["set", name, "10", "--model-uri", MODEL_3]);
    out.code(7).stderr_has("--replace");
    unchanged(&ns, name, &before, &out.describe());
    ns.plugin(["set", name, "10", "--model-uri", MODEL_3, "--replace", "--dry-run=server"]).ok();
    unchanged(&ns, name, &before, "dry run with --replace");

    // The same model again: no new revision, nothing to write.
    let mark = ns.audit_mark();
    let out = ns.plugin(["set", name, "10", "--model-uri", MODEL_2]);
    out.ok().stdout_is("inferenceservice.serving.kserve.io/slow unchanged\n").stderr_has("no new revision");
    ns.assert_no_write_after_read(mark, &ns.cluster.token_user, name, 1);
    unchanged(&ns, name, &before, "same model");

    // Promote while r2 is not ready: refused without --force.
    let out = ns.plugin(["promote", name]);
    out.code(7).stderr_has("--force").stderr_has(&rev(name, 2));
    unchanged(&ns, name, &before, &out.describe());
    ns.plugin(["promote", name, "--force", "--dry-run=server"])
        .ok()
        .stdout_is("inferenceservice.serving.kserve.io/slow promoted (dry run)\n");
    unchanged(&ns, name, &before, "promote --force --dry-run=server");
    let out = ns.plugin(["promote", name, "--force", "--print-patch"]);
    assert_eq!(out.ok().json(), json!({"spec": {"predictor": {"canaryTrafficPercent": null}}}));
    unchanged(&ns, name, &before, "--print-patch");

    // Rollback aborts the canary: back to r1, r2 stays the latest created revision.
    let out = ns.plugin(["rollback", name, "--wait"]);
    out.ok().stderr_has(&rev(name, 1));
    let v = ns.get(name);
    assert_eq!(v["spec"]["predictor"]["canaryTrafficPercent"], 0);
    assert_eq!(traffic(&v).iter().find(|t| t.2 == "prev").map(|t| (t.0.clone(), t.1)), Some((rev(name, 1), 100)));
    // Already rolled back: exit 0, no write.
    let mark = ns.audit_mark();
    ns.plugin(["rollback", name]).ok().stdout_is("inferenceservice.serving.kserve.io/slow unchanged\n");
    ns.assert_no_write_after_read(mark, &ns.cluster.token_user, name, 1);
}

#[test]
fn nothing_to_roll_back_to_and_missing_component_are_refused() {
    let ns = Ns::new("no-target");
    let name = "fresh";
    ns.create_ready(name, MODEL_1);
    let before = ns.get(name);
    ns.plugin(["rollback", name]).code(7);
    ns.plugin(["set", name, "10", "--component", "transformer"]).code(7).stderr_has("transformer");
    ns.plugin(["promote", name, "--component", "explainer"]).code(7).stderr_has("explainer");
    ns.plugin(["wait", name, "--for=ready", "--component", "explainer", "--timeout", "10s"]).code(7);
    unchanged(&ns, name, &before, "refusals");
    // Tag routing off when it is not on: nothing to do, no write (removing would cut a revision).
    let mark = ns.audit_mark();
    ns.plugin(["tag-routing", name, "off"]).ok().stdout_is("inferenceservice.serving.kserve.io/fresh unchanged\n");
    ns.assert_no_write_after_read(mark, &ns.cluster.token_user, name, 1);
    unchanged(&ns, name, &before, "tag-routing off");
}
