//! The status view of one InferenceService (contract, "Output": `status -o json|yaml`, its schema
//! in README) and its rendering for a person. Built from what the API server returned: the
//! server-rendered InferenceService and pod tables (kubectl parity), the object, and the Knative
//! revisions. One row per revision: KServe's two traffic entries can name the same revision (a
//! failed canary's `latest` entry falls back to the latest ready one), so they are summed.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::client::{TablePage, TableRow};
use crate::isvc::{Component, Condition, Isvc, REVISION_LABEL, revision_model};
use crate::output::{Color, dash, paint, render_table, sanitize};

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IsvcView {
    pub name: String,
    pub namespace: String,
    pub mode: String,
    pub ready: String,
    pub url: Option<String>,
    pub conditions: Vec<Condition>,
    pub components: BTreeMap<String, ComponentView>,
    /// The InferenceService as the API server returned it.
    pub inference_service: Value,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ComponentView {
    pub desired_percent: Option<i64>,
    pub latest_created_revision: String,
    pub latest_ready_revision: String,
    pub latest_rolledout_revision: String,
    pub previous_rolledout_revision: String,
    /// The traffic entries of status, as KServe wrote them.
    pub traffic: Vec<TrafficView>,
    /// One per revision that carries traffic or that status names, newest first.
    pub revisions: Vec<RevisionView>,
    /// What a person should know about the split (an entry that fell back to another revision).
    pub notes: Vec<String>,
    pub pods: Vec<PodView>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TrafficView {
    pub revision: String,
    pub percent: i64,
    pub tag: Option<String>,
    pub url: Option<String>,
    pub latest: bool,
    pub ready: bool,
    pub model: Option<String>,
}

/// One revision: the traffic it carries summed over the entries that name it.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RevisionView {
    pub name: String,
    pub percent: i64,
    /// How the percent is made up: `90% prev`, `10% latest` (one per traffic entry).
    pub via: Vec<String>,
    /// What status says of it: `latestCreated`, `latestReady`, `rolledOut`, `previous`.
    pub roles: Vec<String>,
    /// Its Ready condition: `True`, `False`, `Unknown`.
    pub ready: String,
    pub model: Option<String>,
    pub tags: Vec<String>,
    pub url: Option<String>,
    pub age: Option<String>,
    /// Why it cannot become ready (KServe's reason and message), if it failed.
    pub failure: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PodView {
    pub name: String,
    pub revision: String,
    pub ready: String,
    pub status: String,
    pub restarts: i64,
    /// RESTARTS exactly as kubectl prints it (`3 (5s ago)`); not part of the JSON view.
    #[serde(skip)]
    pub restarts_text: String,
    pub age: String,
    #[serde(skip)]
    pub component: String,
}

/// What the Knative Revision of one revision says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RevisionInfo {
    pub model: Option<String>,
    /// Its Ready condition's status.
    pub ready: Option<String>,
    /// kubectl's age of it (`5m`).
    pub age: Option<String>,
}

/// What is known about the Knative revisions of one InferenceService.
#[derive(Debug, Clone, Default)]
pub struct Revisions {
    pub by_name: BTreeMap<String, RevisionInfo>,
    /// Why they could not be read, if they could not.
    pub unreadable: Option<String>,
}

impl Revisions {
    /// From a list of Knative Revisions; `now` for their ages.
    pub fn from_list(items: &[Value], now: jiff::Timestamp) -> Revisions {
        let by_name = items
            .iter()
            .filter_map(|r| {
                let name = r.pointer("/metadata/name")?.as_str()?.to_string();
                let ready = r
                    .pointer("/status/conditions")
                    .and_then(Value::as_array)
                    .and_then(|cs| cs.iter().find(|c| c.get("type").and_then(Value::as_str) == Some("Ready")))
                    .and_then(|c| c.get("status").and_then(Value::as_str))
                    .map(str::to_string);
                let age = r
                    .pointer("/metadata/creationTimestamp")
                    .and_then(Value::as_str)
                    .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                    .and_then(|created| std::time::Duration::try_from(now.duration_since(created)).ok())
                    .map(crate::duration::human_age);
                Some((name, RevisionInfo { model: revision_model(r), ready, age }))
            })
            .collect();
        Revisions { by_name, unreadable: None }
    }

    fn get(&self, rev: &str) -> RevisionInfo {
        self.by_name.get(rev).cloned().unwrap_or_default()
    }
}

/// Reads pods out of a server-rendered pods Table (with objects).
pub fn pods_from_table(table: &Value) -> Vec<PodView> {
    let columns = column_names(table);
    let index = |name: &str| columns.iter().position(|c| c.eq_ignore_ascii_case(name));
    let rows = table.get("rows").and_then(Value::as_array).cloned().unwrap_or_default();
    rows.iter()
        .map(|row| {
            let cells = row.get("cells").and_then(Value::as_array).cloned().unwrap_or_default();
            let cell = |name: &str| index(name).and_then(|i| cells.get(i)).map(cell_text).unwrap_or_default();
            let labels = row.pointer("/object/metadata/labels");
            let label =
                |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str).unwrap_or_default().to_string();
            let restarts_text = cell("Restarts");
            PodView {
                name: cell("Name"),
                revision: label(REVISION_LABEL),
                ready: cell("Ready"),
                status: cell("Status"),
                restarts: restarts_text.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0),
                restarts_text,
                age: cell("Age"),
                component: label("component"),
            }
        })
        .collect()
}

