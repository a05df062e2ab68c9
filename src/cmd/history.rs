//! `history [NAME]`: the revisions, newest first, with their model, creation time and the
//! traffic the recorded rollouts gave them (Knative keeps no traffic history: `-` when no
//! rollout recorded one), then the rollouts recorded in the Lease.

use anyhow::Result;
use serde_json::{Value, json};

use super::Ctx;
use crate::error::Exit;
use crate::isvc::{pod_selector, revision_model};
use crate::output::{render_table, sanitize, to_json};
use crate::resolve::resolve;
use crate::rollout::lease;
use crate::rollout::state::{HistoryRecord, Phase, push_history};

pub async fn run(ctx: &Ctx, args: &crate::cli::HistoryArgs) -> Result<Exit> {
    let isvc = resolve(&ctx.kube, &ctx.term, args.name.as_deref()).await?;
    // Standard mode has no Knative revisions: only its rollouts are listed.
    let revisions = if super::standard::is_standard(&isvc) {
        Vec::new()
    } else {
        ctx.kube.list_revisions(&isvc.namespace, &pod_selector(&isvc.name)).await?
    };
    let mut rollouts = Vec::new();
    if let Some((_, rec)) = lease::read(&ctx.kube, &isvc.namespace, &isvc.name).await? {
        rollouts = rec.history.clone();
        if let Some(state) = &rec.state {
            // The current (or last) rollout, with its phase so far.
            push_history(&mut rollouts, state.record());
        }
    }
    let view = history_view(&revisions, &rollouts);
    if ctx.output().is_some() {
        print!("{}", to_json(&view)?);
    } else {
        print!("{}", render(&view, ctx.global.no_headers));
    }
    Ok(Exit::Ok)
}

/// The JSON view: `revisions` newest first, each with `traffic` from the rollouts that sent it
/// some (as the canary, or as the stable revision that kept the rest of each split), and
/// `rollouts` newest first.
pub fn history_view(revisions: &[Value], rollouts: &[HistoryRecord]) -> Value {
    let mut revs: Vec<&Value> = revisions.iter().collect();
    let created =
        |v: &Value| v.pointer("/metadata/creationTimestamp").and_then(Value::as_str).unwrap_or_default().to_string();
    let name = |v: &Value| v.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
    revs.sort_by_key(|v| std::cmp::Reverse((created(v), name(v))));
    let rows: Vec<Value> = revs
        .iter()
        .map(|v| {
            let n = name(v);
            let is = |r: &Option<String>| r.as_deref() == Some(n.as_str());
            // Oldest rollout first, so that the shares read in time order; each share says the
            // role the revision had in that rollout (canary: that rollout's outcome).
            let mut traffic: Vec<Value> = Vec::new();
            let mut outcome = None;
            for r in rollouts.iter().rev() {
                let share = |percent: i64, at: &str, role: &str| json!({"percent": percent, "at": at, "rollout": r.id, "role": role});
                if is(&r.revision) {
                    traffic.extend(r.traffic.iter().map(|t| share(t.percent, &t.at, r.outcome.word())));
                    outcome = Some(r.outcome.word().to_string());
                } else if is(&r.stable) && !r.traffic.is_empty() {
                    traffic.extend(r.traffic.iter().map(|t| share(100 - t.percent, &t.at, "stable")));
                    // After a rollback the stable revision has it all again.
                    if let (Phase::RolledBack | Phase::Aborted, Some(end)) = (r.outcome, &r.ended_at) {
                        traffic.push(share(100, end, "stable"));
                    }
                }
            }
            json!({"name": n, "model": revision_model(v), "created": created(v), "traffic": traffic, "outcome": outcome})
        })
        .collect();
    json!({"revisions": rows, "rollouts": rollouts})
}

/// `10% 12:00:01, 100% 12:00:30 (promoted); 90% 12:05:00, 100% 12:05:09 (stable)`, or `-`: the
/// shares in time order, each run of one role labelled once.
fn traffic_text(row: &Value) -> String {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for t in row["traffic"].as_array().into_iter().flatten() {
        let label = format!("{}/{}", t["rollout"].as_str().unwrap_or_default(), t["role"].as_str().unwrap_or_default());
        let share = format!("{}% {}", t["percent"], short_time(t["at"].as_str().unwrap_or_default()));
        match groups.last_mut() {
            Some((l, shares)) if *l == label => shares.push(share),
            _ => groups.push((label, vec![share])),
        }
    }
    if groups.is_empty() {
        return "-".to_string();
    }
    let parts: Vec<String> = groups
        .into_iter()
        .map(|(label, shares)| format!("{} ({})", shares.join(", "), label.rsplit('/').next().unwrap_or_default()))
        .collect();
    parts.join("; ")
}

