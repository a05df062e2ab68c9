//! Writes (contract, "Writes"): the precondition, the retry of a conflict that only KServe's status
//! writes caused, the refusal when someone changed the spec in between, the legacy model field,
//! and a no-op that sends nothing.

use serde_json::json;

use crate::objects::{ALICE, Isvc, NAME, conflict, isvc_path, model};
use crate::plugin::run;
use crate::stub::{Reply, Route, Stub};

const MERGE: &str = "application/merge-patch+json";

#[test]
fn conflict_is_retried_once_with_the_reread_resource_version() {
    let stub = Stub::start();
    // The re-read differs only by resourceVersion: KServe rewrote status in between.
    stub.on(Route::get(isvc_path()), [Reply::ok(Isvc::deployed().json()), Reply::ok(Isvc::deployed().rv(101).json())]);
    let written = Isvc::deployed().ctp(Some(10)).model(model(2)).rv(101).patched_by_us();
    stub.on(Route::patch(isvc_path()), [Reply::status(409, conflict()), Reply::ok(written.json())]);
    let m2 = model(2);

    let run = run(&stub, &["set", NAME, "10", "--model-uri", m2.as_str(), "--yes"]);

    run.code(0).stdout_is("inferenceservice.serving.kserve.io/iris canary set\n").all_answered();
    assert_eq!(run.isvc_verbs(), ["GET", "PATCH", "GET", "PATCH"], "one retry\n{}", run.describe());
    let patches = run.patches();
    for p in &patches {
        assert_eq!(p.content_type(), Some(MERGE), "{}", run.describe());
        assert_eq!(p.param("fieldManager"), Some("kubectl-isvc-canary"), "{}", run.describe());
    }
    let (first, second) = (patches[0].json(), patches[1].json());
    assert_eq!(first.pointer("/metadata/resourceVersion"), Some(&json!("100")), "{}", run.describe());
    assert_eq!(second.pointer("/metadata/resourceVersion"), Some(&json!("101")), "{}", run.describe());
    // One patch carries the percent and the model (contract: "a change of percent and model URI is ONE patch").
    assert_eq!(first.pointer("/spec/predictor/canaryTrafficPercent"), Some(&json!(10)), "{}", run.describe());
    assert_eq!(first.pointer("/spec/predictor/model/storageUri"), Some(&json!(m2)), "{}", run.describe());
    // The retry is the same change: only the precondition moved.
    let mut expected = first.clone();
    expected["metadata"]["resourceVersion"] = json!("101");
    assert_eq!(second, expected, "the retry changed more than the resourceVersion\n{}", run.describe());
}

#[test]
fn conflict_with_a_spec_changed_by_someone_else_is_refused_naming_the_writer() {
    let stub = Stub::start();
    let theirs = Isvc::deployed().ctp(Some(30)).rv(101).written_by(ALICE, "2026-11-02T10:15:00Z");
    stub.on(Route::get(isvc_path()), [Reply::ok(Isvc::deployed().json()), Reply::ok(theirs.json())]);
    stub.on(Route::patch(isvc_path()), [Reply::status(409, conflict())]);
    let m2 = model(2);

    let run = run(&stub, &["set", NAME, "10", "--model-uri", m2.as_str(), "--yes"]);

    run.code(7).stderr_has(ALICE).stderr_has("changed").all_answered();
    // Re-read, saw someone else's change, and did not write again.
    assert_eq!(run.isvc_verbs(), ["GET", "PATCH", "GET"], "no second PATCH\n{}", run.describe());
}

#[test]
fn legacy_framework_field_gets_the_new_model_uri() {
    // KServe's webhook converts `sklearn:` to `model:` on admission, so a cluster never stores this
    // shape today; older objects (and other servers) still can.
    let stub = Stub::start();
    stub.on(Route::get(isvc_path()), [Reply::ok(Isvc::deployed().legacy().json())]);
    let written = Isvc::deployed().legacy().ctp(Some(10)).model("gs://x/2").patched_by_us();
    stub.on(Route::patch(isvc_path()), [Reply::ok(written.json())]);

    let run = run(&stub, &["set", NAME, "10", "--model-uri", "gs://x/2", "--yes"]);

    run.code(0).stdout_is("inferenceservice.serving.kserve.io/iris canary set\n").all_answered();
    assert_eq!(run.isvc_verbs(), ["GET", "PATCH"], "{}", run.describe());
    let patch = run.patches()[0];
    assert_eq!(patch.content_type(), Some(MERGE), "{}", run.describe());
    let body = patch.json();
    let at = |p: &str| body.pointer(p).cloned();
    assert_eq!(at("/spec/predictor/sklearn/storageUri"), Some(json!("gs://x/2")), "{}", run.describe());
    assert_eq!(at("/spec/predictor/model"), None, "must not add a `model` beside `sklearn`\n{}", run.describe());
    assert_eq!(at("/spec/predictor/canaryTrafficPercent"), Some(json!(10)), "{}", run.describe());
    assert_eq!(at("/metadata/resourceVersion"), Some(json!("100")), "{}", run.describe());
}

#[test]
fn promote_of_a_promoted_service_reads_it_and_writes_nothing() {
    let stub = Stub::start();
    stub.on(Route::get(isvc_path()), [Reply::ok(Isvc::promoted().json())]);
    // A PATCH would succeed: only the request log can tell that none was sent.
    stub.on(Route::patch(isvc_path()), [Reply::ok(Isvc::promoted().patched_by_us().json())]);

    let run = run(&stub, &["promote", NAME, "--yes"]);

    run.code(0).stdout_is("inferenceservice.serving.kserve.io/iris unchanged\n").all_answered();
    // The GET proves the plugin looked at the object; nothing else was sent.
    assert_eq!(run.isvc_verbs(), ["GET"], "{}", run.describe());
    let get = run.isvc_requests()[0];
    assert_eq!(get.path, isvc_path(), "{}", run.describe());
    assert!(get.body.is_empty(), "{}", run.describe());
}
