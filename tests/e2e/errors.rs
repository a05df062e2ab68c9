//! Errors and their exit codes against the real API server and KServe's webhooks.

use serde_json::json;

use crate::harness::*;

#[test]
fn missing_inferenceservice_lists_those_that_exist() {
    let ns = Ns::new("missing-isvc");
    ns.create_sklearn("alpha", MODEL_1);
    ns.create_sklearn("beta", MODEL_1);
    for args in [
        vec!["set", "nope", "10"],
        vec!["promote", "nope"],
        vec!["rollback", "nope"],
        vec!["status", "nope"],
        vec!["wait", "nope", "--for=ready"],
    ] {
        let out = ns.plugin(&args);
        out.code(6).stderr_has("nope").stderr_has("alpha").stderr_has("beta");
    }
    // Several and no NAME, no terminal: exit 2 listing them.
    let out = ns.plugin(["set", "10"]);
    out.code(2).stderr_has("alpha").stderr_has("beta");
    let out = ns.plugin(["promote", "--yes"]);
    out.code(2).stderr_has("alpha");
    // status without NAME lists both, and never prompts.
    let out = ns.plugin(["status"]);
    assert_eq!(names(&out), ["alpha", "beta"], "{}", out.describe());
    let list = ns.plugin(["status", "-o", "json"]).ok().json();
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(2));
    // The list equals kubectl's (AGE aside), and -l selects as kubectl does.
    ns.assert_list_matches_kubectl(&[]);
    ns.kubectl(["label", "inferenceservice.serving.kserve.io", "beta", "team=b"]).ok();
    ns.assert_list_matches_kubectl(&["-l", "team=b"]);
    let out = ns.plugin(["status", "-l", "team=b"]);
    assert_eq!(names(&out), ["beta"], "{}", out.describe());
}

/// The NAME column of a `status` list that succeeded.
#[track_caller]
fn names(out: &crate::proc::Output) -> Vec<String> {
    parse_table(&out.ok().stdout).iter().map(|row| row.get("NAME").cloned().unwrap_or_default()).collect()
}

#[test]
fn empty_and_missing_namespaces_are_not_found() {
    let ns = Ns::new("empty-ns");
    ns.plugin(["set", "10"]).code(6);
    ns.plugin(["promote"]).code(6);
    ns.plugin(["set", "x", "10"]).code(6).stderr_has("\"x\"");
    let c = ns.cluster;
    let missing = format!("{}-does-not-exist", ns.name);
    for args in [vec!["set", "x", "10"], vec!["promote", "x"], vec!["status", "x"], vec!["set", "10"]] {
        let out = crate::proc::Cmd::plugin()
            .args(["--kubeconfig", c.admin.as_str(), "-n", missing.as_str()])
            .args(&args)
            .run();
        out.code(6).stderr_has(&missing);
    }
}

#[test]
fn forbidden_names_user_verb_and_resource() {
    let ns = Ns::new("forbidden");
    let name = "locked";
    ns.create_sklearn(name, MODEL_1);
    let c = ns.cluster;
    for (args, verb) in [
        (vec!["set", name, "10"], "get"),
        (vec!["promote", name], "get"),
        (vec!["status", name], "get"),
        (vec!["status"], "list"),
        (vec!["set", "10"], "list"),
    ] {
        let out = ns.plugin_as(&c.limited, &args);
        out.code(5).stderr_has(&c.limited_user).stderr_has(verb).stderr_has("inferenceservices");
    }
    // Without NAME and no list permission: say "pass NAME".
    ns.plugin_as(&c.limited, ["set", "10"]).code(5).stderr_has("NAME");
    // The bearer-token user gets the same.
    ns.plugin_as(&c.token, ["set", name, "10"]).code(5).stderr_has(&c.token_user);
    // A token the server does not know: 401, also exit 5.
    let text = std::fs::read_to_string(&c.token).expect("token kubeconfig");
    let bad: String = text
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("token:") {
                "    token: not-a-token-this-server-knows".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("bad-token-{}.kubeconfig", ns.name));
    std::fs::write(&path, bad + "\n").expect("write kubeconfig");
    for args in [vec!["status", name], vec!["set", name, "10"]] {
        ns.plugin_as(path.to_str().unwrap(), &args).code(5);
    }
}

#[test]
fn webhook_rejection_is_shown_verbatim() {
    let ns = Ns::new("webhook");
    let name = "storage";
    // Models given as `storageUris` (KServe 0.17): KServe's validating webhook refuses a
    // `storageUri` beside them ("Setting both StorageURI and StorageURIs is not supported.").
    let doc = isvc_doc(
        name,
        json!({"predictor": {
            "model": {"modelFormat": {"name": "sklearn"}},
            "storageUris": [{"uri": MODEL_1, "mountPath": "/mnt/models"}]
        }}),
    );
    ns.apply(&doc.to_string());
    ns.wait_reconciled(name);
    let before = ns.get(name);
    // kubectl's view of the same refusal, as the oracle for the message.
    let k = ns.kubectl([
        "patch",
        "inferenceservice.serving.kserve.io",
        name,
        "--type=merge",
        "--dry-run=server",
        "-p",
        &json!({"spec": {"predictor": {"canaryTrafficPercent": 10, "model": {"storageUri": MODEL_2}}}}).to_string(),
    ]);
    assert_ne!(k.code, Some(0), "the webhook refuses this patch\n{}", k.describe());
    let denied = k.stderr.split("denied the request: ").nth(1).expect("a webhook denial").trim().to_string();
    for extra in [vec![], vec!["--dry-run=server"]] {
        let out = ns.plugin([&["set", name, "10", "--model-uri", MODEL_2][..], &extra[..]].concat());
        out.code(7).stderr_has("admission webhook").stderr_has("denied the request").stderr_has(&denied);
        assert_eq!(owned_view(&ns.get(name)), owned_view(&before), "nothing changed\n{}", out.describe());
    }
}

#[test]
fn expect_revision_mismatch_changes_nothing() {
    let ns = Ns::new("expect-rev");
    let name = "pinned";
    ns.create_ready(name, MODEL_1);
    ns.plugin(["set", name, "10", "--model-uri", MODEL_2, "--wait"]).ok();
    let before = ns.get(name);
    for args in [
        vec!["promote", name, "--expect-revision", "1"],
        vec!["promote", name, "--expect-revision", &rev(name, 1)],
        vec!["promote", name, "--expect-revision", "3"],
        vec!["set", name, "50", "--expect-revision", "1"],
    ] {
        let out = ns.plugin(&args);
        out.code(7).stderr_has("--expect-revision").stderr_has(&rev(name, 2));
        assert_eq!(owned_view(&ns.get(name)), owned_view(&before), "nothing changed\n{}", out.describe());
    }
    // The JSON Patch it would send tests both revisions.
    let out = ns.plugin(["promote", name, "--expect-revision", "2", "--print-patch"]);
    let patch = out.ok().json();
    let text = patch.to_string();
    assert!(
        text.contains("/status/components/predictor/latestReadyRevision")
            && text.contains("/status/components/predictor/latestCreatedRevision"),
        "{text}"
    );
    // The matching revision: promoted.
    ns.plugin(["promote", name, "--expect-revision", "2", "--wait"])
        .ok()
        .stdout_is("inferenceservice.serving.kserve.io/pinned promoted\n");
    assert_eq!(traffic(&ns.get(name)), vec![(rev(name, 2), 100, String::new(), true)]);
}
