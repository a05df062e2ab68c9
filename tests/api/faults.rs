//! Faults around a write (contract, "Retries" and "Writes"): an answer lost after the PATCH was
//! sent, a write retried after a 503 whose first attempt was applied, Retry-After capped and
//! retries counted, an expectation checked on a no-op, names checked before any request.

use crate::objects::{Isvc, NAME, US, conflict, isvc_path, model, rev, status};
use crate::plugin::run;
use crate::stub::{Reply, Route, Stub};

/// `set iris 10 --model-uri v2` on the deployed object, its answer lost; the re-read shows `reread`.
fn lost_answer(reread: Isvc) -> crate::plugin::Run {
    let stub = Stub::start();
    stub.on(Route::get(isvc_path()), [Reply::ok(Isvc::deployed().json()), Reply::ok(reread.json())]);
    stub.on(Route::patch(isvc_path()), [Reply::HangUp]);
    let m2 = model(2);
    run(&stub, &["set", NAME, "10", "--model-uri", m2.as_str(), "--yes"])
}

#[test]
fn a_lost_answer_to_an_applied_write_is_read_again_and_ends_0() {
    let applied = Isvc::deployed().ctp(Some(10)).model(model(2)).patched_by_us();

    let run = lost_answer(applied);

    run.code(0)
        .stdout_is("inferenceservice.serving.kserve.io/iris canary set\n")
        .stderr_has("may have been applied")
        .stderr_has("the change is in place")
        .all_answered();
    assert_eq!(run.isvc_verbs(), ["GET", "PATCH", "GET"], "written once, then read\n{}", run.describe());
}

#[test]
fn a_lost_answer_to_a_write_that_was_not_applied_is_sent_once_more() {
    let stub = Stub::start();
    let applied = Isvc::deployed().ctp(Some(10)).model(model(2)).patched_by_us();
    stub.on(Route::get(isvc_path()), [Reply::ok(Isvc::deployed().json()), Reply::ok(Isvc::deployed().json())]);
    stub.on(Route::patch(isvc_path()), [Reply::HangUp, Reply::ok(applied.json())]);
    let m2 = model(2);

    let run = run(&stub, &["set", NAME, "10", "--model-uri", m2.as_str(), "--yes"]);

    run.code(0)
        .stdout_is("inferenceservice.serving.kserve.io/iris canary set\n")
        .stderr_has("may have been applied")
        .stderr_has("was not applied")
        .stderr_has("sending it once more")
        .all_answered();
    assert_eq!(run.isvc_verbs(), ["GET", "PATCH", "GET", "PATCH"], "re-read, then sent once more\n{}", run.describe());
    assert!(
        run.patches().iter().all(|p| String::from_utf8_lossy(&p.body).contains("resourceVersion")),
        "each attempt carries a precondition, so at most one applies\n{}",
        run.describe()
    );
}

#[test]
fn a_write_unanswered_twice_and_not_applied_exits_1_saying_so() {
    let run = lost_answer(Isvc::deployed());

    run.code(1)
        .stderr_has("no answer twice and was not applied")
        .stderr_has("canaryTrafficPercent unset")
        .all_answered();
    assert_eq!(run.isvc_verbs(), ["GET", "PATCH", "GET", "PATCH", "GET"], "sent twice, no more\n{}", run.describe());
}

#[test]
fn a_lost_answer_and_someone_else_s_change_exits_7_naming_them() {
    let theirs = Isvc::deployed().ctp(Some(50)).model(model(3)).written_by("kubectl-edit", "2026-11-02T10:10:00Z");

    let run = lost_answer(theirs);

    run.code(7).stderr_has("changed while this command ran").stderr_has("kubectl-edit").all_answered();
    assert_eq!(run.isvc_verbs(), ["GET", "PATCH", "GET"], "not sent again\n{}", run.describe());
}

#[test]
fn a_write_resent_after_a_503_that_finds_its_own_change_ends_0() {
    let stub = Stub::start();
    // The first PATCH was applied although its answer was a 503; the resent one meets the
    // precondition it moved (409); the re-read shows our own change in place.
    let applied = Isvc::deployed().ctp(Some(10)).model(model(2)).patched_by_us();
    stub.on(Route::get(isvc_path()), [Reply::ok(Isvc::deployed().json()), Reply::ok(applied.json())]);
    let unavailable = status(503, "ServiceUnavailable", "the server is currently unable to handle the request");
    stub.on(
        Route::patch(isvc_path()),
        [Reply::status(503, unavailable).header("Retry-After", "0"), Reply::status(409, conflict())],
    );
    let m2 = model(2);

    let run = run(&stub, &["set", NAME, "10", "--model-uri", m2.as_str(), "--yes"]);

    run.code(0).stderr_has("already in place").all_answered();
    assert!(!run.stderr_contains(US), "our own field manager is not named as someone else\n{}", run.describe());
    assert_eq!(run.isvc_verbs(), ["GET", "PATCH", "PATCH", "GET"], "{}", run.describe());
}

#[test]
fn retries_are_at_most_three_per_request() {
    let stub = Stub::start();
    let busy = status(429, "TooManyRequests", "too many requests");
    stub.on(Route::get(isvc_path()), [Reply::status(429, busy).header("Retry-After", "0")]);

    let run = run(&stub, &["status", NAME]);

    run.code(1).stderr_has("too many requests");
    let gets = run.isvc_verbs().iter().filter(|v| **v == "GET").count();
    assert_eq!(gets, 4, "one request and three retries\n{}", run.describe());
}

#[test]
fn a_retry_after_beyond_the_request_timeout_is_not_waited_for() {
    let stub = Stub::start();
    // An hour: honoured it would outlive the test's 30 s guard; capped to 10 s it would still
    // pass the 2 s --request-timeout, so the answer is the error, at once.
    let busy = status(503, "ServiceUnavailable", "the server is currently unable to handle the request");
    stub.on(Route::get(isvc_path()), [Reply::status(503, busy).header("Retry-After", "3600")]);

    let run = run(&stub, &["--request-timeout", "2s", "status", NAME]);

    run.code(1).stderr_has("unable to handle the request");
    assert_eq!(run.isvc_verbs(), ["GET"], "no retry past --request-timeout\n{}", run.describe());
}

#[test]
fn an_expectation_is_checked_when_there_is_nothing_to_write() {
    let stub = Stub::start();
    // Promoted already, on r2: a pipeline that tested r3 must not hear "unchanged".
    stub.on(Route::get(isvc_path()), [Reply::ok(Isvc::promoted().json())]);

    let run = run(&stub, &["promote", NAME, "--expect-revision", "3", "--yes"]);

    run.code(7).stderr_has("--expect-revision").stderr_has("does not match").stderr_has(&rev(2)).all_answered();
    assert_eq!(run.isvc_verbs(), ["GET"], "no write\n{}", run.describe());
}

#[test]
fn names_and_namespaces_are_checked_before_any_request() {
    for args in [
        &["set", "Has Space", "10"][..],
        &["promote", "%2e%2e"],
        &["status", "a/b"],
        &["-n", "Bad_Namespace", "rollback", NAME],
    ] {
        let stub = Stub::start();
        let run = run(&stub, args);
        run.code(2).stderr_has("DNS-1123");
        assert!(run.requests.is_empty(), "no request for {args:?}\n{}", run.describe());
    }
}
