//! Standard (RawDeployment) mode, KServe 0.20+: the write path of `set`, `promote` and
//! `rollback` on `spec.canary` (contract, "Standard mode"), and its wait. The same steps as the
//! Knative write path (`mutate`): guard, preview and confirm, a merge patch with the read's
//! resourceVersion as precondition, conflicts retried on a fresh read, then the wait.

use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::Value;

use super::Ctx;
use crate::cli::{DryRun, WaitLimits, WriteArgs};
use crate::client::PatchKind;
use crate::error::{Exit, Fail, exit_of, explain_invalid, fail, http_status_of, is_unanswered};
use crate::isvc::{Component, Isvc, Mode};
use crate::output::{print_result, sanitize, to_json};
use crate::rules::check_readable;
use crate::standard::{
    CanaryChange, DeploymentState, StandardGoal, StandardPlan, canary_failure, deployment_name, variant_pod_selector,
};
use crate::wait::Waiter;

/// Conflicts retried before the command gives up (exit 7), as in Knative mode.
const MAX_RETRIES: usize = 3;

/// How often a wait reads the Deployments and pods when no event comes.
const POLL: Duration = Duration::from_secs(2);

pub fn is_standard(isvc: &Isvc) -> bool {
    isvc.mode() == Mode::Standard
}

/// The label selector of an InferenceService's predictor Deployments (KServe's object labels).
pub fn deployment_selector(isvc: &str) -> String {
    format!("serving.kserve.io/inferenceservice={isvc},component=predictor")
}

/// Options Standard mode does not have: refused before any write.
pub fn refuse_component(c: Component) -> Result<()> {
    if c != Component::Predictor {
        return Err(fail(
            Exit::Refused,
            format!("--component {}: Standard-mode canaries (spec.canary) are predictor variants only", c.key()),
        ));
    }
    Ok(())
}

/// A Standard-mode mutation, as a command describes it.
pub struct StdMutation<'a> {
    pub write: &'a WriteArgs,
    pub wait: Option<WaitLimits>,
    /// `--expect-revision NAME`: in Standard mode, the newest variant (the last canary, or the
    /// stable predictor when there is none) must be NAME (or its Deployment's name) and ready.
    pub expect: Option<&'a str>,
    /// The result line's verb; `None`: from the change (`promoted`, else `canary set`).
    pub verb: Option<&'static str>,
}

/// The fields a Standard-mode write owns: `spec.canary`, `spec.predictor.name` and the stable
/// model's storage URI.
fn owned(isvc: &Isvc) -> (Value, Option<String>, Option<String>) {
    (
        isvc.raw.pointer("/spec/canary").cloned().unwrap_or(Value::Null),
        isvc.predictor_name().map(str::to_string),
        isvc.model_uri(Component::Predictor),
    )
}

/// The owned fields once `change` is applied to `isvc`.
fn owned_after(isvc: &Isvc, change: &CanaryChange) -> (Value, Option<String>, Option<String>) {
    let mut raw = isvc.raw.clone();
    crate::patch::apply_merge(&mut raw, &display_patch(change));
    owned(&Isvc::from_value(raw))
}

/// The patch as a person would apply it: without the precondition.
pub fn display_patch(change: &CanaryChange) -> Value {
    let mut patch = change.merge_patch("");
    if let Some(meta) = patch.as_object_mut() {
        meta.remove("metadata");
    }
    patch
}

/// `--expect-revision` in Standard mode (see [`StdMutation::expect`]).
pub fn check_expected(isvc: &Isvc, expected: &str) -> Result<(), Fail> {
    let canaries = isvc.canaries();
    let (name, ready) = match canaries.last() {
        Some(c) => {
            let ready = isvc.canary_statuses().iter().any(|s| s.name == c.name && s.ready);
            (Some(c.name.clone()), ready)
        }
        None => (
            isvc.predictor_name().map(str::to_string),
            isvc.condition("PredictorReady").is_some_and(|c| c.status == "True"),
        ),
    };
    let deployment = deployment_name(&isvc.name, name.as_deref());
    let matches = name.as_deref() == Some(expected) || deployment == expected;
    if matches && ready {
        return Ok(());
    }
    Err(Fail::new(
        Exit::Refused,
        format!(
            "--expect-revision {expected} does not match: the newest variant of {} is {} ({}); nothing was changed",
            isvc.name,
            name.as_deref().unwrap_or(&deployment),
            if ready { "ready" } else { "not ready" }
        ),
    ))
}