/// Column names of a server Table.
pub fn column_names(table: &Value) -> Vec<String> {
    table
        .get("columnDefinitions")
        .and_then(Value::as_array)
        .map(|cols| cols.iter().filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_string)).collect())
        .unwrap_or_default()
}

/// A table cell as kubectl prints it: strings as they are, numbers in decimal, nothing as "".
pub fn cell_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The InferenceService rows of a server Table (or one page of it), as kubectl prints them
/// (priority 0 columns, `NAMESPACE` first when asked).
pub fn isvc_rows(table: &TablePage, with_namespace: bool, wide: bool) -> (Vec<String>, Vec<Vec<String>>) {
    let defs = &table.column_definitions;
    let shown: Vec<usize> = defs
        .iter()
        .enumerate()
        .filter(|(_, d)| wide || d.get("priority").and_then(Value::as_i64).unwrap_or(0) == 0)
        .map(|(i, _)| i)
        .collect();
    let mut headers: Vec<String> =
        shown.iter().map(|i| defs[*i].get("name").and_then(Value::as_str).unwrap_or_default().to_uppercase()).collect();
    if with_namespace {
        headers.insert(0, "NAMESPACE".into());
    }
    let rows = table
        .rows
        .iter()
        .map(|row| {
            let mut out: Vec<String> =
                shown.iter().map(|i| row.cells.get(*i).map(cell_text).unwrap_or_default()).collect();
            if with_namespace {
                out.insert(0, object_namespace(row));
            }
            out
        })
        .collect();
    (headers, rows)
}

/// The namespace of a row's object, read without parsing the rest of it.
fn object_namespace(row: &TableRow) -> String {
    #[derive(serde::Deserialize, Default)]
    struct Meta {
        #[serde(default)]
        namespace: String,
    }
    #[derive(serde::Deserialize)]
    struct Object {
        #[serde(default)]
        metadata: Meta,
    }
    row.object
        .as_ref()
        .and_then(|raw| serde_json::from_str::<Object>(raw.get()).ok())
        .map(|o| o.metadata.namespace)
        .unwrap_or_default()
}

