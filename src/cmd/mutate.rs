//! The one write path every mutation shares (contract, "Writes"), in four steps that read top to
//! bottom: prepare and guard; preview and confirm; write with a precondition, retrying
//! conflicts; wait after the write when asked.

use anyhow::Result;

use super::Ctx;
use crate::cli::{DryRun, WaitLimits, WriteArgs};
use crate::client::PatchKind;
use crate::error::{Exit, Fail, exit_of, fail, http_status_of, is_unanswered};
use crate::isvc::{Component, Isvc, OwnedFields};
use crate::output::{dash, print_result, sanitize, to_json};
use crate::patch::{Change, display_patch, expect_revision_patch, merge_patch};
use crate::resolve::resolve;
use crate::rules::{Plan, check_component, check_mode, expand_revision};
use crate::traffic;
use crate::wait::{Goal, WaitRequest, Waiter};

/// Conflicts retried before the command gives up (exit 7).
const MAX_RETRIES: usize = 3;

/// The fields a Knative-mode write sends, as a validation message would name them: a refusal
/// naming none of them is about the stored object itself (KServe 0.20 validates it whole).
const KNATIVE_TOUCHED: &[&str] = &["canaryTrafficPercent", "storageUri", "enable-tag-routing"];

/// A mutation, as a command describes it.
pub struct Mutation<'a> {
    pub name: Option<&'a str>,
    /// The object, when the command already read it (rollback, tag-routing): no second GET.
    pub pre_read: Option<Isvc>,
    /// The component it changes (`None` for tag routing, which changes every component).
    pub component: Option<Component>,
    pub write: &'a WriteArgs,
    /// `--wait` and its limits, validated by the command before any request.
    pub wait: Option<WaitLimits>,
    pub expect_revision: Option<&'a str>,
    /// The verb of the result line (`canary set`, `promoted`, ...).
    pub verb: &'static str,
}

/// The object a mutation acts on, as last read, with what it is checked against.
struct Target {
    isvc: Isvc,
    /// The component judged and waited on (the predictor for tag routing).
    component: Component,
    /// `--expect-revision`, expanded to a full revision name.
    expected: Option<String>,
}

/// Runs a mutation. `plan` decides from what was read; `goal` says what "done" is for the wait.
pub async fn run(
    ctx: &Ctx,
    m: Mutation<'_>,
    plan: impl Fn(&Isvc) -> Result<Plan, Fail>,
    goal: impl Fn(&Isvc, &Change) -> Goal,
) -> Result<Exit> {
    let mut target = prepare(ctx, &m).await?;
    let Some(change) = decide(ctx, &target, &plan, true)? else {
        return finish_unchanged(ctx, &m, &target, &goal).await;
    };
    if m.write.print_patch {
        // As a person would apply it: the merge patch without the precondition; the JSON Patch
        // whole (its `test`s are the point of --expect-revision).
        let patch = match &target.expected {
            Some(_) => patch_of(&target, &change).1,
            None => display_patch(&change),
        };
        print!("{}", to_json(&patch)?);
        return Ok(Exit::Ok);
    }
    if !preview_and_confirm(ctx, &m, &target, &change)? {
        return Ok(Exit::Ok);
    }
    let dry_run = m.write.dry_run.is_some();
    // With --wait the watch opens before the write, from the read's resourceVersion: no event
    // is missed, and a missing `watch` permission stops us before anything changes.
    let waiter = match m.wait {
        Some(_) if !dry_run => Some(Waiter::open(&ctx.kube, &target.isvc).await?),
        _ => None,
    };
    let Some((change, after)) = write(ctx, &m, &mut target, change, &plan).await? else {
        return finish_unchanged(ctx, &m, &target, &goal).await;
    };
    match (waiter, m.wait) {
        (Some(waiter), Some(limits)) => {
            let last = wait_after(ctx, &target, waiter, limits, &change, &after, &goal, true).await?;
            report(ctx, &last, m.verb, false)
        }
        _ => report(ctx, &after, m.verb, dry_run),
    }
}

