//! The one write path every mutation shares (contract, "Writes"): resolve, guard, preview,
//! confirm, patch with a precondition (retrying conflicts), report, and wait if asked.

use std::time::Duration;

use anyhow::Result;

use super::Ctx;
use crate::cli::{Component, DryRun, OutputFormat, WriteArgs};
use crate::client::PatchKind;
use crate::duration::parse_duration;
use crate::error::{Exit, Fail, exit_of, fail};
use crate::isvc::{Isvc, TAG_ROUTING_ANNOTATION};
use crate::output::{dash, to_json, to_yaml};
use crate::patch::{Change, display_patch, expect_revision_patch, merge_patch};
use crate::resolve::resolve;
use crate::rules::{Plan, check_component, check_mode};
use crate::traffic;
use crate::wait::{Goal, WaitRequest, Waiter};

const MAX_RETRIES: usize = 3;

/// A mutation, as a command describes it.
pub struct Mutation<'a> {
    pub name: Option<&'a str>,
    /// The object, when the command already read it (rollback): no second GET.
    pub pre_read: Option<Isvc>,
    /// The component it changes (`None` for tag routing, which changes every component).
    pub component: Option<Component>,
    pub write: &'a WriteArgs,
    pub expect_revision: Option<&'a str>,
    /// The verb of the result line (`canary set`, `promoted`, ...).
    pub verb: &'static str,
}

/// Validated `--wait`, `--timeout` and `--fail-window`.
pub struct WaitFlags {
    pub wait: bool,
    pub timeout: Duration,
    pub fail_window: Duration,
}

pub fn wait_flags(
    wait: bool,
    timeout: Option<&str>,
    fail_window: Option<&str>,
    require_wait: bool,
) -> Result<WaitFlags> {
    if require_wait && !wait && (timeout.is_some() || fail_window.is_some()) {
        return Err(fail(Exit::Usage, "--timeout and --fail-window only apply with --wait"));
    }
    let parse = |flag: &str, text: Option<&str>, default: Duration| -> Result<Duration> {
        match text {
            None => Ok(default),
            Some(t) => parse_duration(t).map_err(|e| fail(Exit::Usage, format!("invalid {flag}: {e}"))),
        }
    };
    Ok(WaitFlags {
        wait,
        timeout: parse("--timeout", timeout, Duration::from_secs(15 * 60))?,
        fail_window: parse("--fail-window", fail_window, Duration::from_secs(10))?,
    })
}