/// Builds the view of one InferenceService.
pub fn build(isvc: &Isvc, revisions: &Revisions, pods: &[PodView]) -> IsvcView {
    let mut components = BTreeMap::new();
    for c in isvc.components() {
        let s = isvc.component_status(c);
        let traffic: Vec<TrafficView> = s
            .traffic
            .iter()
            .map(|t| TrafficView {
                revision: t.revision().to_string(),
                percent: t.pct(),
                tag: t.tag.clone(),
                url: t.url.clone(),
                latest: t.latest_revision == Some(true),
                // Knative puts a revision in status traffic only once it is ready; a revision
                // that lost readiness since then says so in its own Ready condition.
                ready: revisions.get(t.revision()).ready.as_deref().is_none_or(|r| r == "True"),
                model: revisions.get(t.revision()).model,
            })
            .collect();
        let component_pods: Vec<PodView> = pods
            .iter()
            .filter(|p| p.component == c.key() || (p.component.is_empty() && c == Component::Predictor))
            .cloned()
            .collect();
        components.insert(
            c.key().to_string(),
            ComponentView {
                desired_percent: isvc.ctp(c),
                latest_created_revision: s.lcr().to_string(),
                latest_ready_revision: s.lrr().to_string(),
                latest_rolledout_revision: s.lro().to_string(),
                previous_rolledout_revision: s.pro().to_string(),
                revisions: revision_rows(isvc, c, revisions),
                notes: split_notes(isvc, c),
                traffic,
                pods: component_pods,
            },
        );
    }
    IsvcView {
        name: isvc.name.clone(),
        namespace: isvc.namespace.clone(),
        mode: isvc.mode().name().to_string(),
        ready: isvc.ready().to_string(),
        url: isvc.status.url.clone(),
        conditions: isvc.status.conditions.clone(),
        components,
        inference_service: isvc.raw.clone(),
    }
}

/// One row per revision that carries traffic or that status names (latest created, latest
/// ready, rolled out, previous), newest first; entries naming the same revision are summed.
fn revision_rows(isvc: &Isvc, c: Component, revisions: &Revisions) -> Vec<RevisionView> {
    let s = isvc.component_status(c);
    let mut names: Vec<&str> = s.traffic.iter().map(|t| t.revision()).collect();
    names.extend([s.lcr(), s.lrr(), s.lro(), s.pro()]);
    names.retain(|n| !n.is_empty());
    names.sort_unstable_by(|a, b| b.cmp(a));
    names.dedup();
    let failure = isvc.latest_failure(c).or_else(|| isvc.crash_failure(c)).map(|f| f.to_string().replace('\n', " "));
    names
        .into_iter()
        .map(|name| {
            let entries: Vec<_> = s.traffic.iter().filter(|t| t.revision() == name).collect();
            let via = entries
                .iter()
                .map(|t| {
                    let how = match (t.latest_revision == Some(true), t.tag.as_deref()) {
                        (true, _) => "latest",
                        (false, Some(tag)) => tag,
                        (false, None) => "pinned",
                    };
                    format!("{}% {how}", t.pct())
                })
                .collect();
            let roles =
                [(s.lcr(), "latestCreated"), (s.lrr(), "latestReady"), (s.lro(), "rolledOut"), (s.pro(), "previous")]
                    .into_iter()
                    .filter(|(rev, _)| *rev == name)
                    .map(|(_, role)| role.to_string())
                    .collect();
            let info = revisions.get(name);
            // LCR failed: never ready (LCR ≠ LRR), or failing after it was ready (crash_failure).
            let failed = name == s.lcr() && failure.is_some();
            let ready = match info.ready {
                Some(r) => r,
                None if failed => "False".to_string(),
                None if !entries.is_empty() || name == s.lrr() => "True".to_string(),
                None => "Unknown".to_string(),
            };
            let mut tags: Vec<String> = entries.iter().filter_map(|t| t.tag.clone()).collect();
            tags.dedup();
            RevisionView {
                name: name.to_string(),
                percent: entries.iter().fold(0, |sum: i64, t| sum.saturating_add(t.pct())),
                via,
                roles,
                ready,
                model: info.model,
                tags,
                url: entries.iter().find_map(|t| t.url.clone()),
                age: info.age,
                failure: if failed { failure.clone() } else { None },
            }
        })
        .collect()
}

