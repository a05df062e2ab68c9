//! `status` without NAME reads the InferenceService table in pages (`limit`, then `continue`
//! with the token of the page before) and prints each page as it arrives: the same table and the
//! same `-o json|yaml` as when the server answers everything in one page.

use serde_json::{Value, json};

use crate::objects::{Isvc, NS, isvc_list_path};
use crate::plugin::run;
use crate::stub::{Recorded, Reply, Route, Stub};

/// An InferenceService named `name` in namespace `ns`, deployed.
fn object(ns: &str, name: &str) -> Value {
    let mut v = Isvc::deployed().json();
    v["metadata"]["name"] = json!(name);
    v["metadata"]["namespace"] = json!(ns);
    v
}

/// A page of KServe's InferenceService table, with objects; `next` is its continue token.
fn page(objects: &[Value], next: Option<&str>) -> Value {
    let col = |name: &str, priority: i64| json!({"name": name, "type": "string", "format": "", "description": "", "priority": priority});
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let name = o["metadata"]["name"].as_str().unwrap_or_default();
            json!({"cells": [name, format!("http://{name}.example.com"), "True", null, 100, null, format!("{name}-predictor-00001"), "5d"],
                   "object": o})
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1",
           "metadata": {"resourceVersion": "77", "continue": next.unwrap_or_default()},
           "columnDefinitions": [col("Name", 0), col("URL", 0), col("Ready", 0), col("Prev", 0), col("Latest", 0),
                                 col("PrevRolledoutRevision", 1), col("LatestReadyRevision", 1), col("Age", 0)],
           "rows": rows})
}

fn continues(token: &'static str) -> impl Fn(&Recorded) -> bool + Send + Sync {
    move |r: &Recorded| r.param("continue") == Some(token)
}

fn first_page(r: &Recorded) -> bool {
    r.param("continue").is_none()
}

/// The table, the revisions and the pods answered for any InferenceService of `ns`.
fn children(stub: &Stub, ns: &str) {
    stub.on(
        Route::get(format!("/apis/serving.knative.dev/v1/namespaces/{ns}/revisions")),
        [Reply::ok(
            json!({"kind": "RevisionList", "apiVersion": "serving.knative.dev/v1", "metadata": {}, "items": []}),
        )],
    );
    stub.on(
        Route::get(format!("/api/v1/namespaces/{ns}/pods")),
        [Reply::ok(json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {}, "columnDefinitions": [], "rows": []}))],
    );
}

/// Three InferenceServices, the widest name first: in pages of two and one, and in one page.
fn three() -> Vec<Value> {
    ["sklearn-iris-wide", "b", "c"].iter().map(|n| object(NS, n)).collect()
}

fn paged_stub(objects: &[Value]) -> Stub {
    let stub = Stub::start();
    stub.on(Route::get(isvc_list_path()).when(first_page), [Reply::ok(page(&objects[..2], Some("tok-1")))]);
    stub.on(Route::get(isvc_list_path()).when(continues("tok-1")), [Reply::ok(page(&objects[2..], None))]);
    children(&stub, NS);
    stub
}

fn whole_stub(objects: &[Value]) -> Stub {
    let stub = Stub::start();
    stub.on(Route::get(isvc_list_path()), [Reply::ok(page(objects, None))]);
    children(&stub, NS);
    stub
}

fn list_requests(requests: &[Recorded]) -> Vec<&Recorded> {
    requests.iter().filter(|r| r.path.ends_with("/inferenceservices")).collect()
}

#[test]
fn the_table_is_read_in_pages_and_printed_as_from_one_page() {
    let objects = three();
    for args in [vec!["status"], vec!["status", "--no-headers"], vec!["status", "-o", "wide"]] {
        let paged = run(&paged_stub(&objects), &args);
        paged.code(0);
        let lists = list_requests(&paged.requests);
        assert_eq!(lists.len(), 2, "{}", paged.describe());
        assert_eq!(lists[0].param("limit"), Some("500"), "{}", paged.describe());
        assert_eq!(lists[0].param("continue"), None);
        assert_eq!(lists[1].param("limit"), Some("500"));
        assert_eq!(lists[1].param("continue"), Some("tok-1"));
        // The first page with objects (the only InferenceService is shown in detail), the
        // next with none: the table is all it needs.
        assert_eq!(lists[0].param("includeObject"), Some("Object"));
        assert_eq!(lists[1].param("includeObject"), Some("None"));
        // The table alone: no revisions or pods are read for it.
        assert_eq!(paged.requests.len(), 2, "{}", paged.describe());
        let whole = run(&whole_stub(&objects), &args);
        whole.code(0);
        paged.stdout_is(&whole.out.stdout);
        assert_eq!(paged.out.stdout.lines().filter(|l| l.contains("example.com")).count(), 3);
    }
}

