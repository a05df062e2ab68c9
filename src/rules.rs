//! The guard rails of the contract as pure decisions: given what was read and what was asked,
//! either refuse (with the exit code and a message that says what to do), do nothing (already
//! there), or write one change (with the notes to show first).

use crate::error::{Exit, Fail};
use crate::isvc::{Component, Isvc, Mode, ModelField};
use crate::patch::Change;

/// What a mutation will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Nothing to write: the object is already as asked.
    Unchanged { notes: Vec<String> },
    /// One write.
    Write { change: Change, notes: Vec<String> },
}

impl Plan {
    pub fn notes(&self) -> &[String] {
        match self {
            Plan::Unchanged { notes } | Plan::Write { notes, .. } => notes,
        }
    }
}

fn refuse(message: impl Into<String>) -> Fail {
    Fail::new(Exit::Refused, message)
}

/// Every mutation and `wait`: a readable status, and Knative mode (only it has revisions and a
/// traffic split).
pub fn check_mode(isvc: &Isvc) -> Result<(), Fail> {
    check_readable(isvc)?;
    match isvc.mode() {
        Mode::Knative => Ok(()),
        Mode::Standard => Err(refuse(format!(
            "{} runs in Standard (RawDeployment) mode, where KServe ignores canaryTrafficPercent and has no revisions: \
             canaries there are spec.canary entries (KServe 0.20+): use `set {} PERCENT --model-uri URI [--canary-name N]`, \
             `promote` and `rollback`",
            isvc.name, isvc.name
        ))),
        Mode::ModelMesh => Err(refuse(format!(
            "{} runs in ModelMesh mode, which KServe does not roll out by revision: canary rollouts need Knative mode",
            isvc.name
        ))),
        Mode::Other(m) => Err(refuse(format!("unsupported deployment mode '{m}' on {}", isvc.name))),
    }
}

/// Nothing is decided on a status that could not be read.
pub fn check_readable(isvc: &Isvc) -> Result<(), Fail> {
    // Nothing is decided on a status that could not be read: the guard rails would see nothing.
    if let Some(why) = &isvc.status_error {
        return Err(Fail::new(
            Exit::Failure,
            format!(
                "the status of {} cannot be read ({why}): nothing was changed; look at it with `kubectl get isvc {} -o yaml`",
                isvc.name, isvc.name
            ),
        ));
    }
    Ok(())
}

/// The component must exist in the spec.
pub fn check_component(isvc: &Isvc, c: Component) -> Result<(), Fail> {
    if isvc.spec_component(c).is_some() {
        return Ok(());
    }
    let present: Vec<&str> = isvc.components().iter().map(|c| c.key()).collect();
    Err(refuse(format!("{} has no {} (it has: {}); pick one with --component", isvc.name, c.key(), present.join(", "))))
}

/// A canary is in progress when ctp is above 0 and the latest created revision is not the
/// rolled-out one (ctp 0 is a pin, not a canary).
pub fn canary_in_progress(isvc: &Isvc, c: Component) -> bool {
    let s = isvc.component_status(c);
    isvc.ctp(c).is_some_and(|p| p > 0) && !s.lcr().is_empty() && s.lcr() != s.lro()
}

/// Validates PERCENT exactly as the contract words it.
pub fn parse_percent(text: &str) -> Result<i64, Fail> {
    let ok = match text.len() {
        1 => text.as_bytes()[0].is_ascii_digit(),
        2 => text.as_bytes()[0] != b'0' && text.bytes().all(|b| b.is_ascii_digit()),
        3 => text == "100",
        _ => false,
    };
    if ok {
        Ok(text.parse().unwrap_or_default())
    } else {
        Err(Fail::new(Exit::Usage, format!("percent must be an integer from 0 to 100 (got '{text}')")))
    }
}

/// `--model-uri` must be a non-empty `scheme://...`.
pub fn validate_model_uri(uri: &str) -> Result<(), Fail> {
    let valid = uri.split_once("://").is_some_and(|(scheme, rest)| {
        !scheme.is_empty()
            && scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            && !rest.is_empty()
    }) && !uri.chars().any(char::is_whitespace);
    if valid {
        Ok(())
    } else {
        Err(Fail::new(
            Exit::Usage,
            format!("--model-uri must be a URI like gs://bucket/path or s3://bucket/path (got '{uri}')"),
        ))
    }
}

