//! The status view of one InferenceService (contract, "Output": `status -o json|yaml`) and its
//! rendering for a person. Built from what the API server returned: the server-rendered
//! InferenceService and pod tables (kubectl parity), the object, and the Knative revisions.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

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
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ComponentView {
    pub desired_percent: Option<i64>,
    pub latest_created_revision: String,
    pub latest_ready_revision: String,
    pub latest_rolledout_revision: String,
    pub previous_rolledout_revision: String,
    pub traffic: Vec<TrafficView>,
    /// Revisions that exist but carry no traffic entry (e.g. the latest created one, still
    /// starting or failed).
    pub pending: Vec<PendingRevision>,
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

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PendingRevision {
    pub revision: String,
    pub state: String,
    pub model: Option<String>,
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

/// What is known about the Knative revisions of one InferenceService.
#[derive(Debug, Clone, Default)]
pub struct Revisions {
    /// revision name → (model URI, Ready condition status)
    pub by_name: BTreeMap<String, (Option<String>, Option<String>)>,
    /// Why they could not be read, if they could not.
    pub unreadable: Option<String>,
}

impl Revisions {
    pub fn from_list(items: &[Value]) -> Revisions {
        let by_name = items
            .iter()
            .filter_map(|r| {
                let name = r.pointer("/metadata/name")?.as_str()?.to_string();
                let model = revision_model(r);
                let ready = r
                    .pointer("/status/conditions")
                    .and_then(Value::as_array)
                    .and_then(|cs| cs.iter().find(|c| c.get("type").and_then(Value::as_str) == Some("Ready")))
                    .and_then(|c| c.get("status").and_then(Value::as_str))
                    .map(str::to_string);
                Some((name, (model, ready)))
            })
            .collect();
        Revisions { by_name, unreadable: None }
    }

    fn model(&self, rev: &str) -> Option<String> {
        self.by_name.get(rev).and_then(|(m, _)| m.clone())
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

/// The InferenceService rows of a server Table, as kubectl prints them (priority 0 columns,
/// `NAMESPACE` first when asked), and the objects.
pub fn isvc_rows(table: &Value, with_namespace: bool, wide: bool) -> (Vec<String>, Vec<Vec<String>>, Vec<Value>) {
    let defs = table.get("columnDefinitions").and_then(Value::as_array).cloned().unwrap_or_default();
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
    let mut rows = Vec::new();
    let mut objects = Vec::new();
    for row in table.get("rows").and_then(Value::as_array).into_iter().flatten() {
        let cells = row.get("cells").and_then(Value::as_array).cloned().unwrap_or_default();
        let mut out: Vec<String> = shown.iter().map(|i| cells.get(*i).map(cell_text).unwrap_or_default()).collect();
        let object = row.get("object").cloned().unwrap_or(Value::Null);
        if with_namespace {
            out.insert(
                0,
                object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default().to_string(),
            );
        }
        rows.push(out);
        objects.push(object);
    }
    (headers, rows, objects)
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
                ready: revisions.by_name.get(t.revision()).and_then(|(_, r)| r.as_deref()).is_none_or(|r| r == "True"),
                model: revisions.model(t.revision()),
            })
            .collect();
        let mut pending = Vec::new();
        if !s.lcr().is_empty() && !traffic.iter().any(|t| t.revision == s.lcr()) {
            let state = if s.lcr() == s.lrr() {
                "ready, no traffic".to_string()
            } else {
                isvc.latest_failure(c).map_or_else(|| "creating".to_string(), |r| format!("failed: {r}"))
            };
            pending.push(PendingRevision { revision: s.lcr().to_string(), state, model: revisions.model(s.lcr()) });
        }
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
                traffic,
                pending,
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
    }
}

/// The detail sections printed under the table for one InferenceService.
pub fn render_details(
    view: &IsvcView,
    revisions: &Revisions,
    pods_note: Option<&str>,
    no_headers: bool,
    color: bool,
) -> String {
    let mut out = String::new();
    for (key, c) in &view.components {
        let desired = match c.desired_percent {
            Some(p) => format!("{p}% to the latest revision"),
            None => "100% to the latest revision (canaryTrafficPercent unset)".to_string(),
        };
        out.push_str(&format!("\n{} ({} mode): desired {desired}\n", paint(key, Color::Bold, color), view.mode));
        let mut rows: Vec<Vec<String>> = c
            .traffic
            .iter()
            .map(|t| {
                vec![
                    t.revision.clone(),
                    t.model.clone().unwrap_or_else(|| "-".into()),
                    format!("{}%", t.percent),
                    t.tag.clone().unwrap_or_else(|| "-".into()),
                    if t.latest { "yes".into() } else { "no".into() },
                    if t.ready { "True".into() } else { "False".into() },
                    t.url.clone().unwrap_or_else(|| "-".into()),
                ]
            })
            .collect();
        for p in &c.pending {
            rows.push(vec![
                p.revision.clone(),
                p.model.clone().unwrap_or_else(|| "-".into()),
                "-".into(),
                "-".into(),
                "created".into(),
                p.state.clone(),
                "-".into(),
            ]);
        }
        if rows.is_empty() {
            out.push_str("no traffic yet (no revision is ready)\n");
        } else {
            out.push_str(&render_table(
                &["REVISION", "MODEL", "TRAFFIC", "TAG", "LATEST", "READY", "URL"],
                &rows,
                no_headers,
            ));
        }
        out.push_str(&format!(
            "latest created {}, latest ready {}, rolled out {}, previous {}\n",
            dash(&c.latest_created_revision),
            dash(&c.latest_ready_revision),
            dash(&c.latest_rolledout_revision),
            dash(&c.previous_rolledout_revision)
        ));
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
        out.push_str(&format!("pods of {}:\n", if rev.is_empty() { "(no revision label)" } else { rev }));
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
        let (headers, rows, _) = isvc_rows(&table, true, false);
        assert_eq!(headers, vec!["NAMESPACE", "NAME", "URL", "PREV"]);
        assert_eq!(rows[0], vec!["t", "iris", "http://iris", ""]);
    }

    #[test]
    fn latest_created_without_traffic_is_shown_as_creating_or_failed() {
        let raw = json!({"metadata": {"name": "m", "namespace": "t"},
            "spec": {"predictor": {"canaryTrafficPercent": 10, "model": {"storageUri": "gs://x-sim-fail"}}},
            "status": {"components": {"predictor": {"latestCreatedRevision": "m-predictor-00002",
                "latestReadyRevision": "m-predictor-00001", "latestRolledoutRevision": "m-predictor-00001",
                "traffic": [{"latestRevision": true, "percent": 10, "revisionName": "m-predictor-00001"},
                            {"latestRevision": false, "percent": 90, "revisionName": "m-predictor-00001", "tag": "prev"}]}},
              "modelStatus": {"transitionStatus": "BlockedByFailedLoad", "lastFailureInfo": {"reason": "ModelLoadFailed", "message": "boom"}}}});
        let view = build(&Isvc::from_value(raw), &Revisions::default(), &[]);
        let p = &view.components["predictor"];
        assert_eq!(p.pending[0].revision, "m-predictor-00002");
        assert_eq!(p.pending[0].state, "failed: ModelLoadFailed: boom");
        assert_eq!(p.desired_percent, Some(10));
    }
}