#[test]
fn a_wider_cell_on_a_later_page_widens_its_column_from_that_page_on() {
    let objects: Vec<Value> = ["a", "b", "a-much-longer-name"].iter().map(|n| object(NS, n)).collect();
    let paged = run(&paged_stub(&objects), &["status"]);
    paged.code(0);
    let lines: Vec<&str> = paged.out.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", paged.describe());
    // The first page is laid out on its own (NAME is 4 wide, plus 3), the second widens NAME.
    assert!(lines[0].starts_with("NAME   URL"), "{}", paged.describe());
    assert!(lines[1].starts_with("a      http://a.example.com"), "{}", paged.describe());
    assert!(lines[3].starts_with("a-much-longer-name   http://"), "{}", paged.describe());
}

#[test]
fn json_and_yaml_are_written_item_by_item_as_the_whole_list() {
    let objects = three();
    for format in ["json", "yaml"] {
        let paged = run(&paged_stub(&objects), &["status", "-o", format]);
        paged.code(0);
        let lists = list_requests(&paged.requests);
        assert_eq!(lists.len(), 2, "{}", paged.describe());
        assert!(lists.iter().all(|r| r.param("includeObject") == Some("Object")), "{}", paged.describe());
        // Per InferenceService: its revisions and its pods.
        assert_eq!(paged.requests.len(), 2 + 2 * 3, "{}", paged.describe());
        let whole = run(&whole_stub(&objects), &["status", "-o", format]);
        paged.stdout_is(&whole.out.stdout);
    }
    let list = run(&paged_stub(&objects), &["status", "-o", "json"]).json();
    let names: Vec<&str> = list["items"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["sklearn-iris-wide", "b", "c"]);
}

#[test]
fn every_namespace_and_a_selector_are_paged_too() {
    let objects = [object("team-a", "x"), object("team-b", "y"), object("team-c", "z")];
    let stub = Stub::start();
    let all = "/apis/serving.kserve.io/v1beta1/inferenceservices";
    stub.on(Route::get(all).when(first_page), [Reply::ok(page(&objects[..2], Some("tok-a")))]);
    stub.on(Route::get(all).when(continues("tok-a")), [Reply::ok(page(&objects[2..], None))]);
    let out = run(&stub, &["status", "-A", "-l", "team in (a,b,c)", "--no-headers"]);
    out.code(0);
    let lists = list_requests(&out.requests);
    assert_eq!(lists.len(), 2, "{}", out.describe());
    assert!(
        lists.iter().all(|r| r.param("labelSelector") == Some("team in (a,b,c)") && r.param("limit") == Some("500"))
    );
    // A later page's rows carry their metadata: the namespace column comes from it.
    assert_eq!(lists[1].param("includeObject"), Some("Metadata"));
    let namespaces: Vec<&str> =
        out.out.stdout.lines().map(|l| l.split_whitespace().next().unwrap_or_default()).collect();
    assert_eq!(namespaces, ["team-a", "team-b", "team-c"], "{}", out.describe());
}

#[test]
fn nothing_found_over_pages_is_said_once() {
    let stub = Stub::start();
    stub.on(Route::get(isvc_list_path()).when(first_page), [Reply::ok(page(&[], Some("tok-1")))]);
    stub.on(Route::get(isvc_list_path()).when(continues("tok-1")), [Reply::ok(page(&[], None))]);
    let out = run(&stub, &["status"]);
    out.code(0).stdout_is("").stderr_has(&format!("No resources found in {NS} namespace."));
    assert_eq!(list_requests(&out.requests).len(), 2, "{}", out.describe());
}
