//! `rollback [NAME]`: pin traffic to the previous model (canaryTrafficPercent: 0).

use anyhow::Result;

use super::Ctx;
use super::mutate::{self, Mutation};
use crate::cli::RollbackArgs;
use crate::error::{Exit, exit_of};
use crate::isvc::SOURCE_URI_ANNOTATION;
use crate::resolve::resolve;
use crate::rules::{Plan, check_component, check_mode, plan_rollback};
use crate::wait::Goal;

pub async fn run(ctx: &Ctx, args: &RollbackArgs) -> Result<Exit> {
    let c = args.component;
    // Usage errors before any request.
    mutate::wait_flags(args.write.wait, args.write.timeout.as_deref(), args.write.fail_window.as_deref(), true)?;
    // Read once to name the target and its model; the write path reads again (its own GET).
    let isvc = resolve(&ctx.kube, &ctx.term, args.name.as_deref()).await?;
    check_mode(&isvc)?;
    check_component(&isvc, c)?;
    let (plan, target) = plan_rollback(&isvc, c)?;
    if matches!(plan, Plan::Write { .. }) {
        let model = match ctx.kube.get_revision(&isvc.namespace, &target).await {
            Ok(rev) => rev
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(SOURCE_URI_ANNOTATION))
                .and_then(|v| v.as_str())
                .map(str::to_string),
            Err(e) if exit_of(&e) == Exit::Forbidden => {
                ctx.term.note("cannot read Knative revisions (forbidden): the target's model is not named");
                None
            }
            Err(_) => None,
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
        expect_revision: None,
        verb: "rolled back",
    };
    let target_for_wait = target.clone();
    mutate::run(
        ctx,
        m,
        |i| plan_rollback(i, c).map(|(p, _)| p),
        move |_, _| Goal::Pinned(Some(target_for_wait.clone())),
    )
    .await
}
