//! `rollout` at a terminal: the live view of the plan under the event lines (each step with its
//! state, the split, the time left in the hold), and Ctrl-C in the hold: the view cleared, the
//! step said to be applied with how to go on, the cursor shown.

use serde_json::{Value, json};

use crate::objects::{NAME, NS, State, isvc_list_path, isvc_path, model, pods_path, rev};
use crate::stub::{End, Reply, Route, Stub, Watch};
use crate::term::Session;

fn lease_path() -> String {
    format!("/apis/coordination.k8s.io/v1/namespaces/{NS}/leases/isvc-canary-{NAME}")
}

fn lease(rv: u64) -> Value {
    json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": format!("isvc-canary-{NAME}"), "namespace": NS, "resourceVersion": rv.to_string()},
        "spec": {"holderIdentity": "me", "leaseDurationSeconds": 30}})
}

/// Ready pods of revisions 1 and 2, as the wait lists them.
fn pods() -> Value {
    let items: Vec<Value> = [1, 2]
        .iter()
        .map(|n| {
            json!({"metadata": {"name": format!("{}-deployment-x{n}", rev(NAME, *n)), "namespace": NS,
                "labels": {"serving.knative.dev/revision": rev(NAME, *n), "serving.kserve.io/inferenceservice": NAME}},
                "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})
        })
        .collect();
    json!({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items})
}

#[test]
fn the_live_view_shows_the_plan_and_ctrl_c_in_the_hold_leaves_the_step_applied() {
    let stub = Stub::start();
    stub.on(Route::get(isvc_path(NAME)), [Reply::ok(State::deployed().object())]);
    stub.on(
        Route::get(lease_path()),
        [Reply::status(404, json!({"kind": "Status", "code": 404, "message": "not found"}))],
    );
    stub.on(Route::post(format!("/apis/coordination.k8s.io/v1/namespaces/{NS}/leases")), [Reply::ok(lease(1))]);
    stub.on(Route::patch(lease_path()), [Reply::ok(lease(2))]);
    stub.on(Route::post(format!("/api/v1/namespaces/{NS}/events")), [Reply::ok(json!({"kind": "Event"}))]);
    stub.on(Route::watch(isvc_list_path()), [Watch::new().end(End::Hold)]);
    stub.on(Route::patch(isvc_path(NAME)), [Reply::ok(State::canary(10).rv(131).object())]);
    stub.on(Route::get(pods_path()), [Reply::ok(pods())]);
    let m2 = model(2);
    let args = ["rollout", NAME, "--model-uri", m2.as_str(), "--steps", "10,100", "--pause", "5m", "--yes"];
    let mut s = Session::start(&stub, &args, 30, 120);
    let screen = s.wait_text("holding, ");
    for part in [">1     10% for 5m", " 2     100%", "CanaryStepApplied step 1/2 10%"] {
        assert!(screen.has(part), "the view shows {part:?}\n{}", screen.show());
    }
    s.interrupt();
    let end = s.end();
    end.code(130)
        .row_starts(
            "error: interrupted while holding the step: the rollout stopped at step 1 of 2 (10%), which is applied",
        )
        .lacks("holding, ")
        .lacks("STEP ")
        .cursor_visible();
}
