//! `wait [NAME] --for=ready|promoted|rolled-back|traffic=N`: no write, just the done rule.

use anyhow::Result;

use super::Ctx;
use super::mutate::wait_flags;
use crate::cli::{OutputFormat, WaitArgs};
use crate::error::{Exit, fail};
use crate::output::{to_json, to_yaml};
use crate::resolve::resolve;
use crate::rules::{check_component, check_mode};
use crate::wait::{Goal, WaitRequest, wait_for};

pub async fn run(ctx: &Ctx, args: &WaitArgs) -> Result<Exit> {
    let goal = Goal::parse(&args.for_state).map_err(|e| fail(Exit::Usage, e))?;
    let flags = wait_flags(true, args.timeout.as_deref(), args.fail_window.as_deref(), false)?;
    let isvc = resolve(&ctx.kube, &ctx.term, args.name.as_deref()).await?;
    check_mode(&isvc)?;
    check_component(&isvc, args.component)?;
    let request = WaitRequest {
        component: args.component,
        goal,
        new_revision_after: None,
        timeout: flags.timeout,
        fail_window: flags.fail_window,
        guarded_spec: None,
    };
    let last = wait_for(&ctx.kube, &ctx.term, &isvc, &request).await?;
    match ctx.output() {
        Some(OutputFormat::Json) => print!("{}", to_json(&last.raw)?),
        Some(OutputFormat::Yaml) => print!("{}", to_yaml(&last.raw)?),
        Some(OutputFormat::Name) => println!("inferenceservice.serving.kserve.io/{}", last.name),
        _ => println!("inferenceservice.serving.kserve.io/{} condition met", last.name),
    }
    Ok(Exit::Ok)
}
