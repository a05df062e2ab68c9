//! `--wait` over a scripted watch (contract, "Waiting"): the wait survives a watch that ends, one
//! that is cut in the middle of an event line, and a 410 Gone, and still ends on the deciding
//! event delivered after the break; a deletion ends it with 6, someone else's write with 7.
//!
//! The scripted events come with small delays, as a real watch delivers them; the verdicts never
//! depend on those delays (`--timeout 20s` only bounds a wait that would otherwise never end).

use crate::objects::{ALICE, Isvc, NAME, US, event, expired, isvc_list_path, isvc_path, model, pods, pods_path};
use crate::plugin::{Run, run};
use crate::stub::{End, Reply, Route, Stub, Watch};

/// `--wait` bounded, a short fail window, and `-o json`: the last object seen is printed, which
/// tells the event the wait ended on.
const WAIT: [&str; 8] = ["--wait", "--timeout", "20s", "--fail-window", "1s", "--yes", "-o", "json"];

fn set_10_and_wait(stub: &Stub) -> Run {
    run(stub, &[&["set", NAME, "10"][..], &WAIT].concat())
}

/// A canary of r2 at 50% (rv 100) that the plugin moves to 10%: the GET, the PATCH, the pods.
fn moving_the_canary_to_10(stub: &Stub) {
    stub.on(Route::get(isvc_path()), [Reply::ok(Isvc::canary(50).json())]);
    stub.on(Route::patch(isvc_path()), [Reply::ok(written().json())]);
    stub.on(pods_of_iris(), [Reply::ok(pods(&[1, 2]))]);
}

/// The pod list of the InferenceService (the wait checks the serving revisions have a ready pod).
fn pods_of_iris() -> Route {
    Route::get(pods_path()).when(|r| r.param("labelSelector") == Some("serving.kserve.io/inferenceservice=iris"))
}

/// What our PATCH stored (rv 101): the new percent, status still at 50/50.
fn written() -> Isvc {
    Isvc::canary(50).ctp(Some(10)).patched_by_us()
}

/// KServe and Knative done: r2 at 10%, r1 at 90%.
fn settled(rv: u64) -> Isvc {
    Isvc::canary(10).rv(rv).written_by(US, "2026-11-02T10:10:00Z")
}

/// The stdout object's resourceVersion (which event the wait ended on).
#[track_caller]
fn ended_on(run: &Run) -> String {
    run.json().pointer("/metadata/resourceVersion").and_then(|v| v.as_str()).unwrap_or_default().to_string()
}

#[test]
fn waits_through_a_new_revision_and_checks_its_pods() {
    let stub = Stub::start();
    stub.on(Route::get(isvc_path()), [Reply::ok(Isvc::deployed().json())]);
    let written = Isvc::deployed().ctp(Some(10)).model(model(2)).patched_by_us();
    stub.on(Route::patch(isvc_path()), [Reply::ok(written.json())]);
    stub.on(pods_of_iris(), [Reply::ok(pods(&[1, 2]))]);
    // The write, r2 created but starting (not done: r2 is not ready), r2 ready at 10%.
    let watch = Watch::new()
        .event(100, event("MODIFIED", &written))
        .event(150, event("MODIFIED", &Isvc::canary_starting(10).rv(102)))
        .event(150, event("MODIFIED", &Isvc::canary(10).rv(103)))
        .end(End::Hold);
    stub.on(Route::watch(isvc_list_path()), [watch]);
    let m2 = model(2);

    let run = run(&stub, &[&["set", NAME, "10", "--model-uri", m2.as_str()][..], &WAIT].concat());

    run.code(0).all_answered();
    assert_eq!(ended_on(&run), "103", "ended before r2 was ready\n{}", run.describe());
    // The watch is opened from the read, before the write (no event can be missed).
    assert_eq!(run.isvc_verbs(), ["GET", "WATCH", "PATCH"], "{}", run.describe());
    assert_eq!(run.watches()[0].param("resourceVersion"), Some("100"), "{}", run.describe());
    let pods: Vec<_> = run.requests.iter().filter(|r| r.path == pods_path()).collect();
    assert!(!pods.is_empty(), "the pods of the serving revisions were not checked\n{}", run.describe());
    assert_eq!(pods[0].param("labelSelector"), Some("serving.kserve.io/inferenceservice=iris"), "{}", run.describe());
}

#[test]
fn someone_elses_write_to_the_percent_ends_the_wait_with_7() {
    let stub = Stub::start();
    moving_the_canary_to_10(&stub);
    let theirs = written().ctp(Some(30)).rv(102).written_by(ALICE, "2026-11-02T10:15:00Z");
    let watch = Watch::new()
        .event(100, event("MODIFIED", &written()))
        .event(200, event("MODIFIED", &theirs))
        // Were it ignored, the wait would go on to this and end 0.
        .event(200, event("MODIFIED", &settled(103).ctp(Some(10))))
        .end(End::Hold);
    stub.on(Route::watch(isvc_list_path()), [watch]);

    let run = set_10_and_wait(&stub);

    run.code(7).stderr_has(ALICE).stderr_has("someone else").all_answered();
    assert_eq!(run.patches().len(), 1, "nothing written back\n{}", run.describe());
}

