//! Least privilege: the Role README.md gives (get/list/watch/patch inferenceservices, list
//! pods, get/list Knative revisions) runs every command and wait; without `watch`, a `--wait`
//! exits 5 before anything is written.

use crate::harness::*;

#[test]
fn the_documented_role_runs_every_command() {
    let ns = Ns::new("least-privilege");
    let name = "minimal";
    let c = ns.cluster;
    ns.grant_least_privilege(&c.limited_user, true);
    ns.create_ready(name, MODEL_1);
    let run = |args: &[&str]| ns.plugin_as(&c.limited, args);

    let list = run(&["status"]);
    // The InferenceService table: the first block (the only one is then shown in detail).
    let table = list.ok().stdout.split("\n\n").next().unwrap_or_default().to_string();
    let names: Vec<String> = parse_table(&table).iter().filter_map(|r| r.get("NAME").cloned()).collect();
    assert_eq!(names, [name], "{}", list.describe());
    let out = run(&["status", name]);
    let revisions: Vec<String> = revision_rows(&out.ok().stdout).iter().map(|r| r["REVISION"].clone()).collect();
    assert_eq!(revisions, [rev(name, 1)], "{}", out.describe());
    assert!(!out.stdout.contains("forbidden"), "every part of status is readable\n{}", out.describe());
    run(&["status", name, "-o", "json"]).ok();
    run(&["wait", name, "--for=ready", "--timeout", "2m"]).ok();
    run(&["set", "10", "--model-uri", MODEL_2, "--wait", "--timeout", "5m"]).ok();
    run(&["wait", name, "--for=traffic=10", "--timeout", "2m"]).ok();
    run(&["set", name, "30", "--wait", "--timeout", "5m"]).ok();
    run(&["promote", name, "--wait", "--timeout", "5m"]).ok();
    run(&["wait", name, "--for=promoted", "--timeout", "2m"]).ok();
    let out = run(&["rollback", name, "--wait", "--timeout", "5m"]);
    out.ok().stderr_has(MODEL_1);
    run(&["wait", name, "--for=rolled-back", "--timeout", "2m"]).ok();
    run(&["tag-routing", name, "on", "--wait", "--timeout", "5m"])
        .ok()
        .stdout_has_line(&format!("inferenceservice.serving.kserve.io/{name} tag routing enabled"))
        .stdout_has_line(&format!("latest: http://latest-{name}-predictor.{}.example.com", ns.name));
    run(&["tag-routing", name, "off", "--wait", "--timeout", "5m"]).ok();
    // -o json with --wait: the last object seen, the one that satisfied the done rule.
    let last = run(&["set", name, "100", "--wait", "--timeout", "5m", "-o", "json"]).ok().json();
    assert_eq!(last["kind"], "InferenceService");
    let t = last["status"]["components"]["predictor"]["traffic"].as_array().cloned().unwrap_or_default();
    assert_eq!(t.len(), 1, "{last}");
    assert_eq!(t[0]["percent"], 100);
    assert_eq!(t[0]["revisionName"], rev(name, 4).as_str(), "tag routing on and off cut r3 and r4");
    run(&["set", name, "0", "--dry-run=server"]).ok();
}

#[test]
fn without_watch_a_wait_exits_5_before_writing() {
    let ns = Ns::new("no-watch");
    let name = "unwatched";
    let c = ns.cluster;
    ns.grant_least_privilege(&c.limited_user, false);
    ns.create_ready(name, MODEL_1);
    let before = ns.get(name);
    for args in [vec!["set", name, "10", "--model-uri", MODEL_2, "--wait"], vec!["tag-routing", name, "on", "--wait"]] {
        let mark = ns.audit_mark();
        let out = ns.plugin_as(&c.limited, &args);
        out.code(5).stderr_has("watch").stderr_has(&c.limited_user);
        ns.assert_no_write_after_read(mark, &c.limited_user, name, 1);
        assert_eq!(owned_view(&ns.get(name)), owned_view(&before), "nothing written\n{}", out.describe());
    }
    // A wait with no write of its own judges the state first: already there ends at once, no
    // watch needed.
    ns.plugin_as(&c.limited, ["wait", name, "--for=ready"]).ok();
    // Without --wait the same write is allowed.
    ns.plugin_as(&c.limited, ["set", name, "10", "--model-uri", MODEL_2]).ok();
}

#[test]
fn status_without_pod_and_revision_access_still_shows_the_rest() {
    let ns = Ns::new("status-partial");
    let name = "partial-view";
    let c = ns.cluster;
    // Reads of InferenceServices only: no pods, no revisions.
    let rules = serde_json::json!([
        {"apiGroups": ["serving.kserve.io"], "resources": ["inferenceservices"], "verbs": ["get", "list"]}
    ]);
    ns.grant(&c.limited_user, "isvc-only", rules);
    ns.create_ready(name, MODEL_1);
    let out = ns.plugin_as(&c.limited, ["status", name]);
    let revisions: Vec<String> = revision_rows(&out.ok().stdout).iter().map(|r| r["REVISION"].clone()).collect();
    assert_eq!(revisions, [rev(name, 1)], "{}", out.describe());
    out.stdout_has_line(
        "models per revision unknown: cannot be listed: missing permission to list revisions.serving.knative.dev (forbidden)",
    )
    .stdout_has_line("pods: cannot be listed: missing permission to list pods (forbidden)");
    let admin = ns.plugin(["status", name]);
    let table = |t: &str| without_age(&(t.split("\n\n").next().unwrap_or_default().to_string() + "\n"));
    assert_eq!(table(&out.stdout), table(&admin.stdout), "the same InferenceService table\n{}", out.describe());
    ns.plugin_as(&c.limited, ["status", name, "-o", "json"]).ok();
}