/// One line per variant, for the preview: `stable v1 gs://…; canary v2 20% gs://…`.
fn describe(isvc: &Isvc) -> String {
    let stable = format!(
        "stable {} {}",
        isvc.predictor_name().unwrap_or("(unnamed)"),
        isvc.model_uri(Component::Predictor).as_deref().unwrap_or("-")
    );
    let canaries = isvc.canaries();
    if canaries.is_empty() {
        return format!("{stable}; no canary");
    }
    let list: Vec<String> = canaries
        .iter()
        .map(|c| format!("canary {} {}% {}", c.name, c.percent, c.model_uri.as_deref().unwrap_or("-")))
        .collect();
    format!("{stable}; {}", list.join("; "))
}

fn preview_object(isvc: &Isvc, change: &CanaryChange) -> Isvc {
    let mut raw = isvc.raw.clone();
    crate::patch::apply_merge(&mut raw, &display_patch(change));
    Isvc::from_value(raw)
}

/// The fields a Standard-mode write sends, as KServe's messages name them.
const TOUCHED: &[&str] = &["canary", "trafficPercent", "predictor.name"];

/// The guard on what can be read, the plan, and its notes said: the start of every mutation.
fn decide(ctx: &Ctx, isvc: &Isvc, plan: impl Fn(&Isvc) -> Result<StandardPlan, Fail>) -> Result<StandardPlan> {
    check_readable(isvc)?;
    let decided = plan(isvc)?;
    let (StandardPlan::Unchanged { notes } | StandardPlan::Write { notes, .. }) = &decided;
    for note in notes {
        ctx.term.note(note);
    }
    Ok(decided)
}

/// Runs a Standard-mode mutation on `isvc` (already read). `goal` says what "done" is, from the
/// object the change was decided on and the change (`None`: nothing to write).
pub async fn run(
    ctx: &Ctx,
    isvc: Isvc,
    m: StdMutation<'_>,
    plan: impl Fn(&Isvc) -> Result<StandardPlan, Fail>,
    goal: impl Fn(&Isvc, Option<&CanaryChange>) -> StandardGoal,
) -> Result<Exit> {
    let decided = decide(ctx, &isvc, &plan)?;
    if let Some(expected) = m.expect {
        check_expected(&isvc, expected)?;
    }
    let dry_run = m.write.dry_run;
    let StandardPlan::Write { change, .. } = decided else {
        let last = match m.wait {
            Some(limits) if dry_run.is_none() && !m.write.print_patch => {
                let g = goal(&isvc, None);
                wait(ctx, Waiter::lazy(&ctx.kube, &isvc), &isvc, &g, limits).await?
            }
            _ => isvc,
        };
        return report(ctx, &last, "unchanged", dry_run.is_some());
    };
    if m.write.print_patch {
        print!("{}", to_json(&display_patch(&change))?);
        return Ok(Exit::Ok);
    }
    // Preview and confirm.
    for owner in isvc.gitops_owners() {
        ctx.term.warn(&format!("{} looks managed by GitOps ({owner}): a sync will revert this change", isvc.name));
    }
    eprintln!("{}", sanitize(&format!("{}/{} @ {}", isvc.namespace, isvc.name, ctx.kube.context)));
    let predicted = preview_object(&isvc, &change);
    if dry_run.is_some() || ctx.term.interactive && !ctx.term.yes {
        eprintln!("{}", sanitize(&format!("before: {}", describe(&isvc))));
        eprintln!("{}", sanitize(&format!("after:  {}", describe(&predicted))));
        eprintln!("patch: {}", serde_json::to_string(&display_patch(&change))?);
    } else {
        eprintln!("{}", sanitize(&format!("{} -> {}", describe(&isvc), describe(&predicted))));
    }
    let verb = m.verb.unwrap_or_else(|| verb_of(&change));
    match dry_run {
        Some(DryRun::Client) => return report(ctx, &predicted, verb, true),
        Some(DryRun::Server) => {}
        None => ctx.term.confirm(&format!("Apply to {}/{}?", isvc.namespace, isvc.name))?,
    }
    // With --wait the watch opens before the write, and the Deployments the wait reads are
    // listed once: a missing permission stops us (exit 5) before anything changes.
    let waiter = match m.wait {
        Some(_) if dry_run.is_none() => {
            let waiter = Waiter::open(&ctx.kube, &isvc).await?;
            ctx.kube.list_deployments(&isvc.namespace, &deployment_selector(&isvc.name)).await?;
            Some(waiter)
        }
        _ => None,
    };
    let before = isvc.clone();
    let Some((change, after, decided_on)) = write(ctx, isvc, change, &plan, dry_run == Some(DryRun::Server)).await?
    else {
        return report(ctx, &before, "unchanged", dry_run.is_some());
    };
    let verb = m.verb.unwrap_or_else(|| verb_of(&change));
    match (waiter, m.wait) {
        (Some(waiter), Some(limits)) => {
            let g = goal(&decided_on, Some(&change));
            match wait(ctx, waiter.after_write(&after), &after, &g, limits).await {
                Ok(last) => report(ctx, &last, verb, false),
                Err(e) => {
                    if matches!(exit_of(&e), Exit::Timeout | Exit::Interrupted | Exit::RolloutFailed) {
                        ctx.term.note(&format!(
                            "the change is applied (nothing was reverted); to undo it: {}",
                            undo_hint(&decided_on, &change)
                        ));
                    }
                    Err(e)
                }
            }
        }
        _ => report(ctx, &after, verb, dry_run.is_some()),
    }
}

