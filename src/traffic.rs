//! Traffic maths: the split KServe will ask Knative for after a change (facts §4.2), for the
//! before/after preview of dry runs and prompts.

use crate::isvc::Component;
use crate::isvc::Isvc;
use crate::output::render_table;
use crate::patch::Change;

/// One line of a traffic table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub revision: String,
    pub percent: i64,
    pub tag: String,
}

pub const NEW_REVISION: &str = "(new revision, to be created)";

/// The traffic as status reports it now.
pub fn current(isvc: &Isvc, c: Component) -> Vec<Split> {
    isvc.component_status(c)
        .traffic
        .iter()
        .map(|t| Split { revision: t.revision().to_string(), percent: t.pct(), tag: t.tag.clone().unwrap_or_default() })
        .collect()
}

/// The split after a change, by KServe's rule: with ctp set and something rolled out,
/// `[latest ctp, prev LRO 100-ctp]`, else `[latest 100]`. A template change (model URI, tag
/// routing) puts a new revision on the latest entry once it is ready.
pub fn predicted(isvc: &Isvc, c: Component, change: &Change) -> Vec<Split> {
    let s = isvc.component_status(c);
    let (ctp, template_change, tag_routing) = match change {
        Change::Traffic { component, percent, model, tag_routing_on } if *component == c => {
            let tags = *tag_routing_on || isvc.tag_routing();
            (*percent, model.is_some() || tags != isvc.tag_routing(), tags)
        }
        Change::Traffic { .. } => (isvc.ctp(c), false, isvc.tag_routing()),
        Change::TagRouting(on) => (isvc.ctp(c), *on != isvc.tag_routing(), *on),
    };
    let latest = if template_change { NEW_REVISION.to_string() } else { s.lrr().to_string() };
    let latest_tag = if tag_routing { "latest" } else { "" }.to_string();
    // When the latest revision is the rolled-out one (no newer revision pending), a split of
    // less than 100% lands on one revision and KServe moves the rolled-out marker back to the
    // previous rollout, which then takes the `prev` share (facts §4.4, §4.5-6).
    let settles_on_previous = !template_change && s.lcr() == s.lrr() && s.lrr() == s.lro() && !s.pro().is_empty();
    let prev = if settles_on_previous { s.pro() } else { s.lro() };
    match ctp {
        Some(p) if !s.lro().is_empty() => {
            let mut out = vec![Split { revision: latest, percent: p, tag: latest_tag }];
            if p < 100 {
                out.push(Split { revision: prev.to_string(), percent: 100i64.saturating_sub(p), tag: "prev".into() });
            }
            out
        }
        _ => vec![Split { revision: latest, percent: 100, tag: latest_tag }],
    }
}

/// One side of a split as text: `90% rev (prev)`.
fn split_texts(rows: &[Split]) -> Vec<String> {
    rows.iter()
        .map(|s| {
            let tag = if s.tag.is_empty() { String::new() } else { format!(" ({})", s.tag) };
            format!("{}% {}{tag}", s.percent, s.revision)
        })
        .collect()
}

/// The before/after split on one line, for logs (CI, `--yes`): `traffic: A, B -> C, D`.
pub fn preview_line(before: &[Split], after: &[Split]) -> String {
    let side = |rows: &[Split]| if rows.is_empty() { "none".to_string() } else { split_texts(rows).join(", ") };
    crate::output::sanitize(&format!("traffic: {} -> {}", side(before), side(after)))
}

