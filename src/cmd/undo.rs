//! `undo [NAME] --to-revision N [--promote]`: the model of an earlier revision comes back as a
//! new revision (Knative revisions are immutable: this rolls forward), as a canary share or, with
//! `--promote`, at once; the write is `set`'s.

use anyhow::Result;

use super::Ctx;
use crate::cli::{Component, SetArgs, UndoArgs};
use crate::error::{Exit, fail};
use crate::isvc::revision_model;
use crate::resolve::resolve;
use crate::rules::{check_mode, expand_revision};

pub async fn run(ctx: &Ctx, args: &UndoArgs) -> Result<Exit> {
    let c = Component::Predictor;
    let isvc = resolve(&ctx.kube, &ctx.term, args.name.as_deref()).await?;
    check_mode(&isvc)?;
    let revision = expand_revision(&isvc, c, &args.to_revision)?;
    let model = revision_model(&ctx.kube.get_revision(&isvc.namespace, &revision).await?)
        .ok_or_else(|| fail(Exit::Refused, format!("revision {revision} names no model: nothing to bring back")))?;
    ctx.term.note(&format!("bringing back the model of {revision}: {model}"));
    let set = SetArgs {
        name: Some(isvc.name.clone()),
        percent: if args.promote { "100".to_string() } else { args.percent.clone() },
        model_uri: Some(model),
        component: c,
        split_with_previous: false,
        replace: false,
        canary_name: None,
        expect_revision: None,
        write: args.write.clone(),
    };
    super::set::run(ctx, &set).await
}
