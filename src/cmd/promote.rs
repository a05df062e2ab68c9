//! `promote [NAME]`: remove canaryTrafficPercent, 100% to the latest revision.

use anyhow::Result;

use super::Ctx;
use super::mutate::{self, Mutation};
use crate::cli::PromoteArgs;
use crate::error::Exit;
use crate::rules::plan_promote;
use crate::wait::Goal;

pub async fn run(ctx: &Ctx, args: &PromoteArgs) -> Result<Exit> {
    let m = Mutation {
        pre_read: None,
        name: args.name.as_deref(),
        component: Some(args.component),
        write: &args.write,
        wait: args.write.wait_limits()?,
        expect_revision: args.expect_revision.as_deref(),
        verb: "promoted",
    };
    let c = args.component;
    mutate::run(ctx, m, |isvc| plan_promote(isvc, c, args.force), |_, _| Goal::Promoted).await
}