/// Step 1: read (unless the command did), check the mode and the component, expand
/// `--expect-revision`.
async fn prepare(ctx: &Ctx, m: &Mutation<'_>) -> Result<Target> {
    let isvc = match &m.pre_read {
        Some(isvc) => isvc.clone(),
        None => resolve(&ctx.kube, &ctx.term, m.name).await?,
    };
    check_mode(&isvc)?;
    if let Some(c) = m.component {
        check_component(&isvc, c)?;
    }
    let component = m.component.unwrap_or_default();
    let expected = match m.expect_revision {
        Some(rev) => Some(expand_revision(&isvc, component, rev)?),
        None => None,
    };
    Ok(Target { isvc, component, expected })
}

/// The plan on the object as last read: the change to write, or `None` when it is already as
/// asked. Notes are shown on the first decision only; the command is refused when the revisions
/// do not match `--expect-revision`, whether or not there is anything to write.
fn decide(
    ctx: &Ctx,
    target: &Target,
    plan: &impl Fn(&Isvc) -> Result<Plan, Fail>,
    first: bool,
) -> Result<Option<Change>> {
    let plan = plan(&target.isvc)?;
    if first {
        for note in plan.notes() {
            ctx.term.note(note);
        }
    }
    // The expectation holds whatever the change turns out to be: a no-op on a revision the
    // pipeline never tested is a mismatch, not "unchanged".
    if let Some(rev) = &target.expected {
        check_expected(&target.isvc, target.component, rev)?;
    }
    match plan {
        Plan::Unchanged { .. } => Ok(None),
        Plan::Write { change, .. } => Ok(Some(change)),
    }
}

/// Step 2: who and where, GitOps warnings, the before/after split and the patch (dry runs and
/// a person at a terminal), then the confirmation. False when a client dry run has already
/// printed its result: nothing is to be sent.
fn preview_and_confirm(ctx: &Ctx, m: &Mutation<'_>, target: &Target, change: &Change) -> Result<bool> {
    let (isvc, term, dry_run) = (&target.isvc, &ctx.term, m.write.dry_run);
    for owner in isvc.gitops_owners() {
        term.warn(&format!("{} looks managed by GitOps ({owner}): a sync will revert this change", isvc.name));
    }
    eprintln!("{}", sanitize(&format!("{}/{} @ {}", isvc.namespace, isvc.name, ctx.kube.context)));
    let before = traffic::current(isvc, target.component);
    let after = traffic::predicted(isvc, target.component, change);
    if dry_run.is_some() || term.interactive && !term.yes {
        eprint!("{}", traffic::preview(&before, &after));
        eprintln!("patch: {}", serde_json::to_string(&display_patch(change))?);
    } else {
        // No one reads a table here (CI, --yes): one line, so the log shows what changed.
        eprintln!("{}", traffic::preview_line(&before, &after));
    }
    match dry_run {
        Some(DryRun::Client) => {
            report(ctx, &preview_object(isvc, change), m.verb, true)?;
            Ok(false)
        }
        Some(DryRun::Server) => Ok(true),
        None => {
            term.confirm(&format!("Apply to {}/{}?", isvc.namespace, isvc.name))?;
            Ok(true)
        }
    }
}

