//! `promote [NAME]`: remove canaryTrafficPercent, 100% to the latest revision.

use anyhow::Result;

use super::Ctx;
use super::mutate::{self, Mutation};
use super::standard::{self as std_mode, StdMutation};
use crate::cli::PromoteArgs;
use crate::error::{Exit, fail};
use crate::resolve::resolve;
use crate::rules::plan_promote;
use crate::standard::{StandardGoal, deployment_name};
use crate::wait::Goal;

pub async fn run(ctx: &Ctx, args: &PromoteArgs) -> Result<Exit> {
    let wait = args.write.wait_limits()?;
    let isvc = resolve(&ctx.kube, &ctx.term, args.name.as_deref()).await?;
    if std_mode::is_standard(&isvc) {
        std_mode::refuse_component(args.component)?;
        let m =
            StdMutation { write: &args.write, wait, expect: args.expect_revision.as_deref(), verb: Some("promoted") };
        let (asked, force) = (args.canary_name.as_deref(), args.force);
        // The canary's name makes the stable predictor's; the old stable Deployment goes.
        return std_mode::run(
            ctx,
            isvc,
            m,
            |i| crate::standard::plan_promote(i, asked, force),
            |before, change| match change.and_then(|c| c.promote.as_ref()) {
                Some(p) => StandardGoal::Promoted {
                    name: p.name.clone(),
                    old_stable: deployment_name(&before.name, before.predictor_name()),
                },
                None => StandardGoal::NoCanary,
            },
        )
        .await;
    }
    if args.canary_name.is_some() {
        return Err(fail(
            Exit::Usage,
            "--canary-name is for Standard mode (spec.canary); this InferenceService runs in Knative mode",
        ));
    }
    let m = Mutation {
        pre_read: Some(isvc),
        name: args.name.as_deref(),
        component: Some(args.component),
        write: &args.write,
        wait,
        expect_revision: args.expect_revision.as_deref(),
        verb: "promoted",
    };
    let c = args.component;
    mutate::run(ctx, m, |isvc| plan_promote(isvc, c, args.force), |_, _| Goal::Promoted).await
}
