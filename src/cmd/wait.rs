//! `wait [NAME] --for=ready|promoted|rolled-back|traffic=N`: no write, just the done rule.

use anyhow::Result;

use super::Ctx;
use crate::cli::WaitArgs;
use crate::error::{Exit, fail};
use crate::output::print_result;
use crate::resolve::resolve;
use crate::rules::{check_component, check_mode};
use crate::wait::{Goal, WaitRequest, wait_for};

pub async fn run(ctx: &Ctx, args: &WaitArgs) -> Result<Exit> {
    let goal = Goal::parse(&args.for_state).map_err(|e| fail(Exit::Usage, e))?;
    let isvc = resolve(&ctx.kube, &ctx.term, args.name.as_deref()).await?;
    check_mode(&isvc)?;
    check_component(&isvc, args.component)?;
    let request = WaitRequest {
        component: args.component,
        goal,
        new_revision_after: None,
        limits: args.limits.limits(),
        guarded_spec: None,
    };
    let last = wait_for(&ctx.kube, &ctx.term, &isvc, &request).await?;
    print_result(ctx.output(), &last, "condition met")?;
    Ok(Exit::Ok)
}