/// Step 3: the patch, with the read's resourceVersion as precondition. A failed precondition
/// (409 for a merge patch; 422 for `--expect-revision`'s JSON Patch, whose resourceVersion and
/// revision `test`s fail alike) and a write that got no answer both re-read and decide from the
/// object: the change in place ⇒ done; the revisions no longer as expected ⇒ exit 7; the owned
/// fields changed ⇒ exit 7 naming the writer; otherwise the decision is made again on the fresh
/// object and sent with its resourceVersion (so at most one of the attempts can apply).
/// Returns the change as sent and the object the server answered with, or `None` when a
/// re-read leaves nothing to do (the target then holds that read).
async fn write(
    ctx: &Ctx,
    m: &Mutation<'_>,
    target: &mut Target,
    mut change: Change,
    plan: &impl Fn(&Isvc) -> Result<Plan, Fail>,
) -> Result<Option<(Change, Isvc)>> {
    let server_dry_run = m.write.dry_run == Some(DryRun::Server);
    let c = target.component;
    let (mut retries, mut resent_unanswered) = (0, false);
    loop {
        let (kind, body) = patch_of(target, &change);
        let isvc = &target.isvc;
        let err = match ctx.kube.patch_isvc(&isvc.namespace, &isvc.name, kind, &body, server_dry_run).await {
            Ok(after) => return Ok(Some((change, after))),
            Err(e) if is_unanswered(&e) => {
                ctx.term.warn(&format!("{e:#}: reading {} again to see", isvc.name));
                e
            }
            Err(e) if !is_precondition_failure(&e, kind) => {
                return Err(crate::error::explain_invalid(e, KNATIVE_TOUCHED));
            }
            Err(e) => e,
        };
        let unanswered = is_unanswered(&err);
        let fresh = match ctx.kube.get_isvc(&isvc.namespace, &isvc.name).await {
            Ok(fresh) => fresh,
            Err(again) if unanswered => return Err(unreadable_after_write(isvc, &again)),
            Err(again) => return Err(again),
        };
        if !unanswered && fresh.resource_version == isvc.resource_version {
            return Err(err); // not a precondition: a 422 for another reason
        }
        // Under --expect-revision the revisions decide first: that is what the pipeline asked.
        if let Some(rev) = &target.expected {
            check_expected(&fresh, c, rev)?;
        }
        let before = isvc.owned_fields(c);
        if fresh.owned_fields(c) == change.fields_after(&before) && fresh.owned_fields(c) != before {
            // The change is in place: our own write (unanswered, or retried after a 5xx/429 whose
            // first attempt was applied), or someone made the same change. Done, not a conflict.
            ctx.term.note(&if unanswered {
                format!("the change is in place on {} (the write was applied)", isvc.name)
            } else {
                format!("the change is already in place on {}", isvc.name)
            });
            return Ok(Some((change, fresh)));
        }
        if fresh.owned_fields(c) != before {
            return Err(fail(
                Exit::Refused,
                format!(
                    "{} changed while this command ran ({}): nothing was written; look at it and run the command again",
                    isvc.name,
                    fresh.last_writer()
                ),
            ));
        }
        if unanswered && resent_unanswered {
            return Err(fail(
                Exit::Failure,
                format!(
                    "the write got no answer twice and was not applied: {} holds {}; run the command again",
                    isvc.name,
                    describe_fields(&before)
                ),
            ));
        }
        if unanswered {
            // Not applied (lost before the server, or refused by a precondition the status moved):
            // sent once more, with the fresh resourceVersion.
            ctx.term.note(&format!(
                "the write was not applied ({} holds {}): sending it once more",
                isvc.name,
                describe_fields(&before)
            ));
            resent_unanswered = true;
        } else if retries == MAX_RETRIES {
            return Err(fail(Exit::Refused, format!("{err:#}: the object kept changing after {MAX_RETRIES} retries")));
        } else {
            retries += 1;
        }
        target.isvc = fresh;
        match decide(ctx, target, plan, false)? {
            Some(again) => change = again,
            None => return Ok(None),
        }
    }
}

/// Step 4: wait until the change is where it was asked to be. The target holds the object the
/// change was decided on; on a timeout, an interrupt or a failed rollout nothing is reverted,
/// and (with `undo_note`) the note says how to undo the change.
#[allow(clippy::too_many_arguments)]
async fn wait_after(
    ctx: &Ctx,
    target: &Target,
    waiter: Waiter,
    limits: WaitLimits,
    change: &Change,
    after: &Isvc,
    goal: &impl Fn(&Isvc, &Change) -> Goal,
    undo_note: bool,
) -> Result<Isvc> {
    let c = target.component;
    let request = WaitRequest {
        component: c,
        goal: goal(after, change),
        new_revision_after: change.changes_template().then(|| target.isvc.component_status(c).lcr().to_string()),
        limits,
        guarded_spec: Some(after.owned_fields(c)),
    };
    let result = waiter.after_write(after).run(&ctx.term, &request).await;
    if let Err(e) = &result
        && undo_note
        && matches!(exit_of(e), Exit::Timeout | Exit::Interrupted | Exit::RolloutFailed)
    {
        let undo = undo_hint(&target.isvc, change);
        ctx.term.note(&format!("the change is applied (nothing was reverted); to undo it: {undo}"));
    }
    result
}

/// The write got no answer and the object cannot be read: it may have been applied.
fn unreadable_after_write(isvc: &Isvc, err: &anyhow::Error) -> anyhow::Error {
    fail(
        Exit::Failure,
        format!(
            "the write got no answer and {} cannot be read ({err:#}): the change may have been applied; check with `kubectl isvc-canary -n {} status {}`",
            isvc.name, isvc.namespace, isvc.name
        ),
    )
}