/// The write path of [`run`] for a command that drives several mutations (`rollout`): the same
/// decisions, guard rails, precondition, retries and wait, on a fresh read of NAME, with no dry
/// run, no patch printing, no prompt and no result line. The caller says how to go on when the
/// wait fails (no undo note).
pub async fn apply(
    ctx: &Ctx,
    namespace: &str,
    name: &str,
    limits: WaitLimits,
    plan: impl Fn(&Isvc) -> Result<StandardPlan, Fail>,
    goal: impl Fn(&Isvc, Option<&CanaryChange>) -> StandardGoal,
) -> Result<super::mutate::Applied> {
    let isvc = ctx.kube.get_isvc(namespace, name).await?;
    let decided = decide(ctx, &isvc, &plan)?;
    let StandardPlan::Write { change, .. } = decided else {
        let g = goal(&isvc, None);
        let last = wait(ctx, Waiter::lazy(&ctx.kube, &isvc), &isvc, &g, limits).await?;
        return Ok(super::mutate::Applied { isvc: last, written: false });
    };
    let predicted = preview_object(&isvc, &change);
    eprintln!("{}", sanitize(&format!("{}/{} @ {}", isvc.namespace, isvc.name, ctx.kube.context)));
    eprintln!("{}", sanitize(&format!("{} -> {}", describe(&isvc), describe(&predicted))));
    let waiter = Waiter::open(&ctx.kube, &isvc).await?;
    ctx.kube.list_deployments(&isvc.namespace, &deployment_selector(&isvc.name)).await?;
    let before = isvc.clone();
    let Some((change, after, decided_on)) = write(ctx, isvc, change, &plan, false).await? else {
        let g = goal(&before, None);
        let last = wait(ctx, Waiter::lazy(&ctx.kube, &before), &before, &g, limits).await?;
        return Ok(super::mutate::Applied { isvc: last, written: false });
    };
    let g = goal(&decided_on, Some(&change));
    let last = wait(ctx, waiter.after_write(&after), &after, &g, limits).await?;
    Ok(super::mutate::Applied { isvc: last, written: true })
}

fn verb_of(change: &CanaryChange) -> &'static str {
    match (&change.promote, &change.canaries) {
        (Some(_), _) => "promoted",
        _ => "canary set",
    }
}