/// The wait ended 0 on the deciding event (rv 103), from a second watch opened at the last event
/// seen (rv 101).
#[track_caller]
fn assert_resumed_and_decided(run: &Run) {
    run.code(0).all_answered();
    assert_eq!(ended_on(run), "103", "{}", run.describe());
    let watches = run.watches();
    assert!(watches.len() >= 2, "the watch was not opened again\n{}", run.describe());
    assert_eq!(watches[1].param("resourceVersion"), Some("101"), "resumed from the last event\n{}", run.describe());
}

#[test]
fn a_watch_that_ends_is_opened_again_from_the_last_resource_version() {
    let stub = Stub::start();
    moving_the_canary_to_10(&stub);
    let first = Watch::new().event(100, event("MODIFIED", &written())).end(End::Clean);
    let second = Watch::new().event(100, event("MODIFIED", &settled(103))).end(End::Hold);
    stub.on(Route::watch(isvc_list_path()), [first, second]);

    let run = set_10_and_wait(&stub);

    assert_resumed_and_decided(&run);
}

#[test]
fn a_watch_cut_in_the_middle_of_an_event_is_opened_again() {
    let stub = Stub::start();
    moving_the_canary_to_10(&stub);
    // The deciding event, cut after part of its line: the part must not be glued to what follows.
    let line = event("MODIFIED", &settled(103)).to_string();
    let first = Watch::new().event(100, event("MODIFIED", &written())).raw(100, &line[..line.len() / 2]).end(End::Cut);
    let second = Watch::new().event(100, event("MODIFIED", &settled(103))).end(End::Hold);
    stub.on(Route::watch(isvc_list_path()), [first, second]);

    let run = set_10_and_wait(&stub);

    assert_resumed_and_decided(&run);
}

#[test]
fn a_410_gone_is_followed_by_a_fresh_read() {
    let stub = Stub::start();
    // The fresh read after the 410 is the deciding state.
    stub.on(Route::get(isvc_path()), [Reply::ok(Isvc::canary(50).json()), Reply::ok(settled(105).json())]);
    stub.on(Route::patch(isvc_path()), [Reply::ok(written().json())]);
    stub.on(pods_of_iris(), [Reply::ok(pods(&[1, 2]))]);
    // After an ERROR event the API server ends the watch.
    let first = Watch::new().event(100, event("MODIFIED", &written())).event(100, expired(101)).end(End::Clean);
    stub.on(Route::watch(isvc_list_path()), [first, Watch::new().end(End::Hold)]);

    let run = set_10_and_wait(&stub);

    run.code(0).all_answered();
    assert_eq!(ended_on(&run), "105", "{}", run.describe());
    let verbs = run.isvc_verbs();
    let patch_at = verbs.iter().position(|v| *v == "PATCH");
    let reread_at = verbs.iter().rposition(|v| *v == "GET");
    assert!(matches!((patch_at, reread_at), (Some(p), Some(g)) if g > p), "no GET after the 410\n{}", run.describe());
}

#[test]
fn deletion_during_the_wait_exits_6() {
    let stub = Stub::start();
    moving_the_canary_to_10(&stub);
    let watch = Watch::new()
        .event(100, event("MODIFIED", &written()))
        .event(100, event("DELETED", &written().rv(102)))
        .end(End::Hold);
    stub.on(Route::watch(isvc_list_path()), [watch]);

    let run = set_10_and_wait(&stub);

    run.code(6).stderr_has("deleted").all_answered();
    assert_eq!(run.patches().len(), 1, "{}", run.describe());
    assert_eq!(run.watches().len(), 1, "{}", run.describe());
}

#[test]
fn a_wait_makes_no_retry_that_would_end_past_its_timeout() {
    let stub = Stub::start();
    stub.on(Route::get(isvc_path()), [Reply::ok(Isvc::canary(50).json())]);
    stub.on(Route::patch(isvc_path()), [Reply::ok(written().json())]);
    // The split holds at once; the pods list then asks for a 10 s pause, past the 3 s --timeout.
    let busy =
        crate::objects::status(503, "ServiceUnavailable", "the server is currently unable to handle the request");
    stub.on(pods_of_iris(), [Reply::status(503, busy).header("Retry-After", "10")]);
    stub.on(Route::watch(isvc_list_path()), [Watch::new().event(50, event("MODIFIED", &settled(102))).end(End::Hold)]);

    let run = run(&stub, &["set", NAME, "10", "--wait", "--timeout", "3s", "--yes"]);

    run.code(1).stderr_has("unable to handle the request");
    let pod_lists = run.requests.iter().filter(|r| r.path == pods_path()).count();
    assert_eq!(pod_lists, 1, "no retry past --timeout\n{}", run.describe());
}