/// Runs a mutation. `plan` decides from what was read; `goal` says what "done" is for the wait.
pub async fn run(
    ctx: &Ctx,
    m: Mutation<'_>,
    plan: impl Fn(&Isvc) -> Result<Plan, Fail>,
    goal: impl Fn(&Isvc, &Change) -> Goal,
) -> Result<Exit> {
    let flags = wait_flags(m.write.wait, m.write.timeout.as_deref(), m.write.fail_window.as_deref(), true)?;
    let kube = &ctx.kube;
    let term = &ctx.term;
    let mut isvc = match m.pre_read {
        Some(isvc) => isvc,
        None => resolve(kube, term, m.name).await?,
    };
    check_mode(&isvc)?;
    if let Some(c) = m.component {
        check_component(&isvc, c)?;
    }
    let expected = match (m.expect_revision, m.component) {
        (Some(rev), Some(c)) => Some(crate::rules::expand_revision(&isvc, c, rev)?),
        _ => None,
    };
    let dry_run = m.write.dry_run;
    let mut attempt = 0;
    loop {
        let plan = plan(&isvc)?;
        if attempt == 0 {
            for note in plan.notes() {
                term.note(note);
            }
        }
        let change = match plan {
            Plan::Unchanged { .. } => {
                let mut done = isvc.clone();
                if flags.wait && dry_run.is_none() && !m.write.print_patch {
                    let component = m.component.unwrap_or(Component::Predictor);
                    let current_change = Change::Traffic { component, percent: isvc.ctp(component), model: None };
                    let request = WaitRequest {
                        component,
                        goal: goal(&isvc, &current_change),
                        new_revision_after: None,
                        timeout: flags.timeout,
                        fail_window: flags.fail_window,
                        guarded_spec: None,
                    };
                    let waiter = Waiter::lazy(kube, &isvc);
                    done = waiter.run(term, &request).await?;
                }
                report(ctx, &done, "unchanged", dry_run.is_some())?;
                return Ok(Exit::Ok);
            }
            Plan::Write { change, .. } => change,
        };
        if let (Some(rev), Some(c)) = (&expected, m.component) {
            let s = isvc.component_status(c);
            if s.lrr() != rev || s.lcr() != rev {
                return Err(fail(
                    Exit::Refused,
                    format!(
                        "--expect-revision {rev} does not match: latest ready is {}, latest created is {}; nothing was changed",
                        dash(s.lrr()),
                        dash(s.lcr())
                    ),
                ));
            }
        }
        if m.write.print_patch {
            let patch = match &expected {
                Some(rev) => expect_revision_patch(&change, rev, &isvc.resource_version),
                None => display_patch(&change),
            };
            print!("{}", to_json(&patch)?);
            return Ok(Exit::Ok);
        }
        if attempt == 0 {
            for owner in isvc.gitops_owners() {
                term.warn(&format!("{} looks managed by GitOps ({owner}): a sync will revert this change", isvc.name));
            }
            eprintln!("{}/{} @ {}", isvc.namespace, isvc.name, kube.context);
            let component = m.component.unwrap_or(Component::Predictor);
            if dry_run.is_some() || term.interactive && !term.yes {
                eprint!(
                    "{}",
                    traffic::preview(
                        &traffic::current(&isvc, component),
                        &traffic::predicted(&isvc, component, &change)
                    )
                );
                eprintln!("patch: {}", serde_json::to_string(&display_patch(&change))?);
            }
            if dry_run == Some(DryRun::Client) {
                report(ctx, &preview_object(&isvc, &change), m.verb, true)?;
                return Ok(Exit::Ok);
            }
            if dry_run.is_none() {
                term.confirm(&format!("Apply to {}/{}?", isvc.namespace, isvc.name))?;
            }
        }
        // With --wait the watch opens before the write, from the read's resourceVersion: no
        // event is missed, and a missing `watch` permission stops us before anything changes.
        let waiter = if flags.wait && dry_run.is_none() { Some(Waiter::open(kube, &isvc).await?) } else { None };
        let (kind, body) = match &expected {
            Some(rev) => (PatchKind::Json, expect_revision_patch(&change, rev, &isvc.resource_version)),
            None => (PatchKind::Merge, merge_patch(&change, &isvc.resource_version)),
        };
        let result = kube.patch_isvc(&isvc.namespace, &isvc.name, kind, &body, dry_run == Some(DryRun::Server)).await;
        match result {
            Ok(written) => {
                if let Some(waiter) = waiter {
                    let component = m.component.unwrap_or(Component::Predictor);
                    let template_change =
                        matches!(&change, Change::TagRouting(_) | Change::Traffic { model: Some(_), .. });
                    let request = WaitRequest {
                        component,
                        goal: goal(&written, &change),
                        new_revision_after: template_change.then(|| isvc.component_status(component).lcr().to_string()),
                        timeout: flags.timeout,
                        fail_window: flags.fail_window,
                        guarded_spec: Some(spec_fingerprint(&written, component)),
                    };
                    let undo = undo_hint(&isvc, &change);
                    let last = match waiter.after_write(&written).run(term, &request).await {
                        Ok(last) => last,
                        Err(e) => {
                            let code = exit_of(&e);
                            if matches!(code, Exit::Timeout | Exit::Interrupted | Exit::RolloutFailed) {
                                term.note(&format!("the change is applied (nothing was reverted); to undo it: {undo}"));
                            }
                            return Err(e);
                        }
                    };
                    report(ctx, &last, m.verb, false)?;
                } else {
                    report(ctx, &written, m.verb, dry_run.is_some())?;
                }
                return Ok(Exit::Ok);
            }
            Err(e) if is_conflict(&e, kind) && attempt < MAX_RETRIES => {
                attempt += 1;
                let fresh = kube.get_isvc(&isvc.namespace, &isvc.name).await?;
                let component = m.component.unwrap_or(Component::Predictor);
                if spec_fingerprint(&fresh, component) != spec_fingerprint(&isvc, component) {
                    return Err(fail(
                        Exit::Refused,
                        format!(
                            "{} changed while this command ran ({}): nothing was written; look at it and run the command again",
                            isvc.name,
                            last_writer(&fresh)
                        ),
                    ));
                }
                isvc = fresh;
            }
            Err(e) if is_conflict(&e, kind) => {
                return Err(fail(
                    Exit::Refused,
                    format!("{e:#}: the object kept changing after {MAX_RETRIES} retries"),
                ));
            }
            Err(e) if kind == PatchKind::Json && exit_of(&e) == Exit::Refused => {
                // A failed `test` of --expect-revision: say what the revisions are now.
                let fresh = kube.get_isvc(&isvc.namespace, &isvc.name).await?;
                let c = m.component.unwrap_or(Component::Predictor);
                let s = fresh.component_status(c);
                return Err(fail(
                    Exit::Refused,
                    format!(
                        "--expect-revision {} does not match: latest ready is {}, latest created is {}; nothing was changed",
                        expected.clone().unwrap_or_default(),
                        dash(s.lrr()),
                        dash(s.lcr())
                    ),
                ));
            }
            Err(e) => return Err(e),
        }
    }
}