/// The command a person would run to undo a change whose wait failed.
fn undo_hint(before: &Isvc, change: &CanaryChange) -> String {
    let k = format!("kubectl isvc-canary -n {} ", before.namespace);
    let old = before.canaries();
    let new: Vec<Value> = change.canaries.clone().unwrap_or_default();
    if change.promote.is_some() {
        return format!("edit spec.predictor back by hand ({})", describe(before));
    }
    // An entry added or changed: roll it back, or set its old percent.
    for entry in &new {
        let name = entry.pointer("/predictor/name").and_then(Value::as_str).unwrap_or_default();
        match old.iter().find(|c| c.name == name) {
            None => return format!("{k}rollback {} --canary-name {name}", before.name),
            Some(c) if &c.raw != entry => return format!("{k}set {} {} --canary-name {name}", before.name, c.percent),
            _ => {}
        }
    }
    match old.iter().find(|c| !new.iter().any(|e| e == &c.raw)) {
        Some(c) => format!(
            "{k}set {} {} --model-uri {} --canary-name {}",
            before.name,
            c.percent,
            c.model_uri.as_deref().unwrap_or("URI"),
            c.name
        ),
        None => format!("{k}status {}", before.name),
    }
}

/// The write, with the read's resourceVersion as precondition; a conflict or a write that got no
/// answer re-reads and decides again (as in Knative mode). Returns the change as sent, the
/// server's answer and the object it was decided on; `None` when a re-read leaves nothing to do.
async fn write(
    ctx: &Ctx,
    mut isvc: Isvc,
    mut change: CanaryChange,
    plan: &impl Fn(&Isvc) -> Result<StandardPlan, Fail>,
    server_dry_run: bool,
) -> Result<Option<(CanaryChange, Isvc, Isvc)>> {
    let (mut retries, mut resent) = (0, false);
    loop {
        let body = change.merge_patch(&isvc.resource_version);
        let err = match ctx.kube.patch_isvc(&isvc.namespace, &isvc.name, PatchKind::Merge, &body, server_dry_run).await
        {
            Ok(after) => {
                check_not_pruned(&isvc, &change, &after)?;
                return Ok(Some((change, after, isvc)));
            }
            Err(e) if is_unanswered(&e) => {
                ctx.term.warn(&format!("{e:#}: reading {} again to see", isvc.name));
                e
            }
            Err(e) if http_status_of(&e) == Some(409) => e,
            Err(e) => return Err(explain_invalid(e, TOUCHED)),
        };
        let unanswered = is_unanswered(&err);
        let fresh = match ctx.kube.get_isvc(&isvc.namespace, &isvc.name).await {
            Ok(fresh) => fresh,
            Err(again) if unanswered => {
                return Err(fail(
                    Exit::Failure,
                    format!(
                        "the write got no answer and {} cannot be read ({again:#}): the change may have been applied; check with `kubectl isvc-canary -n {} status {}`",
                        isvc.name, isvc.namespace, isvc.name
                    ),
                ));
            }
            Err(again) => return Err(again),
        };
        let expected = owned_after(&isvc, &change);
        if owned(&fresh) == expected && owned(&fresh) != owned(&isvc) {
            ctx.term.note(&format!("the change is in place on {}", isvc.name));
            return Ok(Some((change, fresh, isvc)));
        }
        if owned(&fresh) != owned(&isvc) {
            return Err(fail(
                Exit::Refused,
                format!(
                    "{} changed while this command ran ({}): nothing was written; look at it and run the command again",
                    isvc.name,
                    fresh.last_writer()
                ),
            ));
        }
        if unanswered {
            if resent {
                return Err(fail(
                    Exit::Failure,
                    format!(
                        "the write got no answer twice and was not applied: {}; run the command again",
                        describe(&fresh)
                    ),
                ));
            }
            ctx.term.note(&format!("the write was not applied ({}): sending it once more", describe(&fresh)));
            resent = true;
        } else if retries == MAX_RETRIES {
            return Err(fail(Exit::Refused, format!("{err:#}: the object kept changing after {MAX_RETRIES} retries")));
        } else {
            retries += 1;
        }
        isvc = fresh;
        match plan(&isvc)? {
            StandardPlan::Write { change: again, .. } => change = again,
            StandardPlan::Unchanged { .. } => return Ok(None),
        }
    }
}