/// What `set` was asked, after parsing.
#[derive(Debug, Clone, Copy)]
pub struct SetRequest<'a> {
    pub component: Component,
    pub percent: i64,
    pub model_uri: Option<&'a str>,
    /// `--split-with-previous`: a split between the current and the previous rollout is meant.
    pub split_with_previous: bool,
    /// `--replace`: dropping a canary of another model that is in progress is meant.
    pub replace: bool,
}

/// `set N [--model-uri X]`.
pub fn plan_set(isvc: &Isvc, req: &SetRequest<'_>) -> Result<Plan, Fail> {
    let SetRequest { component: c, percent, model_uri, split_with_previous, replace } = *req;
    let s = isvc.component_status(c);
    let mut notes = Vec::new();
    let current_model = isvc.model_uri(c);
    let model = match model_uri {
        None => None,
        Some(uri) => {
            let field = isvc.model_field(c);
            if field == ModelField::None {
                return Err(refuse(format!(
                    "the {} of {} has no storage URI (a custom container, or no model): --model-uri cannot be used",
                    c.key(),
                    isvc.name
                )));
            }
            if current_model.as_deref() == Some(uri) {
                notes.push(format!("{uri} is already the model: no new revision will be created"));
                None
            } else {
                Some((field, uri.to_string()))
            }
        }
    };
    // ctp 100 is the same as promote: the field is removed.
    let target = if percent == 100 { None } else { Some(percent) };
    if model.is_none() && isvc.ctp(c) == target {
        return Ok(Plan::Unchanged { notes });
    }
    if percent == 100 && model.is_none() {
        return plan_promote(isvc, c, false).map(|p| match p {
            Plan::Write { change, notes: mut more } => {
                notes.append(&mut more);
                Plan::Write { change, notes }
            }
            other => other,
        });
    }
    if s.lro().is_empty() {
        notes.push(format!(
            "nothing has been rolled out yet: the {percent}% split is armed on the first revision and applies to the next model change"
        ));
    }
    if model.is_some() && canary_in_progress(isvc, c) && !replace {
        return Err(refuse(format!(
            "a canary of {} ({}) is in progress at {}%: setting another model would drop it; \
             promote or roll it back first, or pass --replace",
            current_model.as_deref().unwrap_or("another model"),
            s.lcr(),
            isvc.ctp(c).unwrap_or_default()
        )));
    }
    let partial_rollback = model.is_none()
        && percent > 0
        && percent < 100
        && !s.lro().is_empty()
        && s.lcr() == s.lrr()
        && s.lrr() == s.lro()
        && !s.pro().is_empty()
        && s.pro() != s.lro();
    if partial_rollback && !split_with_previous {
        return Err(refuse(format!(
            "no canary is in progress: {}% would go back to the previous rollout {} (KServe's rule); \
             pass --split-with-previous to split with it, or --model-uri to start a canary",
            100 - percent,
            s.pro()
        )));
    }
    Ok(Plan::Write { change: Change::Traffic { component: c, percent: target, model, tag_routing_on: false }, notes })
}

/// `promote`: remove ctp.
pub fn plan_promote(isvc: &Isvc, c: Component, force: bool) -> Result<Plan, Fail> {
    let s = isvc.component_status(c);
    if isvc.ctp(c).is_none() {
        return Ok(Plan::Unchanged { notes: vec![] });
    }
    let mut notes = Vec::new();
    if s.lcr() != s.lrr() {
        let why = isvc.latest_failure(c).map_or_else(|| "not ready yet".to_string(), |r| format!("failed: {r}"));
        if !force {
            return Err(refuse(format!(
                "the latest revision {} is {why}: promoting would send all traffic to it as soon as it is ready; \
                 wait for it, roll back, or pass --force",
                s.lcr()
            )));
        }
        notes.push(format!("promoting {} although it is {why} (--force)", s.lcr()));
    } else if let Some(failure) = isvc.crash_failure(c) {
        let why = format!("failing after it was ready: {failure}");
        if !force {
            return Err(refuse(format!(
                "the latest revision {} is {why}: promoting would send all traffic to it; roll back, or pass --force",
                s.lcr()
            )));
        }
        notes.push(format!("promoting {} although it is {why} (--force)", s.lcr()));
    }
    Ok(Plan::Write {
        change: Change::Traffic { component: c, percent: None, model: None, tag_routing_on: false },
        notes,
    })
}

