//! `set [NAME] PERCENT [--model-uri URI]` (alias `canary`).

use anyhow::Result;

use super::Ctx;
use super::mutate::{self, Mutation};
use crate::cli::SetArgs;
use crate::error::{Exit, fail};
use crate::rules::{parse_percent, plan_set, validate_model_uri};
use crate::wait::Goal;

pub async fn run(ctx: &Ctx, args: &SetArgs) -> Result<Exit> {
    let (name, percent_text) = match args.positional.as_slice() {
        [p] => (None, p.as_str()),
        [n, p] => (Some(n.as_str()), p.as_str()),
        _ => return Err(fail(Exit::Usage, "usage: set [NAME] PERCENT")),
    };
    let percent = parse_percent(percent_text)?;
    if let Some(uri) = &args.model_uri {
        validate_model_uri(uri)?;
    }
    let verb = if percent == 100 {
        "promoted"
    } else if percent == 0 {
        "rolled back"
    } else {
        "canary set"
    };
    let m = Mutation {
        pre_read: None,
        name,
        component: Some(args.component),
        write: &args.write,
        expect_revision: args.expect_revision.as_deref(),
        verb,
    };
    let c = args.component;
    mutate::run(
        ctx,
        m,
        |isvc| plan_set(isvc, c, percent, args.model_uri.as_deref(), args.split_with_previous, args.replace, false),
        |_, _| match percent {
            100 => Goal::Promoted,
            0 => Goal::Pinned(None),
            n => Goal::Split(n),
        },
    )
    .await
}
