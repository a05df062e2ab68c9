//! `wait [NAME] --for=ready|promoted|rolled-back|traffic=N`: no write, just the done rule.

use anyhow::Result;

use super::Ctx;
use crate::cli::WaitArgs;
use crate::error::{Exit, fail};
use crate::output::print_result;
use crate::resolve::resolve;
use crate::rules::{check_component, check_mode};
use crate::standard::StandardGoal;
use crate::wait::{Goal, WaitRequest, wait_for};

pub async fn run(ctx: &Ctx, args: &WaitArgs) -> Result<Exit> {
    let goal = Goal::parse(&args.for_state).map_err(|e| fail(Exit::Usage, e))?;
    let isvc = resolve(&ctx.kube, &ctx.term, args.name.as_deref()).await?;
    if super::standard::is_standard(&isvc) {
        crate::rules::check_readable(&isvc)?;
        super::standard::refuse_component(args.component)?;
        let goal = standard_goal(&isvc, &args.for_state, args.canary_name.as_deref())?;
        let waiter = crate::wait::Waiter::lazy(&ctx.kube, &isvc);
        let last = super::standard::wait(ctx, waiter, &isvc, &goal, args.limits.limits()).await?;
        print_result(ctx.output(), &last, "condition met")?;
        return Ok(Exit::Ok);
    }
    if args.canary_name.is_some() {
        return Err(fail(
            Exit::Usage,
            "--canary-name is for Standard mode (spec.canary); this InferenceService runs in Knative mode",
        ));
    }
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

/// `--for` in Standard mode: `traffic=N` is the canary (named, or the only one) at N%;
/// `promoted` and `rolled-back` both mean no canary left; `ready` is Ready with the stable
/// Deployment rolled out.
fn standard_goal(isvc: &crate::isvc::Isvc, text: &str, asked: Option<&str>) -> Result<StandardGoal> {
    let traffic = text.strip_prefix("traffic=").map(crate::rules::parse_percent).transpose()?;
    Ok(match (traffic, text) {
        (Some(n), _) => {
            let canaries = isvc.canaries();
            let name = match (asked, canaries.as_slice()) {
                (Some(n), _) => n.to_string(),
                (None, [only]) => only.name.clone(),
                (None, []) => {
                    return Err(fail(Exit::Refused, format!("{} has no canary: traffic=N waits for one", isvc.name)));
                }
                (None, _) => {
                    return Err(fail(
                        Exit::Refused,
                        format!("{} has {} canaries: pass --canary-name to say which", isvc.name, canaries.len()),
                    ));
                }
            };
            StandardGoal::Canary { name, percent: n }
        }
        (None, "promoted" | "rolled-back") => StandardGoal::NoCanary,
        _ => StandardGoal::Ready,
    })
}