/// The revision `rollback` pins: LRO while a newer revision exists (abort), else PRO.
pub fn rollback_target(isvc: &Isvc, c: Component) -> Option<String> {
    let s = isvc.component_status(c);
    let target = if s.lcr() != s.lro() { s.lro() } else { s.pro() };
    (!target.is_empty()).then(|| target.to_string())
}

/// `rollback`: ctp 0 with the previous rollout taking 100%.
pub fn plan_rollback(isvc: &Isvc, c: Component) -> Result<(Plan, String), Fail> {
    let s = isvc.component_status(c);
    let Some(target) = rollback_target(isvc, c) else {
        return Err(refuse(format!(
            "nothing to roll back to: {} has only ever rolled out {}",
            isvc.name,
            if s.lro().is_empty() { "nothing" } else { s.lro() }
        )));
    };
    let mut notes = Vec::new();
    if s.lcr() != s.lrr() && !s.lcr().is_empty() {
        notes.push(format!(
            "{} is not ready and stays the latest created revision at 0%: the InferenceService stays not Ready until a new model replaces it",
            s.lcr()
        ));
    }
    if isvc.ctp(c) == Some(0) {
        return Ok((Plan::Unchanged { notes }, target));
    }
    Ok((
        Plan::Write {
            change: Change::Traffic { component: c, percent: Some(0), model: None, tag_routing_on: false },
            notes,
        },
        target,
    ))
}

/// `tag-routing on|off`.
pub fn plan_tag_routing(isvc: &Isvc, on: bool) -> Plan {
    let current = isvc.annotations.get(crate::isvc::TAG_ROUTING_ANNOTATION);
    let unchanged =
        if on { current.map(String::as_str) == Some("true") } else { current.map(String::as_str) != Some("true") };
    if unchanged {
        return Plan::Unchanged { notes: vec![] };
    }
    Plan::Write {
        change: Change::TagRouting(on),
        notes: vec![format!(
            "the annotation is part of the revision template of every component: a new revision of each will roll out under the current split"
        )],
    }
}