/// The owned fields for a message: `canaryTrafficPercent 10, model gs://…, tag routing off`.
fn describe_fields(f: &OwnedFields) -> String {
    let ctp = f.canary_traffic_percent.map_or("unset".to_string(), |p| p.to_string());
    let model = f.model_uri.as_deref().unwrap_or("-");
    let tags = if f.tag_routing.as_deref() == Some("true") { "on" } else { "off" };
    format!("canaryTrafficPercent {ctp}, model {model}, tag routing {tags}")
}

/// Nothing to write: report `unchanged`, after waiting until the state holds when asked (no
/// write of ours, so judged first and watched only if it must wait).
async fn finish_unchanged(
    ctx: &Ctx,
    m: &Mutation<'_>,
    target: &Target,
    goal: &impl Fn(&Isvc, &Change) -> Goal,
) -> Result<Exit> {
    let dry_run = m.write.dry_run.is_some();
    let done = match m.wait {
        Some(limits) if !dry_run && !m.write.print_patch => wait_unchanged(ctx, target, limits, goal).await?,
        _ => target.isvc.clone(),
    };
    report(ctx, &done, "unchanged", dry_run)
}

/// The wait of a mutation that found nothing to write.
async fn wait_unchanged(
    ctx: &Ctx,
    target: &Target,
    limits: WaitLimits,
    goal: &impl Fn(&Isvc, &Change) -> Goal,
) -> Result<Isvc> {
    let (isvc, c) = (&target.isvc, target.component);
    let current = Change::Traffic { component: c, percent: isvc.ctp(c), model: None, tag_routing_on: false };
    let request =
        WaitRequest { component: c, goal: goal(isvc, &current), new_revision_after: None, limits, guarded_spec: None };
    Waiter::lazy(&ctx.kube, isvc).run(&ctx.term, &request).await
}

/// What [`apply`] did: the last object seen, and whether a PATCH was applied (false: the
/// object was already as asked, nothing was sent).
pub struct Applied {
    pub isvc: Isvc,
    pub written: bool,
}

/// The write path of [`run`] for a command that drives several mutations (`rollout`): the
/// same decisions, guard rails, preconditions, retries and wait, with no dry run, no patch
/// printing and no result line; the wait is the mutation's `wait` (required).
pub async fn apply(
    ctx: &Ctx,
    m: Mutation<'_>,
    plan: impl Fn(&Isvc) -> Result<Plan, Fail>,
    goal: impl Fn(&Isvc, &Change) -> Goal,
) -> Result<Applied> {
    let limits = m.wait.unwrap_or_else(|| WaitLimits::new(None, None));
    let mut target = prepare(ctx, &m).await?;
    let Some(change) = decide(ctx, &target, &plan, true)? else {
        return Ok(Applied { isvc: wait_unchanged(ctx, &target, limits, &goal).await?, written: false });
    };
    preview_and_confirm(ctx, &m, &target, &change)?;
    let waiter = Waiter::open(&ctx.kube, &target.isvc).await?;
    let Some((change, after)) = write(ctx, &m, &mut target, change, &plan).await? else {
        return Ok(Applied { isvc: wait_unchanged(ctx, &target, limits, &goal).await?, written: false });
    };
    // The driving command says itself how to go on (a rollout: --resume, or abort).
    let last = wait_after(ctx, &target, waiter, limits, &change, &after, &goal, false).await?;
    Ok(Applied { isvc: last, written: true })
}

/// The patch to send: a JSON Patch with `test`s under `--expect-revision`, else a merge patch;
/// both carry the read's resourceVersion.
fn patch_of(target: &Target, change: &Change) -> (PatchKind, serde_json::Value) {
    let rv = &target.isvc.resource_version;
    match &target.expected {
        Some(rev) => (PatchKind::Json, expect_revision_patch(change, rev, &target.isvc)),
        None => (PatchKind::Merge, merge_patch(change, rv)),
    }
}