/// A KServe release before 0.20 has no `spec.canary` in its CRD: the API server prunes the
/// field and answers 200 with the object unchanged. The answer is the stored object (or, under
/// `--dry-run=server`, what would be stored): a list sent and none there ⇒ exit 7.
fn check_not_pruned(before: &Isvc, change: &CanaryChange, after: &Isvc) -> Result<()> {
    let sent = change.canaries.as_ref().is_some_and(|l| !l.is_empty());
    let kept = after.raw.pointer("/spec/canary").and_then(Value::as_array).is_some_and(|l| !l.is_empty());
    if sent && !kept {
        return Err(fail(
            Exit::Refused,
            format!(
                "this KServe release has no spec.canary (needs v0.20+): Standard-mode canaries are spec.canary entries, \
                 and the API server dropped the field, so {} is unchanged ({}); nothing else changed",
                before.name,
                describe(after)
            ),
        ));
    }
    Ok(())
}

fn report(ctx: &Ctx, isvc: &Isvc, verb: &str, dry_run: bool) -> Result<Exit> {
    let suffix = if dry_run { " (dry run)" } else { "" };
    print_result(ctx.output(), isvc, &format!("{verb}{suffix}"))?;
    Ok(Exit::Ok)
}

/// What a wait reads besides the object: the predictor Deployments and the watched variant's pods.
/// Without the permission to list pods (`can_list_pods` false after the first 403) the pod
/// failure signals are skipped, silently, as Knative mode skips its ready-pod check; the
/// Deployments are needed (exit 5).
async fn read_children(
    ctx: &Ctx,
    isvc: &Isvc,
    goal: &StandardGoal,
    can_list_pods: &mut bool,
) -> Result<(Vec<DeploymentState>, Vec<Value>)> {
    let kube = &ctx.kube;
    let deployments = kube.list_deployments(&isvc.namespace, &deployment_selector(&isvc.name)).await?;
    let states: Vec<DeploymentState> = deployments.iter().map(DeploymentState::from_value).collect();
    if !*can_list_pods {
        return Ok((states, Vec::new()));
    }
    let variant = goal.watched_variant(isvc);
    let pods = match kube.list_pods(&isvc.namespace, &variant_pod_selector(&isvc.name, variant.as_deref())).await {
        Ok(pods) => pods,
        Err(e) if exit_of(&e) == Exit::Forbidden => {
            *can_list_pods = false;
            return Ok((states, Vec::new()));
        }
        Err(e) => return Err(e),
    };
    let pods = pods.get("items").and_then(Value::as_array).cloned().unwrap_or_default();
    Ok((states, pods))
}

/// Where KServe routes to canaries (after 0.20.0: the canary's Service among the HTTPRoute
/// `{isvc}`'s backends), `set N` is done only once the route carries N % to it. A route without
/// the canary's Service (0.20.0, which routes nothing to canaries; the API server defaults every
/// backend's weight to 1, so a weight alone says nothing) is not judged; `Err(())` when the route
/// cannot be read (forbidden, not found, no Gateway API): the rule is then skipped for the rest
/// of the wait.
async fn route_carries(ctx: &Ctx, isvc: &Isvc, name: &str, percent: i64) -> Result<Result<(), String>, ()> {
    let route = ctx.kube.get_httproute(&isvc.namespace, &isvc.name).await.map_err(|_| ())?;
    let service = deployment_name(&isvc.name, Some(name));
    let backends = crate::standard::route_backends(&route);
    if !backends.iter().any(|(n, _)| n == &service) {
        return Ok(Ok(()));
    }
    let routed = crate::standard::routed_percent(&backends, &service);
    if routed == percent {
        Ok(Ok(()))
    } else {
        Ok(Err(format!("waiting for the route {} to carry {percent}% to {service} (now {routed}%)", isvc.name)))
    }
}