/// Expands `--expect-revision 2` to `<prefix>00002`; a full name is kept.
pub fn expand_revision(isvc: &Isvc, c: Component, rev: &str) -> Result<String, Fail> {
    if !rev.chars().all(|ch| ch.is_ascii_digit()) {
        return Ok(rev.to_string());
    }
    let n: u64 = rev.parse().map_err(|_| Fail::new(Exit::Usage, format!("invalid revision number '{rev}'")))?;
    let prefix = isvc
        .component_status(c)
        .revision_prefix()
        .ok_or_else(|| refuse(format!("{} has no revision yet, so --expect-revision {rev} cannot match", isvc.name)))?;
    Ok(format!("{prefix}{n:05}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn set_req(percent: i64, model_uri: Option<&str>, split_with_previous: bool, replace: bool) -> SetRequest<'_> {
        SetRequest { component: Component::Predictor, percent, model_uri, split_with_previous, replace }
    }

    /// An InferenceService in Knative mode with the given spec ctp, model and component status.
    fn isvc(ctp: Option<i64>, status: Value) -> Isvc {
        let mut predictor = json!({"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "gs://m1"}});
        if let Some(p) = ctp {
            predictor["canaryTrafficPercent"] = json!(p);
        }
        Isvc::from_value(json!({
            "metadata": {"name": "iris", "namespace": "t", "resourceVersion": "5"},
            "spec": {"predictor": predictor},
            "status": {"components": {"predictor": status}}
        }))
    }

    const R1: &str = "iris-predictor-00001";
    const R2: &str = "iris-predictor-00002";

    /// §4.5-1 after first deploy: r1 rolled out.
    fn deployed() -> Isvc {
        isvc(
            None,
            json!({"latestCreatedRevision": R1, "latestReadyRevision": R1, "latestRolledoutRevision": R1,
            "traffic": [{"latestRevision": true, "percent": 100, "revisionName": R1}]}),
        )
    }

    /// §4.5-2: canary of r2 at 10%, r2 ready.
    fn canary() -> Isvc {
        isvc(
            Some(10),
            json!({"latestCreatedRevision": R2, "latestReadyRevision": R2, "latestRolledoutRevision": R1,
            "traffic": [{"latestRevision": true, "percent": 10, "revisionName": R2},
                        {"latestRevision": false, "percent": 90, "revisionName": R1, "tag": "prev"}]}),
        )
    }

    /// §4.5-2 while r2 is still starting.
    fn canary_pending() -> Isvc {
        isvc(Some(10), json!({"latestCreatedRevision": R2, "latestReadyRevision": R1, "latestRolledoutRevision": R1}))
    }

    /// §4.5-4: promoted r2 (PRO r1).
    fn promoted() -> Isvc {
        isvc(
            None,
            json!({"latestCreatedRevision": R2, "latestReadyRevision": R2, "latestRolledoutRevision": R2,
            "previousRolledoutRevision": R1}),
        )
    }

    #[test]
    fn percent_accepts_only_decimal_0_to_100() {
        for ok in ["0", "5", "10", "99", "100"] {
            assert!(parse_percent(ok).is_ok(), "{ok}");
        }
        for bad in ["-1", "101", "10.5", "ten", "", "010", "00", "+5", " 5", "1000"] {
            let err = parse_percent(bad).unwrap_err();
            assert_eq!(err.exit, Exit::Usage, "{bad}");
            assert!(err.message.starts_with("percent must be an integer from 0 to 100"), "{bad}");
        }
    }

    #[test]
    fn model_uri_needs_a_scheme() {
        assert!(validate_model_uri("gs://kfserving-examples/models/sklearn/2.0/model").is_ok());
        assert!(validate_model_uri("s3://b/k").is_ok());
        for bad in ["", "model", "://x", "gs://", "gs:// x", "1s://x"] {
            assert_eq!(validate_model_uri(bad).unwrap_err().exit, Exit::Usage, "{bad}");
        }
    }

    #[test]
    fn standard_and_modelmesh_are_refused() {
        let mut raw = deployed().raw;
        raw["status"]["deploymentMode"] = json!("RawDeployment");
        assert_eq!(check_mode(&Isvc::from_value(raw.clone())).unwrap_err().exit, Exit::Refused);
        raw["status"]["deploymentMode"] = json!("ModelMesh");
        assert_eq!(check_mode(&Isvc::from_value(raw.clone())).unwrap_err().exit, Exit::Refused);
        raw["status"]["deploymentMode"] = json!("Serverless");
        assert!(check_mode(&Isvc::from_value(raw)).is_ok());
    }

    #[test]
    fn missing_component_is_refused() {
        let err = check_component(&deployed(), Component::Transformer).unwrap_err();
        assert_eq!(err.exit, Exit::Refused);
        assert!(err.message.contains("has no transformer"));
    }

    #[test]
    fn set_with_new_model_writes_percent_and_model() {
        let plan = plan_set(&deployed(), &set_req(10, Some("gs://m2"), false, false)).unwrap();
        assert_eq!(
            plan,
            Plan::Write {
                change: Change::Traffic {
                    component: Component::Predictor,
                    percent: Some(10),
                    model: Some((ModelField::Model, "gs://m2".into())),
                    tag_routing_on: false,
                },
                notes: vec![]
            }
        );
    }

    #[test]
    fn set_same_percent_is_unchanged() {
        assert!(matches!(plan_set(&canary(), &set_req(10, None, false, false)), Ok(Plan::Unchanged { .. })));
    }

    #[test]
    fn set_before_first_rollout_is_allowed_with_a_note() {
        let fresh = isvc(None, json!({}));
        let plan = plan_set(&fresh, &set_req(10, None, false, false)).unwrap();
        assert!(plan.notes()[0].contains("armed on the first revision"));
    }

    #[test]
    fn partial_rollback_needs_split_with_previous() {
        // §4.5-7: after two rollouts, a split without a new model goes back to PRO.
        let err = plan_set(&promoted(), &set_req(20, None, false, false)).unwrap_err();
        assert_eq!(err.exit, Exit::Refused);
        assert!(err.message.contains("--split-with-previous"));
        assert!(matches!(plan_set(&promoted(), &set_req(20, None, true, false)), Ok(Plan::Write { .. })));
        // With only one rollout (PRO empty) the split stays on one revision: allowed.
        assert!(plan_set(&deployed(), &set_req(20, None, false, false)).is_ok());
    }

    #[test]
    fn replacing_a_canary_of_another_model_needs_replace() {
        let err = plan_set(&canary(), &set_req(10, Some("gs://m3"), false, false)).unwrap_err();
        assert_eq!(err.exit, Exit::Refused);
        assert!(err.message.contains("--replace"));
        assert!(plan_set(&canary(), &set_req(10, Some("gs://m3"), false, true)).is_ok());
        // Moving the split of the canary in progress is fine.
        assert!(plan_set(&canary(), &set_req(50, None, false, false)).is_ok());
    }

    #[test]
    fn same_model_says_no_new_revision() {
        let plan = plan_set(&deployed(), &set_req(10, Some("gs://m1"), false, false)).unwrap();
        assert!(plan.notes().iter().any(|n| n.contains("no new revision")));
        assert!(matches!(plan, Plan::Write { change: Change::Traffic { model: None, .. }, .. }));
    }

    #[test]
    fn model_uri_on_custom_container_is_refused() {
        let custom = Isvc::from_value(
            json!({"metadata": {"name": "c"}, "spec": {"predictor": {"containers": [{"image": "x"}]}}}),
        );
        let err = plan_set(&custom, &set_req(10, Some("gs://x"), false, false)).unwrap_err();
        assert_eq!(err.exit, Exit::Refused);
    }

    #[test]
    fn set_100_is_promote() {
        let plan = plan_set(&canary(), &set_req(100, None, false, false)).unwrap();
        assert!(matches!(plan, Plan::Write { change: Change::Traffic { percent: None, .. }, .. }));
        assert!(matches!(plan_set(&promoted(), &set_req(100, None, false, false)), Ok(Plan::Unchanged { .. })));
    }

    #[test]
    fn promote_refuses_a_revision_not_ready_unless_forced() {
        let err = plan_promote(&canary_pending(), Component::Predictor, false).unwrap_err();
        assert_eq!(err.exit, Exit::Refused);
        assert!(err.message.contains("--force"));
        assert!(plan_promote(&canary_pending(), Component::Predictor, true).is_ok());
        assert!(matches!(plan_promote(&canary(), Component::Predictor, false), Ok(Plan::Write { .. })));
    }

    /// The canary r2 was ready, then crash-loops (OOMKilled): LCR = LRR = r2, Knative failed the
    /// configuration and KServe says the model failed to load.
    fn canary_crashing(config: &str, transition: &str) -> Isvc {
        let mut v = canary().raw.clone();
        v["status"]["conditions"] = json!([{"type": "PredictorConfigurationReady", "status": config,
            "reason": "RevisionFailed", "message": "Revision failed with message: Container failed with: ."}]);
        v["status"]["modelStatus"] = json!({"transitionStatus": transition,
            "lastFailureInfo": {"reason": "ModelLoadFailed", "exitCode": 137}});
        Isvc::from_value(v)
    }

    #[test]
    fn promote_refuses_a_ready_revision_that_crash_loops_unless_forced() {
        let err =
            plan_promote(&canary_crashing("False", "BlockedByFailedLoad"), Component::Predictor, false).unwrap_err();
        assert_eq!(err.exit, Exit::Refused);
        assert!(err.message.contains("failing after it was ready: ModelLoadFailed: exit code 137"), "{}", err.message);
        assert!(err.message.contains("--force"));
        let Ok(Plan::Write { notes, .. }) =
            plan_promote(&canary_crashing("False", "BlockedByFailedLoad"), Component::Predictor, true)
        else {
            panic!("--force must promote")
        };
        assert!(notes[0].contains("--force"), "{notes:?}");
        // One signal alone (a moment of a healthy rollout) refuses nothing.
        for (config, transition) in [("True", "BlockedByFailedLoad"), ("False", "UpToDate"), ("Unknown", "InProgress")]
        {
            let plan = plan_promote(&canary_crashing(config, transition), Component::Predictor, false);
            assert!(matches!(plan, Ok(Plan::Write { .. })), "{config} {transition}");
        }
    }

    #[test]
    fn promote_when_promoted_is_unchanged() {
        assert!(matches!(plan_promote(&promoted(), Component::Predictor, false), Ok(Plan::Unchanged { .. })));
    }

    #[test]
    fn rollback_targets_lro_during_a_canary_and_pro_after_promote() {
        assert_eq!(rollback_target(&canary(), Component::Predictor).as_deref(), Some(R1));
        assert_eq!(rollback_target(&promoted(), Component::Predictor).as_deref(), Some(R1));
        let (plan, _) = plan_rollback(&canary(), Component::Predictor).unwrap();
        assert!(matches!(plan, Plan::Write { change: Change::Traffic { percent: Some(0), .. }, .. }));
    }

    #[test]
    fn rollback_with_nothing_before_is_refused() {
        let err = plan_rollback(&deployed(), Component::Predictor).unwrap_err();
        assert_eq!(err.exit, Exit::Refused);
        assert!(err.message.contains("nothing to roll back to"));
    }

    #[test]
    fn rollback_already_pinned_is_unchanged() {
        // §4.5-6 final state: ctp 0, LRO = PRO = r1.
        let pinned = isvc(
            Some(0),
            json!({"latestCreatedRevision": R2, "latestReadyRevision": R2,
            "latestRolledoutRevision": R1, "previousRolledoutRevision": R1}),
        );
        assert!(matches!(plan_rollback(&pinned, Component::Predictor), Ok((Plan::Unchanged { .. }, _))));
    }

    #[test]
    fn rollback_of_a_failed_canary_warns_it_stays_latest_created() {
        let (plan, target) = plan_rollback(&canary_pending(), Component::Predictor).unwrap();
        assert_eq!(target, R1);
        assert!(plan.notes()[0].contains("stays the latest created revision"));
    }

    #[test]
    fn tag_routing_off_when_not_true_is_unchanged() {
        let mut raw = deployed().raw;
        assert_eq!(plan_tag_routing(&Isvc::from_value(raw.clone()), false), Plan::Unchanged { notes: vec![] });
        raw["metadata"]["annotations"] = json!({"serving.kserve.io/enable-tag-routing": "false"});
        assert_eq!(plan_tag_routing(&Isvc::from_value(raw.clone()), false), Plan::Unchanged { notes: vec![] });
        assert!(matches!(plan_tag_routing(&Isvc::from_value(raw), true), Plan::Write { .. }));
    }

    #[test]
    fn failed_revision_reason_comes_from_model_status() {
        let mut raw = canary_pending().raw;
        raw["status"]["modelStatus"] = json!({"transitionStatus": "BlockedByFailedLoad",
            "lastFailureInfo": {"reason": "ModelLoadFailed", "message": "no such model"}});
        let reason = Isvc::from_value(raw).latest_failure(Component::Predictor).unwrap();
        assert_eq!(reason.to_string(), "ModelLoadFailed: no such model");
    }

    #[test]
    fn expect_revision_number_expands_with_the_prefix() {
        assert_eq!(expand_revision(&canary(), Component::Predictor, "2").unwrap(), R2);
        assert_eq!(expand_revision(&canary(), Component::Predictor, "x-00009").unwrap(), "x-00009");
    }
}