/// A failed precondition, by HTTP status: 409 for a merge patch, 422 for a JSON Patch `test`
/// (the re-read tells a failed `test` from another 422).
fn is_precondition_failure(err: &anyhow::Error, kind: PatchKind) -> bool {
    let expected = match kind {
        PatchKind::Merge => 409,
        PatchKind::Json => 422,
    };
    http_status_of(err) == Some(expected)
}

/// `--expect-revision REV` holds when REV is both the latest ready and the latest created
/// revision of the component.
fn check_expected(isvc: &Isvc, c: Component, rev: &str) -> Result<()> {
    let s = isvc.component_status(c);
    if s.lrr() == rev && s.lcr() == rev {
        return Ok(());
    }
    Err(fail(
        Exit::Refused,
        format!(
            "--expect-revision {rev} does not match: latest ready is {}, latest created is {}; nothing was changed",
            dash(s.lrr()),
            dash(s.lcr())
        ),
    ))
}

/// The command a person would run to undo a change whose wait failed or was interrupted: a
/// change that sent traffic towards the latest revision (a new model, a larger share, promote)
/// is undone by `rollback`; one that took traffic from it by `promote`, or by `set` of the share
/// it had.
fn undo_hint(before: &Isvc, change: &Change) -> String {
    let target = format!("kubectl isvc-canary -n {} ", before.namespace);
    match change {
        Change::TagRouting(on) => format!("{target}tag-routing {} {}", before.name, if *on { "off" } else { "on" }),
        Change::Traffic { component, percent, model, .. } => {
            let comp = if *component == Component::Predictor {
                String::new()
            } else {
                format!(" --component {}", component.key())
            };
            let share = |ctp: Option<i64>| ctp.unwrap_or(100);
            let towards_latest = model.is_some() || share(*percent) > share(before.ctp(*component));
            match before.ctp(*component) {
                _ if towards_latest => format!("{target}rollback {}{comp}", before.name),
                None => format!("{target}promote {}{comp}", before.name),
                Some(p) => format!("{target}set {} {p}{comp}", before.name),
            }
        }
    }
}

/// The object as a client dry run expects it to be after the patch.
fn preview_object(isvc: &Isvc, change: &Change) -> Isvc {
    let mut raw = isvc.raw.clone();
    crate::patch::apply_merge(&mut raw, &display_patch(change));
    Isvc::from_value(raw)
}

/// The result on stdout, with `(dry run)` after the verb when nothing was stored.
fn report(ctx: &Ctx, isvc: &Isvc, verb: &str, dry_run: bool) -> Result<Exit> {
    let suffix = if dry_run { " (dry run)" } else { "" };
    print_result(ctx.output(), isvc, &format!("{verb}{suffix}"))?;
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::isvc::ModelField;
    use serde_json::json;

    fn isvc(ctp: Option<i64>) -> Isvc {
        let mut predictor = json!({"model": {"storageUri": "gs://m1"}});
        if let Some(p) = ctp {
            predictor["canaryTrafficPercent"] = json!(p);
        }
        Isvc::from_value(json!({"metadata": {"name": "m", "namespace": "t"}, "spec": {"predictor": predictor}}))
    }

    fn traffic(percent: Option<i64>, model: bool) -> Change {
        let model = model.then(|| (ModelField::Model, "gs://m2".to_string()));
        Change::Traffic { component: Component::Predictor, percent, model, tag_routing_on: false }
    }

    #[test]
    fn undo_is_the_command_a_person_would_run() {
        let undo = |before: Option<i64>, change: Change| undo_hint(&isvc(before), &change);
        let k = "kubectl isvc-canary -n t ";
        // Towards the latest revision: roll back.
        assert_eq!(undo(None, traffic(Some(10), true)), format!("{k}rollback m"));
        assert_eq!(undo(Some(10), traffic(Some(50), false)), format!("{k}rollback m"));
        assert_eq!(undo(Some(10), traffic(None, false)), format!("{k}rollback m"));
        // Away from it: promote, or the share it had.
        assert_eq!(undo(None, traffic(Some(0), false)), format!("{k}promote m"));
        assert_eq!(undo(Some(30), traffic(Some(0), false)), format!("{k}set m 30"));
        assert_eq!(undo(Some(50), traffic(Some(10), false)), format!("{k}set m 50"));
        assert_eq!(undo(None, Change::TagRouting(true)), format!("{k}tag-routing m off"));
    }
}
