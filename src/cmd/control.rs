//! `pause`, `resume` and `abort` of a rollout another process runs: a request written on the
//! rollout's Lease, which the holder acts on at its next renewal; this command waits until it
//! has. `abort` of a rollout no process runs any more (its lease expired) rolls back itself.

use std::time::{Duration, Instant};

use anyhow::Result;
use jiff::Timestamp;

use super::Ctx;
use super::rollout_mode::Mode;
use crate::cli::{ControlArgs, WriteArgs};
use crate::error::{Exit, fail};
use crate::isvc::Isvc;
use crate::resolve::resolve;
use crate::rollout::lease::{self, Held, holder_identity};
use crate::rollout::state::{Phase, micro_time, push_history};
use crate::rules::check_mode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Pause,
    Resume,
    Abort,
}

impl Verb {
    fn word(self) -> &'static str {
        match self {
            Verb::Pause => "pause",
            Verb::Resume => "resume",
            Verb::Abort => "abort",
        }
    }
}

pub async fn run(ctx: &Ctx, args: &ControlArgs, verb: Verb) -> Result<Exit> {
    let isvc = resolve(&ctx.kube, &ctx.term, args.name.as_deref()).await?;
    // Standard mode (KServe 0.20+ spec.canary) has rollouts too: the same Lease.
    if !super::standard::is_standard(&isvc) {
        check_mode(&isvc)?;
    }
    let (ns, name) = (isvc.namespace.clone(), isvc.name.clone());
    let Some((_, rec)) = lease::read(&ctx.kube, &ns, &name).await? else {
        return Err(fail(Exit::Refused, format!("no rollout of {name} is recorded: nothing to {}", verb.word())));
    };
    let Some(state) = rec.unfinished() else {
        let last = rec.state.as_ref().map_or("", |s| s.phase.word());
        return Err(fail(Exit::Refused, format!("no rollout of {name} is in progress (the last one ended {last})")));
    };
    let now = Timestamp::now();
    if !rec.held(now) {
        if verb == Verb::Abort {
            return abort_stopped(ctx, &isvc, &rec).await;
        }
        return Err(fail(
            Exit::Refused,
            format!(
                "no process runs the rollout of {name} (stopped at {}): continue it with `kubectl isvc-canary -n {ns} rollout {name} --resume`, or roll it back with `kubectl isvc-canary -n {ns} abort {name}`",
                state.where_()
            ),
        ));
    }
    let value = format!("{} {} {}", verb.word(), micro_time(now), holder_identity());
    lease::request(&ctx.kube, &ns, &name, &value).await?;
    ctx.term.note(&format!("{} requested; {} acts on it at its next lease renewal", verb.word(), rec.holder));
    let limit = args.timeout.unwrap_or(if verb == Verb::Abort {
        Duration::from_secs(15 * 60)
    } else {
        Duration::from_secs(60)
    });
    let deadline = Instant::now() + limit;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let Some((_, rec)) = lease::read(&ctx.kube, &ns, &name).await? else {
            return Err(fail(Exit::Failure, format!("the lease of {name}'s rollout was deleted")));
        };
        let Some(s) = rec.state.as_ref() else { continue };
        let seen = s.control_seen.as_deref() == Some(value.as_str());
        match verb {
            Verb::Abort if s.phase == Phase::Aborted => {
                println!("rollout of {ns}/{name} aborted: {}", s.message.as_deref().unwrap_or("rolled back"));
                return Ok(Exit::Ok);
            }
            Verb::Abort if s.phase.is_final() => {
                return Err(fail(
                    Exit::Refused,
                    format!("the rollout of {name} ended {} before the abort", s.phase.word()),
                ));
            }
            Verb::Abort if !rec.held(Timestamp::now()) && !seen => {
                // Its process is gone: the abort is ours to do.
                return abort_stopped(ctx, &isvc, &rec).await;
            }
            Verb::Pause | Verb::Resume if seen => {
                let what = if verb == Verb::Pause { "paused" } else { "resumed" };
                println!("rollout of {ns}/{name} {what} at {}", s.where_());
                return Ok(Exit::Ok);
            }
            _ => {}
        }
        if Instant::now() >= deadline {
            return Err(fail(
                Exit::Timeout,
                format!(
                    "timed out after {}: {} has not acted on the {} yet",
                    crate::duration::format_duration(limit),
                    rec.holder,
                    verb.word()
                ),
            ));
        }
    }
}

/// Abort of a rollout whose process is gone: take its lease, roll back, record it aborted.
async fn abort_stopped(ctx: &Ctx, isvc: &Isvc, rec: &crate::rollout::state::LeaseRecord) -> Result<Exit> {
    let Some(state) = rec.unfinished().cloned() else {
        return Err(fail(Exit::Refused, format!("no rollout of {} is in progress", isvc.name)));
    };
    let mut held =
        Held::take(&ctx.kube, isvc, rec, &holder_identity(), Duration::from_secs(30), state, rec.history.clone())
            .await?;
    let mode = if super::standard::is_standard(isvc) {
        match &held.state.canary {
            Some(canary) => Mode::Standard { canary: canary.clone() },
            None => Mode::standard_for(isvc, &held.state.model, None)?,
        }
    } else {
        Mode::Knative
    };
    let write = WriteArgs::default();
    let stable = held.state.stable.clone();
    let after = match mode.roll_back(ctx, isvc, write.limits.limits(), stable).await {
        Ok(to) => to,
        Err(e) => {
            let _ = held.release().await;
            return Err(e);
        }
    };
    let message = format!("aborted by {}; rolled back: {}", holder_identity(), after.text);
    held.state.phase = Phase::Aborted;
    held.state.message = Some(message.clone());
    held.state.ended_at = Some(micro_time(Timestamp::now()));
    let record = held.state.record();
    push_history(&mut held.history, record);
    held.release().await?;
    super::rollout::publish(&ctx.kube, isvc, crate::rollout::events::reason::ABORTED, &held.state, &message).await;
    println!("rollout of {}/{} aborted: {message}", isvc.namespace, isvc.name);
    Ok(Exit::Ok)
}