/// The cells of one revision row: `100% (90% prev + 10% latest)` where entries are summed.
fn revision_cells(r: &RevisionView, wide: bool) -> Vec<String> {
    let traffic = match r.via.as_slice() {
        [] => format!("{}%", r.percent),
        [one] => one.clone(),
        many => format!("{}% ({})", r.percent, many.join(" + ")),
    };
    let roles: Vec<&str> = r
        .roles
        .iter()
        .map(|role| match role.as_str() {
            "latestCreated" => "latest-created",
            "latestReady" => "latest-ready",
            "rolledOut" => "rolled-out",
            other => other,
        })
        .collect();
    let mut cells = vec![r.name.clone(), traffic, dash(&roles.join(", ")).to_string(), r.ready.clone()];
    if wide {
        cells.extend([
            r.model.clone().unwrap_or_else(|| "-".into()),
            dash(&r.tags.join(",")).to_string(),
            r.url.clone().unwrap_or_else(|| "-".into()),
            r.age.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    cells
}

/// The split explained where status alone misleads: the `latest` entry names another revision
/// than the latest created one (which is not ready, or failed).
fn split_notes(isvc: &Isvc, c: Component) -> Vec<String> {
    let s = isvc.component_status(c);
    let mut notes = Vec::new();
    if let Some(latest) = s.latest_entry()
        && !s.lcr().is_empty()
        && latest.revision() != s.lcr()
    {
        let state = if isvc.latest_failure(c).is_some() { "failed" } else { "is not ready yet" };
        notes.push(format!(
            "the latest entry's {}% goes to {}: the latest created revision {} {state}",
            latest.pct(),
            dash(latest.revision()),
            s.lcr()
        ));
    }
    notes
}

/// The detail sections printed under the table for one InferenceService. The revision table
/// fits 120 columns by default; `wide` adds MODEL, TAG, URL and AGE. Failures and notes get lines
/// of their own under the table, never a cell.
pub fn render_details(
    view: &IsvcView,
    revisions: &Revisions,
    pods_note: Option<&str>,
    no_headers: bool,
    wide: bool,
    color: bool,
) -> String {
    let mut out = String::new();
    for (key, c) in &view.components {
        let desired = match c.desired_percent {
            Some(p) => format!("{p}% to the latest revision"),
            None => "100% to the latest revision (canaryTrafficPercent unset)".to_string(),
        };
        out.push_str(&format!(
            "\n{} ({} mode): desired {desired}\n",
            paint(key, Color::Bold, color),
            sanitize(&view.mode)
        ));
        if c.revisions.is_empty() {
            out.push_str("no revision yet\n");
            continue;
        }
        let mut headers = vec!["REVISION", "TRAFFIC", "ROLE", "READY"];
        if wide {
            headers.extend(["MODEL", "TAG", "URL", "AGE"]);
        }
        let rows: Vec<Vec<String>> = c.revisions.iter().map(|r| revision_cells(r, wide)).collect();
        out.push_str(&render_table(&headers, &rows, no_headers));
        for r in &c.revisions {
            if let Some(failure) = &r.failure {
                out.push_str(&format!(
                    "{} {}: {}\n",
                    sanitize(&r.name),
                    paint("failed", Color::Red, color),
                    sanitize(failure)
                ));
            }
        }
        for note in &c.notes {
            out.push_str(&format!("note: {}\n", sanitize(note)));
        }
    }
    if let Some(why) = &revisions.unreadable {
        out.push_str(&format!("\nmodels per revision unknown: {}\n", sanitize(why)));
    }
    let not_true: Vec<Vec<String>> = view
        .conditions
        .iter()
        .filter(|c| c.status != "True" && !(c.type_ == "Stopped" && c.status == "False"))
        .map(|c| {
            vec![
                c.type_.clone(),
                c.status.clone(),
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default().replace('\n', " "),
            ]
        })
        .collect();
    if !not_true.is_empty() {
        out.push_str("\nconditions not True:\n");
        out.push_str(&render_table(&["TYPE", "STATUS", "REASON", "MESSAGE"], &not_true, no_headers));
    }
    out.push('\n');
    if let Some(note) = pods_note {
        out.push_str(&format!("pods: {}\n", sanitize(note)));
        return out;
    }
    let all_pods: Vec<&PodView> = view.components.values().flat_map(|c| c.pods.iter()).collect();
    if all_pods.is_empty() {
        out.push_str("pods: none\n");
        return out;
    }
    let mut by_revision: BTreeMap<&str, Vec<&PodView>> = BTreeMap::new();
    for p in &all_pods {
        by_revision.entry(p.revision.as_str()).or_default().push(p);
    }
    for (rev, pods) in by_revision.iter().rev() {
        out.push_str(&format!(
            "pods of {}:\n",
            if rev.is_empty() { "(no revision label)".to_string() } else { sanitize(rev) }
        ));
        let rows: Vec<Vec<String>> = pods
            .iter()
            .map(|p| vec![p.name.clone(), p.ready.clone(), p.status.clone(), p.restarts_text.clone(), p.age.clone()])
            .collect();
        out.push_str(&render_table(&["NAME", "READY", "STATUS", "RESTARTS", "AGE"], &rows, no_headers));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pods_are_read_from_the_server_table() {
        let table = json!({
            "columnDefinitions": [{"name":"Name"},{"name":"Ready"},{"name":"Status"},{"name":"Restarts"},{"name":"Age"}],
            "rows": [{"cells": ["p1", "0/2", "Init:CrashLoopBackOff", "3 (5s ago)", "40s"],
                      "object": {"metadata": {"labels": {REVISION_LABEL: "m-predictor-00002", "component": "predictor"}}}}]
        });
        let pods = pods_from_table(&table);
        assert_eq!(pods[0].status, "Init:CrashLoopBackOff");
        assert_eq!(pods[0].restarts, 3);
        assert_eq!(pods[0].restarts_text, "3 (5s ago)");
        assert_eq!(pods[0].revision, "m-predictor-00002");
    }

    #[test]
    fn isvc_rows_keep_priority_zero_columns_and_blank_cells() {
        let table = json!({
            "columnDefinitions": [{"name":"Name","priority":0},{"name":"URL","priority":0},{"name":"Prev","priority":0},{"name":"Extra","priority":1}],
            "rows": [{"cells": ["iris", "http://iris", null, "x"], "object": {"metadata": {"namespace": "t"}}}]
        });
        let page: TablePage = serde_json::from_str(&table.to_string()).expect("a table");
        let (headers, rows) = isvc_rows(&page, true, false);
        assert_eq!(headers, vec!["NAMESPACE", "NAME", "URL", "PREV"]);
        assert_eq!(rows[0], vec!["t", "iris", "http://iris", ""]);
    }

    /// A failed canary: the `latest` entry fell back to the rolled-out revision.
    fn failed_canary() -> Isvc {
        Isvc::from_value(json!({"metadata": {"name": "m", "namespace": "t"},
            "spec": {"predictor": {"canaryTrafficPercent": 10, "model": {"storageUri": "gs://x-sim-fail"}}},
            "status": {"components": {"predictor": {"latestCreatedRevision": "m-predictor-00002",
                "latestReadyRevision": "m-predictor-00001", "latestRolledoutRevision": "m-predictor-00001",
                "traffic": [{"latestRevision": true, "percent": 10, "revisionName": "m-predictor-00001"},
                            {"latestRevision": false, "percent": 90, "revisionName": "m-predictor-00001", "tag": "prev"}]}},
              "modelStatus": {"transitionStatus": "BlockedByFailedLoad", "lastFailureInfo": {"reason": "ModelLoadFailed", "message": "boom\nat line 2"}}}}))
    }

    #[test]
    fn a_failed_canary_is_one_row_per_revision_with_the_entries_summed() {
        let view = build(&failed_canary(), &Revisions::default(), &[]);
        let p = &view.components["predictor"];
        let names: Vec<&str> = p.revisions.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["m-predictor-00002", "m-predictor-00001"]);
        let (new, old) = (&p.revisions[0], &p.revisions[1]);
        assert_eq!(
            (new.percent, new.ready.as_str(), new.roles.clone()),
            (0, "False", vec!["latestCreated".to_string()])
        );
        assert_eq!(new.failure.as_deref(), Some("ModelLoadFailed: boom at line 2"));
        assert_eq!((old.percent, old.via.clone()), (100, vec!["10% latest".to_string(), "90% prev".to_string()]));
        assert_eq!(old.failure, None);
        assert_eq!(p.desired_percent, Some(10));
        assert!(p.notes[0].contains("the latest created revision m-predictor-00002 failed"), "{:?}", p.notes);
    }

    #[test]
    fn a_ready_canary_that_crash_loops_is_shown_failed() {
        let mut raw = failed_canary().raw.clone();
        raw["status"]["components"]["predictor"]["latestReadyRevision"] = json!("m-predictor-00002");
        raw["status"]["components"]["predictor"]["traffic"][0]["revisionName"] = json!("m-predictor-00002");
        raw["status"]["modelStatus"]["lastFailureInfo"] = json!({"reason": "ModelLoadFailed", "exitCode": 137});
        raw["status"]["conditions"] = json!([{"type": "PredictorConfigurationReady", "status": "False"}]);
        let view = build(&Isvc::from_value(raw), &Revisions::default(), &[]);
        let r2 = &view.components["predictor"].revisions[0];
        assert_eq!(
            (r2.name.as_str(), r2.failure.as_deref()),
            ("m-predictor-00002", Some("ModelLoadFailed: exit code 137"))
        );
    }

    #[test]
    fn details_put_the_failure_on_its_own_line_and_fit_120_columns() {
        let view = build(&failed_canary(), &Revisions::default(), &[]);
        let text = render_details(&view, &Revisions::default(), Some("none"), false, false, false);
        let lines: Vec<&str> = text.lines().collect();
        let row = |rev: &str| *lines.iter().find(|l| l.starts_with(rev)).unwrap();
        assert!(row("m-predictor-00001   100% (10% latest + 90% prev)   latest-ready, rolled-out").ends_with("True"));
        assert!(row("m-predictor-00002   0%").ends_with("False"));
        assert!(lines.contains(&"m-predictor-00002 failed: ModelLoadFailed: boom at line 2"), "{text}");
        assert!(lines.iter().all(|l| l.chars().count() <= 120), "{text}");
        assert!(row("REVISION").ends_with("READY"), "{text}");
        let wide = render_details(&view, &Revisions::default(), Some("none"), false, true, false);
        assert!(wide.lines().any(|h| h.starts_with("REVISION") && h.contains("MODEL") && h.ends_with("AGE")), "{wide}");
    }

    #[test]
    fn revision_ages_and_models_come_from_the_knative_revisions() {
        let now: jiff::Timestamp = "2026-01-01T00:10:00Z".parse().unwrap();
        let list = [json!({"metadata": {"name": "r1", "creationTimestamp": "2026-01-01T00:05:00Z",
            "annotations": {crate::isvc::SOURCE_URI_ANNOTATION: "gs://m1"}},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}})];
        let info = Revisions::from_list(&list, now).get("r1");
        assert_eq!(
            info,
            RevisionInfo { model: Some("gs://m1".into()), ready: Some("True".into()), age: Some("5m".into()) }
        );
    }
}