/// A MicroTime without its fraction.
fn short_time(t: &str) -> String {
    match t.split_once('.') {
        Some((whole, _)) => format!("{whole}Z"),
        None => t.to_string(),
    }
}

pub fn render(view: &Value, no_headers: bool) -> String {
    let s = |v: &Value| v.as_str().map(str::to_string).unwrap_or_else(|| "-".to_string());
    let rows: Vec<Vec<String>> = view["revisions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| vec![s(&r["name"]), s(&r["model"]), s(&r["created"]), traffic_text(r)])
        .collect();
    let mut out = render_table(&["REVISION", "MODEL", "CREATED", "TRAFFIC"], &rows, no_headers);
    let rollouts: Vec<Vec<String>> = view["rollouts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            vec![
                short_time(&s(&r["startedAt"])),
                s(&r["model"]),
                s(&r["revision"]),
                s(&r["outcome"]),
                r["endedAt"].as_str().map_or("-".into(), short_time),
            ]
        })
        .collect();
    if !rollouts.is_empty() {
        out.push('\n');
        out.push_str(&render_table(
            &["ROLLOUT STARTED", "MODEL", "REVISION", "OUTCOME", "ENDED"],
            &rollouts,
            no_headers,
        ));
    }
    out.lines().map(sanitize).collect::<Vec<_>>().join("\n") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::state::{Phase, StepRecord};

    fn rev(n: &str, created: &str, model: &str) -> Value {
        json!({"metadata": {"name": n, "creationTimestamp": created,
            "annotations": {"internal.serving.kserve.io/storage-initializer-sourceuri": model}}})
    }

    #[test]
    fn revisions_newest_first_with_the_traffic_rollouts_gave_them() {
        let revisions =
            vec![rev("m-1", "2026-11-30T10:00:00Z", "gs://a"), rev("m-2", "2026-11-30T11:00:00Z", "gs://b")];
        let record = HistoryRecord {
            id: "r1".into(),
            model: "gs://b".into(),
            revision: Some("m-2".into()),
            stable: Some("m-1".into()),
            outcome: Phase::Promoted,
            started_at: "2026-11-30T11:00:00.000001Z".into(),
            ended_at: Some("2026-11-30T11:05:00.000001Z".into()),
            traffic: vec![
                StepRecord { percent: 10, at: "2026-11-30T11:01:00.000001Z".into() },
                StepRecord { percent: 100, at: "2026-11-30T11:04:00.000001Z".into() },
            ],
            message: None,
        };
        let view = history_view(&revisions, &[record]);
        assert_eq!(view["revisions"][0]["name"], "m-2");
        assert_eq!(view["revisions"][0]["traffic"][1]["percent"], 100);
        // The stable revision kept the rest of each split.
        let stable: Vec<i64> =
            view["revisions"][1]["traffic"].as_array().unwrap().iter().filter_map(|t| t["percent"].as_i64()).collect();
        assert_eq!(stable, vec![90, 0]);
        assert_eq!(view["revisions"][1]["traffic"][0]["role"], "stable");
        assert_eq!(view["revisions"][1]["outcome"], Value::Null);
        let text = render(&view, false);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("REVISION"), "{text}");
        assert!(lines[1].contains("10% 2026-11-30T11:01:00Z, 100% 2026-11-30T11:04:00Z (promoted)"), "{text}");
        assert!(lines[2].contains("90% 2026-11-30T11:01:00Z, 0% 2026-11-30T11:04:00Z (stable)"), "{text}");
        // A revision no recorded rollout touched: `-`.
        let untouched = history_view(&[rev("m-0", "2026-11-30T09:00:00Z", "gs://z")], &[]);
        assert!(render(&untouched, true).trim_end().ends_with('-'));
        assert!(text.contains("ROLLOUT STARTED"), "{text}");
    }
}