/// A 409 for a merge patch with resourceVersion; for a JSON Patch, the `test` of the
/// resourceVersion failing (422) is the same thing only if the revisions still match, which the
/// caller checks on the re-read.
fn is_conflict(err: &anyhow::Error, kind: PatchKind) -> bool {
    let text = format!("{err:#}");
    match kind {
        PatchKind::Merge => {
            text.contains("the object has been modified") || text.contains("Operation cannot be fulfilled")
        }
        PatchKind::Json => text.contains("/metadata/resourceVersion"),
    }
}

/// The spec fields a command depends on: ctp, the model URI and the tag-routing annotation.
pub fn spec_fingerprint(isvc: &Isvc, c: Component) -> (Option<i64>, Option<String>, Option<String>) {
    (isvc.ctp(c), isvc.model_uri(c), isvc.annotations.get(TAG_ROUTING_ANNOTATION).cloned())
}

/// Who wrote the object last, from managedFields.
pub fn last_writer(isvc: &Isvc) -> String {
    isvc.raw
        .pointer("/metadata/managedFields")
        .and_then(|m| m.as_array())
        .and_then(|fields| {
            fields
                .iter()
                .filter(|f| f.get("subresource").is_none())
                .max_by_key(|f| f.get("time").and_then(|t| t.as_str()).unwrap_or_default().to_string())
        })
        .map(|f| {
            format!(
                "last written by {} at {}",
                f.get("manager").and_then(|m| m.as_str()).unwrap_or("?"),
                f.get("time").and_then(|t| t.as_str()).unwrap_or("?")
            )
        })
        .unwrap_or_else(|| "by another writer".to_string())
}

/// The command that undoes a change, for interrupted or failed waits.
fn undo_hint(before: &Isvc, change: &Change) -> String {
    let target = format!("kubectl isvc-canary -n {} ", before.namespace);
    match change {
        Change::TagRouting(on) => format!("{target}tag-routing {} {}", before.name, if *on { "off" } else { "on" }),
        Change::Traffic { component, model, .. } => {
            let comp = if *component == Component::Predictor {
                String::new()
            } else {
                format!(" --component {}", component.key())
            };
            let model = match (model, before.model_uri(*component)) {
                (Some(_), Some(old)) => format!(" --model-uri {old}"),
                _ => String::new(),
            };
            match before.ctp(*component) {
                Some(p) => format!("{target}set {} {p}{model}{comp}", before.name),
                None if model.is_empty() => format!("{target}promote {}{comp}", before.name),
                None => format!("{target}set {} 100{model}{comp}", before.name),
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

/// The result, on stdout: the line, the reference, or the object.
fn report(ctx: &Ctx, isvc: &Isvc, verb: &str, dry_run: bool) -> Result<()> {
    let reference = format!("inferenceservice.serving.kserve.io/{}", isvc.name);
    let suffix = if dry_run { " (dry run)" } else { "" };
    match ctx.output() {
        Some(OutputFormat::Name) => println!("{reference}"),
        Some(OutputFormat::Json) => print!("{}", to_json(&isvc.raw)?),
        Some(OutputFormat::Yaml) => print!("{}", to_yaml(&isvc.raw)?),
        _ => println!("{reference} {verb}{suffix}"),
    }
    Ok(())
}
