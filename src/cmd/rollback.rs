//! `rollback [NAME]`: pin traffic to the previous model (canaryTrafficPercent: 0).

use anyhow::Result;

use super::Ctx;
use super::mutate::{self, Mutation};
use crate::cli::RollbackArgs;
use crate::error::{Exit, exit_of};
use crate::isvc::revision_model;
use crate::resolve::resolve;
use crate::rules::{Plan, check_component, check_mode, plan_rollback};
use crate::standard::StandardGoal;
use crate::wait::Goal;

use super::standard::{self as std_mode, StdMutation};

pub async fn run(ctx: &Ctx, args: &RollbackArgs) -> Result<Exit> {
    let c = args.component;
    let wait = args.write.wait_limits()?;
    // Read once to name the target and its model; the write path uses this read.
    let isvc = resolve(&ctx.kube, &ctx.term, args.name.as_deref()).await?;
    if std_mode::is_standard(&isvc) {
        std_mode::refuse_component(c)?;
        let m = StdMutation { write: &args.write, wait, expect: None, verb: Some("rolled back") };
        let asked = args.canary_name.as_deref();
        // The entry removed: the one that was there and is no more.
        return std_mode::run(
            ctx,
            isvc,
            m,
            |i| crate::standard::plan_rollback(i, asked),
            |before, change| {
                let left = change.and_then(|c| c.canaries.clone()).unwrap_or_default();
                match before.canaries().into_iter().find(|c| !left.contains(&c.raw)) {
                    Some(gone) => StandardGoal::RolledBack { name: gone.name },
                    None => StandardGoal::NoCanary,
                }
            },
        )
        .await;
    }
    if args.canary_name.is_some() {
        return Err(crate::error::fail(
            Exit::Usage,
            "--canary-name is for Standard mode (spec.canary); this InferenceService runs in Knative mode",
        ));
    }
    check_mode(&isvc)?;
    check_component(&isvc, c)?;
    let (plan, target) = plan_rollback(&isvc, c)?;
    if matches!(plan, Plan::Write { .. }) {
        // The model only names the target for a person: a revision that cannot be read does
        // not stop the rollback, but the note says why the model is missing.
        let model = match ctx.kube.get_revision(&isvc.namespace, &target).await {
            Ok(rev) => revision_model(&rev),
            Err(e) => {
                let why = if exit_of(&e) == Exit::Forbidden { "forbidden".to_string() } else { format!("{e:#}") };
                ctx.term
                    .note(&format!("cannot read Knative revision {target} ({why}): the target's model is not named"));
                None
            }
        };
        let s = isvc.component_status(c);
        ctx.term.note(&format!(
            "rolling back to {target}{}",
            model.as_ref().map(|m| format!(" (model {m})")).unwrap_or_default()
        ));
        if s.lcr() != s.lrr()
            && !s.lcr().is_empty()
            && let Some(m) = &model
        {
            ctx.term.note(&format!(
                "to clear the failed revision: kubectl isvc-canary -n {} set {} 100 --model-uri {m}",
                isvc.namespace, isvc.name
            ));
        }
    }
    let m = Mutation {
        name: None,
        pre_read: Some(isvc),
        component: Some(c),
        write: &args.write,
        wait,
        expect_revision: None,
        verb: "rolled back",
    };
    mutate::run(ctx, m, |i| plan_rollback(i, c).map(|(p, _)| p), move |_, _| Goal::Pinned(Some(target.clone()))).await
}