/// A small before/after table for stderr.
pub fn preview(before: &[Split], after: &[Split]) -> String {
    let (b, a) = (split_texts(before), split_texts(after));
    let rows: Vec<Vec<String>> = (0..b.len().max(a.len()))
        .map(|i| vec![b.get(i).cloned().unwrap_or_default(), a.get(i).cloned().unwrap_or_default()])
        .collect();
    render_table(&["BEFORE", "AFTER"], &rows, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::isvc::ModelField;
    use serde_json::json;

    fn canary() -> Isvc {
        Isvc::from_value(json!({"metadata": {"name": "m"},
            "spec": {"predictor": {"canaryTrafficPercent": 10, "model": {"storageUri": "gs://2"}}},
            "status": {"components": {"predictor": {"latestCreatedRevision": "m-predictor-00002",
              "latestReadyRevision": "m-predictor-00002", "latestRolledoutRevision": "m-predictor-00001",
              "traffic": [{"latestRevision": true, "percent": 10, "revisionName": "m-predictor-00002"},
                          {"latestRevision": false, "percent": 90, "revisionName": "m-predictor-00001", "tag": "prev"}]}}}}))
    }

    #[test]
    fn promote_predicts_one_entry_at_100() {
        let after = predicted(
            &canary(),
            Component::Predictor,
            &Change::Traffic { component: Component::Predictor, percent: None, model: None, tag_routing_on: false },
        );
        assert_eq!(after, vec![Split { revision: "m-predictor-00002".into(), percent: 100, tag: String::new() }]);
    }

    #[test]
    fn rollback_predicts_prev_at_100() {
        let after = predicted(
            &canary(),
            Component::Predictor,
            &Change::Traffic { component: Component::Predictor, percent: Some(0), model: None, tag_routing_on: false },
        );
        assert_eq!(after[0].percent, 0);
        assert_eq!(after[1], Split { revision: "m-predictor-00001".into(), percent: 100, tag: "prev".into() });
    }

    #[test]
    fn new_model_predicts_a_new_revision() {
        let change = Change::Traffic {
            component: Component::Predictor,
            percent: Some(20),
            model: Some((ModelField::Model, "gs://3".into())),
            tag_routing_on: false,
        };
        let after = predicted(&canary(), Component::Predictor, &change);
        assert_eq!(after[0].revision, NEW_REVISION);
        assert_eq!(after[1].percent, 80);
    }

    #[test]
    fn tag_routing_on_tags_latest_and_cuts_a_revision() {
        let after = predicted(&canary(), Component::Predictor, &Change::TagRouting(true));
        assert_eq!(after[0], Split { revision: NEW_REVISION.into(), percent: 10, tag: "latest".into() });
    }

    #[test]
    fn preview_shows_both_sides() {
        let text = preview(
            &current(&canary(), Component::Predictor),
            &[Split { revision: "r".into(), percent: 100, tag: String::new() }],
        );
        assert!(text.starts_with("BEFORE"));
        assert!(text.contains("10% m-predictor-00002"));
        assert!(text.contains("100% r"));
    }

    #[test]
    fn preview_line_shows_both_sides() {
        let after = predicted(
            &canary(),
            Component::Predictor,
            &Change::Traffic { component: Component::Predictor, percent: Some(30), model: None, tag_routing_on: false },
        );
        assert_eq!(
            preview_line(&current(&canary(), Component::Predictor), &after),
            "traffic: 10% m-predictor-00002, 90% m-predictor-00001 (prev) -> 30% m-predictor-00002, 70% m-predictor-00001 (prev)"
        );
        assert_eq!(preview_line(&[], &after[..1]), "traffic: none -> 30% m-predictor-00002");
    }

    #[test]
    fn rollback_after_promote_goes_to_the_previous_rollout() {
        let promoted = Isvc::from_value(json!({"metadata": {"name": "m"},
            "spec": {"predictor": {"model": {"storageUri": "gs://2"}}},
            "status": {"components": {"predictor": {"latestCreatedRevision": "m-predictor-00002",
              "latestReadyRevision": "m-predictor-00002", "latestRolledoutRevision": "m-predictor-00002",
              "previousRolledoutRevision": "m-predictor-00001",
              "traffic": [{"latestRevision": true, "percent": 100, "revisionName": "m-predictor-00002"}]}}}}));
        let rollback =
            Change::Traffic { component: Component::Predictor, percent: Some(0), model: None, tag_routing_on: false };
        assert_eq!(
            preview_line(
                &current(&promoted, Component::Predictor),
                &predicted(&promoted, Component::Predictor, &rollback)
            ),
            "traffic: 100% m-predictor-00002 -> 0% m-predictor-00002, 100% m-predictor-00001 (prev)"
        );
    }
}
