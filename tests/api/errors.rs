//! Server errors on the read (contract, "Exit codes"): a 503 with Retry-After is transient and
//! retried; a 500 is a failure (exit 1) and nothing is written.

use serde_json::json;

use crate::objects::{Isvc, NAME, isvc_path, model, status};
use crate::plugin::run;
use crate::stub::{Reply, Route, Stub};

#[test]
fn a_503_with_retry_after_is_retried_and_the_write_goes_through() {
    let stub = Stub::start();
    let unavailable = status(503, "ServiceUnavailable", "the server is currently unable to handle the request");
    stub.on(
        Route::get(isvc_path()),
        [Reply::status(503, unavailable).header("Retry-After", "1"), Reply::ok(Isvc::deployed().json())],
    );
    let written = Isvc::deployed().ctp(Some(10)).model(model(2)).patched_by_us();
    stub.on(Route::patch(isvc_path()), [Reply::ok(written.json())]);
    let m2 = model(2);

    let run = run(&stub, &["set", NAME, "10", "--model-uri", m2.as_str(), "--yes"]);

    run.code(0).stdout_is("inferenceservice.serving.kserve.io/iris canary set\n").all_answered();
    assert_eq!(run.isvc_verbs(), ["GET", "GET", "PATCH"], "{}", run.describe());
    // The write is based on the read that succeeded.
    let patch = run.patches()[0].json();
    assert_eq!(patch.pointer("/metadata/resourceVersion"), Some(&json!("100")), "{}", run.describe());
}

#[test]
fn a_500_on_the_read_exits_1_and_writes_nothing() {
    let stub = Stub::start();
    let broken = status(500, "InternalError", "Internal error occurred: etcdserver: request timed out");
    stub.on(Route::get(isvc_path()), [Reply::status(500, broken)]);
    // A PATCH would succeed: only the request log can tell that none was sent.
    stub.on(Route::patch(isvc_path()), [Reply::ok(Isvc::deployed().patched_by_us().json())]);
    let m2 = model(2);

    let run = run(&stub, &["set", NAME, "10", "--model-uri", m2.as_str(), "--yes"]);

    run.code(1).stderr_has("etcdserver: request timed out").all_answered();
    let verbs = run.isvc_verbs();
    assert!(verbs.contains(&"GET"), "the read was never sent\n{}", run.describe());
    assert!(!verbs.contains(&"PATCH"), "wrote after a failed read\n{}", run.describe());
}