/// Waits until `goal` holds: the InferenceService watched, its Deployments and the watched
/// variant's pods read on each event and every [`POLL`]. A failure signal held for
/// `--fail-window` ⇒ exit 4; `--timeout` ⇒ exit 3; Ctrl-C ⇒ 130.
pub async fn wait(
    ctx: &Ctx,
    mut waiter: Waiter,
    first: &Isvc,
    goal: &StandardGoal,
    limits: WaitLimits,
) -> Result<Isvc> {
    let mut interrupted = crate::terminal::ctrl_c();
    let spinner = ctx.term.spinner();
    let deadline = Instant::now() + limits.timeout;
    waiter.retry_until(deadline);
    let mut last = first.clone();
    let mut failing_since: Option<Instant> = None;
    let mut can_list_pods = true;
    let mut can_read_route = true;
    loop {
        let (deployments, pods) = read_children(ctx, &last, goal, &mut can_list_pods).await?;
        let mut verdict = crate::standard::judge(&last, goal, &deployments);
        if verdict.is_ok()
            && let StandardGoal::Canary { name, percent } = goal
            && can_read_route
        {
            verdict = match route_carries(ctx, &last, name, *percent).await {
                Ok(v) => v,
                Err(()) => {
                    can_read_route = false;
                    Ok(())
                }
            };
        }
        let phase = match verdict {
            Ok(()) => {
                spinner.finish_and_clear();
                return Ok(last);
            }
            Err(phase) => phase,
        };
        let variant = goal.watched_variant(&last);
        let dep_name = deployment_name(&last.name, variant.as_deref());
        match canary_failure(deployments.iter().find(|d| d.name == dep_name), &pods) {
            Some(reason) => {
                let since = *failing_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= limits.fail_window {
                    spinner.finish_and_clear();
                    return Err(fail(Exit::RolloutFailed, format!("rollout failed: {reason}")));
                }
            }
            None => failing_since = None,
        }
        spinner.set_message(format!("{}: {phase}", last.name));
        let now = Instant::now();
        if now >= deadline {
            spinner.finish_and_clear();
            return Err(fail(
                Exit::Timeout,
                format!(
                    "timed out after {} {phase} (last seen: {})",
                    crate::duration::format_duration(limits.timeout),
                    describe(&last)
                ),
            ));
        }
        // A failure being timed re-judges each second; otherwise on the next event or poll.
        let pause = if failing_since.is_some() { Duration::from_secs(1) } else { POLL };
        let tick = (deadline - now).min(pause);
        tokio::select! {
            next = waiter.next_isvc() => { if let Some(obj) = next? { last = obj; } }
            () = tokio::time::sleep(tick) => {}
            _ = &mut interrupted => {
                spinner.finish_and_clear();
                return Err(fail(Exit::Interrupted, format!("interrupted while {phase}")));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn isvc() -> Isvc {
        Isvc::from_value(json!({
            "metadata": {"name": "iris", "namespace": "t", "resourceVersion": "7"},
            "spec": {"predictor": {"model": {"storageUri": "gs://m1"}},
                     "canary": [{"predictor": {"name": "v2", "model": {"storageUri": "gs://m2"}}, "trafficPercent": 20}]},
            "status": {"deploymentMode": "Standard", "canaryStatuses": [{"name": "v2", "ready": true, "trafficPercent": 20}]}
        }))
    }

    #[test]
    fn expect_revision_names_the_newest_ready_variant() {
        assert!(check_expected(&isvc(), "v2").is_ok());
        assert!(check_expected(&isvc(), "iris-v2-predictor").is_ok());
        assert!(check_expected(&isvc(), "v3").unwrap_err().message.contains("newest variant of iris is v2"));
    }

    #[test]
    fn a_pruned_canary_list_is_refused() {
        let before = isvc();
        let change = CanaryChange { canaries: Some(vec![json!({"predictor": {"name": "v3"}})]), promote: None };
        let mut pruned = before.raw.clone();
        pruned["spec"].as_object_mut().unwrap().remove("canary");
        let err = check_not_pruned(&before, &change, &Isvc::from_value(pruned)).unwrap_err();
        assert!(format!("{err:#}").contains("needs v0.20+"));
        assert!(check_not_pruned(&before, &change, &before).is_ok());
    }

    #[test]
    fn undo_names_the_command() {
        let before = isvc();
        let raw = before.canaries()[0].raw.clone();
        let mut changed = raw.clone();
        changed["trafficPercent"] = json!(50);
        let set = CanaryChange { canaries: Some(vec![changed]), promote: None };
        assert_eq!(undo_hint(&before, &set), "kubectl isvc-canary -n t set iris 20 --canary-name v2");
        let gone = CanaryChange { canaries: None, promote: None };
        assert_eq!(
            undo_hint(&before, &gone),
            "kubectl isvc-canary -n t set iris 20 --model-uri gs://m2 --canary-name v2"
        );
    }
}
