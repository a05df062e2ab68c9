//! `set [NAME] PERCENT [--model-uri URI]` (alias `canary`).

use anyhow::Result;

use super::Ctx;
use super::mutate::{self, Mutation};
use super::standard::{self as std_mode, StdMutation};
use crate::cli::SetArgs;
use crate::error::{Exit, fail};
use crate::isvc::Isvc;
use crate::resolve::resolve;
use crate::rules::{SetRequest, parse_percent, plan_set, validate_model_uri};
use crate::standard::{CanaryChange, StandardGoal, StandardSet, deployment_name};
use crate::wait::Goal;

pub async fn run(ctx: &Ctx, args: &SetArgs) -> Result<Exit> {
    let name = args.name.as_deref();
    let percent = parse_percent(&args.percent)?;
    if let Some(uri) = &args.model_uri {
        validate_model_uri(uri)?;
    }
    let wait = args.write.wait_limits()?;
    let verb = match percent {
        100 => "promoted",
        0 => "rolled back",
        _ => "canary set",
    };
    let request = SetRequest {
        component: args.component,
        percent,
        model_uri: args.model_uri.as_deref(),
        split_with_previous: args.split_with_previous,
        replace: args.replace,
    };
    let isvc = resolve(&ctx.kube, &ctx.term, name).await?;
    if std_mode::is_standard(&isvc) {
        return standard(ctx, args, isvc, percent, wait).await;
    }
    if args.canary_name.is_some() {
        return Err(fail(
            Exit::Usage,
            "--canary-name is for Standard mode (spec.canary); this InferenceService runs in Knative mode",
        ));
    }
    let m = Mutation {
        pre_read: Some(isvc),
        name,
        component: Some(args.component),
        write: &args.write,
        wait,
        expect_revision: args.expect_revision.as_deref(),
        verb,
    };
    mutate::run(
        ctx,
        m,
        |isvc| plan_set(isvc, &request),
        |_, _| match percent {
            100 => Goal::Promoted,
            0 => Goal::Pinned(None),
            n => Goal::Split(n),
        },
    )
    .await
}

/// `set` on a Standard-mode InferenceService: one `spec.canary` entry (contract, "Standard mode").
async fn standard(
    ctx: &Ctx,
    args: &SetArgs,
    isvc: Isvc,
    percent: i64,
    wait: Option<crate::cli::WaitLimits>,
) -> Result<Exit> {
    std_mode::refuse_component(args.component)?;
    if args.split_with_previous {
        return Err(fail(
            Exit::Usage,
            "--split-with-previous is for Knative mode: Standard mode has no previous revision (a canary is a spec.canary entry)",
        ));
    }
    let request = StandardSet {
        percent,
        model_uri: args.model_uri.as_deref(),
        canary_name: args.canary_name.as_deref(),
        replace: args.replace,
    };
    let m = StdMutation { write: &args.write, wait, expect: args.expect_revision.as_deref(), verb: None };
    let asked = args.canary_name.clone();
    let model = args.model_uri.clone();
    std_mode::run(
        ctx,
        isvc,
        m,
        |i| crate::standard::plan_set(i, &request),
        move |before, change| set_goal(before, change, percent, asked.as_deref(), model.as_deref()),
    )
    .await
}

/// What "done" is after a Standard-mode `set`: the entry written (or, with nothing written, the
/// one asked), at its percent; a promotion when `set 100` promoted.
pub fn set_goal(
    before: &Isvc,
    change: Option<&CanaryChange>,
    percent: i64,
    asked: Option<&str>,
    model: Option<&str>,
) -> StandardGoal {
    let old = before.canaries();
    if let Some(change) = change {
        if let Some(p) = &change.promote {
            let old_stable = deployment_name(&before.name, before.predictor_name());
            return StandardGoal::Promoted { name: p.name.clone(), old_stable };
        }
        let written = change.canaries.iter().flatten().find(|e| !old.iter().any(|c| &c.raw == *e));
        if let Some(entry) = written {
            let name = entry.pointer("/predictor/name").and_then(serde_json::Value::as_str).unwrap_or_default();
            let percent = entry.get("trafficPercent").and_then(serde_json::Value::as_i64).unwrap_or(percent);
            return StandardGoal::Canary { name: name.to_string(), percent };
        }
    }
    let picked = old
        .iter()
        .find(|c| asked.is_some_and(|n| n == c.name) || model.is_some_and(|m| c.model_uri.as_deref() == Some(m)))
        .or_else(|| (old.len() == 1).then(|| &old[0]));
    match picked {
        Some(c) => StandardGoal::Canary { name: c.name.clone(), percent },
        None => StandardGoal::NoCanary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::standard::Promotion;
    use serde_json::json;

    fn before() -> Isvc {
        Isvc::from_value(json!({
            "metadata": {"name": "iris", "namespace": "t"},
            "spec": {"predictor": {"model": {"storageUri": "gs://m1"}},
                     "canary": [{"predictor": {"name": "v2", "model": {"storageUri": "gs://m2"}}, "trafficPercent": 20}]},
            "status": {"deploymentMode": "Standard"}
        }))
    }

    #[test]
    fn the_goal_is_the_entry_written_or_the_promotion() {
        let b = before();
        let added = json!({"predictor": {"name": "v3", "model": {"storageUri": "gs://m3"}}, "trafficPercent": 10});
        let change = CanaryChange { canaries: Some(vec![b.canaries()[0].raw.clone(), added]), promote: None };
        assert_eq!(
            set_goal(&b, Some(&change), 10, None, Some("gs://m3")),
            StandardGoal::Canary { name: "v3".into(), percent: 10 }
        );
        let promote = CanaryChange {
            canaries: None,
            promote: Some(Promotion {
                name: "v2".into(),
                field: crate::isvc::ModelField::Model,
                model_uri: "gs://m2".into(),
            }),
        };
        assert_eq!(
            set_goal(&b, Some(&promote), 100, None, None),
            StandardGoal::Promoted { name: "v2".into(), old_stable: "iris-predictor".into() }
        );
        // Nothing written: the canary asked (or the only one) at the percent asked.
        assert_eq!(set_goal(&b, None, 20, None, None), StandardGoal::Canary { name: "v2".into(), percent: 20 });
        let none = Isvc::from_value(json!({"metadata": {"name": "iris"}, "spec": {"predictor": {}}}));
        assert_eq!(set_goal(&none, None, 100, None, None), StandardGoal::NoCanary);
    }
}
