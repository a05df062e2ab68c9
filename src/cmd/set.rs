//! `set [NAME] PERCENT [--model-uri URI]` (alias `canary`).

use anyhow::Result;

use super::Ctx;
use super::mutate::{self, Mutation};
use crate::cli::SetArgs;
use crate::error::Exit;
use crate::rules::{SetRequest, parse_percent, plan_set, validate_model_uri};
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
    let m = Mutation {
        pre_read: None,
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
