//! What differs between a Knative-mode and a Standard-mode rollout: how a step is written and
//! waited for, the promotion, the rollback, and what the gates are told about the canary. The
//! step loop, the holds, the Lease and the events are `rollout`'s own, shared by both.

use anyhow::Result;

use super::Ctx;
use super::mutate::{self, Applied, Mutation};
use super::standard as std_mode;
use crate::cli::{Component, WaitLimits, WriteArgs};
use crate::error::{Exit, Fail};
use crate::isvc::Isvc;
use crate::patch::Change;
use crate::rollout::plan::{GateSpec, Plan, Step};
use crate::rules::{Plan as WritePlan, SetRequest, plan_promote, plan_rollback, plan_set};
use crate::standard::{StandardGoal, StandardPlan, StandardSet, deployment_name};
use crate::wait::Goal;

const C: Component = Component::Predictor;

/// The kind of InferenceService a rollout drives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Knative revisions: `canaryTrafficPercent`, the revision under test is the latest one.
    Knative,
    /// KServe 0.20+ Standard mode: one `spec.canary` entry, named `canary`; the recorded
    /// "revision" is that name.
    Standard { canary: String },
}

/// One step's write, as the loop asks it.
pub struct StepWrite<'a> {
    pub percent: i64,
    /// The first weight step: it brings the model in.
    pub first: bool,
    pub model: &'a str,
    /// The revision under test (Knative: after step 1, each write goes to it only).
    pub revision: Option<&'a str>,
    /// Knative: a smoke gate needs tag routing, switched on in step 1's patch.
    pub smoke: bool,
}

/// What a rollback ended on, for its message.
pub struct RolledBack {
    pub text: String,
}

fn write_args() -> WriteArgs {
    WriteArgs { wait: true, ..WriteArgs::default() }
}

impl Mode {
    /// The Standard canary's name: `--canary-name`, else the entry of this model when there is
    /// one, else derived from the model as `set` derives it.
    pub fn standard_for(isvc: &Isvc, model: &str, asked: Option<&str>) -> Result<Mode, Fail> {
        if let Some(n) = asked {
            crate::standard::check_canary_name(&isvc.name, n)?;
            if isvc.predictor_name() == Some(n) {
                return Err(Fail::new(
                    Exit::Usage,
                    format!("canary name '{n}' is the stable predictor's name: pass another --canary-name"),
                ));
            }
            return Ok(Mode::Standard { canary: n.to_string() });
        }
        let canaries = isvc.canaries();
        if let Some(same) = canaries.iter().find(|c| c.model_uri.as_deref() == Some(model)) {
            return Ok(Mode::Standard { canary: same.name.clone() });
        }
        let taken: Vec<&str> = canaries.iter().map(|c| c.name.as_str()).chain(isvc.predictor_name()).collect();
        Ok(Mode::Standard { canary: crate::standard::canary_name_from_model(&isvc.name, model, &taken) })
    }

    /// What Standard mode cannot run, checked before any write (exit 2): smoke and metric gates
    /// reach the InferenceService's URL and Knative's metrics, where no request of a canary is
    /// on KServe 0.20.0; and a plan whose first share is 100 (the canary is added, then promoted).
    pub fn check_plan(&self, plan: &Plan) -> Result<(), Fail> {
        let Mode::Standard { canary } = self else { return Ok(()) };
        let refused: Vec<&str> = plan
            .gates
            .iter()
            .filter_map(|g| match g {
                GateSpec::Smoke(_) => Some("smoke"),
                GateSpec::Metric(_) => Some("metric"),
                GateSpec::Exec { .. } => None,
            })
            .collect();
        if let Some(kind) = refused.first() {
            return Err(Fail::new(
                Exit::Usage,
                format!(
                    "{kind} gates are not available in Standard mode: they go through the InferenceService's URL and \
                     Knative's metrics, which reach no spec.canary variant on KServe 0.20.0; use an exec gate, which gets \
                     the canary's in-cluster URL (ISVC_CANARY_URL, http://ISVC-{canary}-predictor.NS.svc.cluster.local)"
                ),
            ));
        }
        let first = plan.steps.iter().find_map(|s| match s {
            Step::Weight { percent, .. } => Some(*percent),
            Step::Manual => None,
        });
        if first == Some(100) {
            return Err(Fail::new(
                Exit::Usage,
                "in Standard mode the first step must be below 100: the canary entry is added at a share, then promoted \
                 (or use `set NAME 100 --model-uri URI`)",
            ));
        }
        Ok(())
    }

    /// A weight step below 100 (Knative: also a first step of 100), waited as `set N --wait`.
    pub async fn set_step(&self, ctx: &Ctx, isvc: &Isvc, limits: WaitLimits, s: &StepWrite<'_>) -> Result<Applied> {
        let percent = s.percent;
        match self {
            Mode::Knative => {
                let write = write_args();
                let m = Mutation {
                    name: Some(isvc.name.as_str()),
                    pre_read: None,
                    component: Some(C),
                    write: &write,
                    wait: Some(limits),
                    // After step 1, each write goes only to the revision that was tested.
                    expect_revision: if s.first { None } else { s.revision.or(Some("")) },
                    verb: "canary set",
                };
                let goal =
                    move |_: &Isvc, _: &Change| if percent == 100 { Goal::Promoted } else { Goal::Split(percent) };
                let (model, smoke, first) = (s.model, s.smoke, s.first);
                let plan = move |isvc: &Isvc| {
                    let req = SetRequest {
                        component: C,
                        percent,
                        model_uri: first.then_some(model),
                        split_with_previous: false,
                        replace: false,
                    };
                    let mut p = plan_set(isvc, &req)?;
                    // Tag routing comes on in the same patch as the model when the smoke gate needs it.
                    if first
                        && smoke
                        && !isvc.tag_routing()
                        && let WritePlan::Write { change: Change::Traffic { tag_routing_on, .. }, notes } = &mut p
                    {
                        *tag_routing_on = true;
                        notes.push(
                            "tag routing is switched on in the same patch: the smoke gate needs the canary's own URL"
                                .into(),
                        );
                    }
                    Ok(p)
                };
                mutate::apply(ctx, m, plan, goal).await
            }
            Mode::Standard { canary } => {
                // Step 1 adds the entry with the model (found in place on a resume); the next
                // steps change the percent of that entry only (gone: exit 7).
                let req = StandardSet {
                    percent,
                    model_uri: s.first.then_some(s.model),
                    canary_name: Some(canary),
                    replace: false,
                };
                let (asked, model) = (canary.clone(), s.model.to_string());
                std_mode::apply(
                    ctx,
                    &isvc.namespace,
                    &isvc.name,
                    limits,
                    |i| crate::standard::plan_set(i, &req),
                    move |before, change| super::set::set_goal(before, change, percent, Some(&asked), Some(&model)),
                )
                .await
            }
        }
    }

    /// The last step: `promote --wait` of the canary under test.
    pub async fn promote(&self, ctx: &Ctx, isvc: &Isvc, limits: WaitLimits, revision: Option<&str>) -> Result<Applied> {
        match self {
            Mode::Knative => {
                let write = write_args();
                let m = Mutation {
                    name: Some(isvc.name.as_str()),
                    pre_read: None,
                    component: Some(C),
                    write: &write,
                    wait: Some(limits),
                    expect_revision: Some(revision.unwrap_or_default()),
                    verb: "promoted",
                };
                mutate::apply(ctx, m, |i| plan_promote(i, C, false), |_, _| Goal::Promoted).await
            }
            Mode::Standard { canary } => {
                let name = canary.clone();
                std_mode::apply(
                    ctx,
                    &isvc.namespace,
                    &isvc.name,
                    limits,
                    |i| standard_promote(i, canary),
                    move |before, change| match change.and_then(|c| c.promote.as_ref()) {
                        Some(p) => StandardGoal::Promoted {
                            name: p.name.clone(),
                            old_stable: deployment_name(&before.name, before.predictor_name()),
                        },
                        // Found in place (a resume): the canary is the stable predictor already;
                        // the old stable's name is not known here (no Deployment is named "").
                        None => StandardGoal::Promoted { name: name.clone(), old_stable: String::new() },
                    },
                )
                .await
            }
        }
    }

    /// `rollback --wait`: Knative pins all traffic to the stable revision; Standard removes the
    /// canary entry (its Deployment goes).
    pub async fn roll_back(
        &self,
        ctx: &Ctx,
        isvc: &Isvc,
        limits: WaitLimits,
        stable: Option<String>,
    ) -> Result<RolledBack> {
        match self {
            Mode::Knative => {
                let write = write_args();
                let m = Mutation {
                    name: Some(isvc.name.as_str()),
                    pre_read: None,
                    component: Some(C),
                    write: &write,
                    wait: Some(limits),
                    expect_revision: None,
                    verb: "rolled back",
                };
                let goal_target = std::sync::Mutex::new(None::<String>);
                let plan = |isvc: &Isvc| {
                    let (p, target) = plan_rollback(isvc, C)?;
                    if let Ok(mut g) = goal_target.lock() {
                        *g = Some(target);
                    }
                    Ok(p)
                };
                let fallback = stable.clone();
                let goal = |_: &Isvc, _: &Change| {
                    Goal::Pinned(goal_target.lock().ok().and_then(|g| g.clone()).or(fallback.clone()))
                };
                mutate::apply(ctx, m, plan, goal).await?;
                // The revision the rollback pinned all traffic to (the rollback's target).
                let to = goal_target.lock().ok().and_then(|g| g.clone()).or(stable).unwrap_or_default();
                Ok(RolledBack { text: format!("100% of traffic to {to}") })
            }
            Mode::Standard { canary } => {
                let name = canary.clone();
                std_mode::apply(
                    ctx,
                    &isvc.namespace,
                    &isvc.name,
                    limits,
                    |i| standard_rollback(i, canary),
                    move |_, _| StandardGoal::RolledBack { name: name.clone() },
                )
                .await?;
                let to = stable.unwrap_or_else(|| deployment_name(&isvc.name, isvc.predictor_name()));
                Ok(RolledBack { text: format!("the canary {canary} removed, {to} serves") })
            }
        }
    }

    /// The revision a step put under test: Knative's latest created revision, Standard's
    /// canary name.
    pub fn revision_of(&self, after: &Isvc) -> String {
        match self {
            Mode::Knative => after.component_status(C).lcr().to_string(),
            Mode::Standard { canary } => canary.clone(),
        }
    }

    /// What serves before the rollout (a rollback's target): Knative's rolled-out (else ready)
    /// revision; Standard's stable predictor (its name, or its Deployment's when unnamed).
    pub fn stable_of(&self, isvc: &Isvc) -> Option<String> {
        let stable = match self {
            Mode::Knative => {
                let s = isvc.component_status(C);
                if s.lro().is_empty() { s.lrr() } else { s.lro() }.to_string()
            }
            Mode::Standard { .. } => {
                isvc.predictor_name().map_or_else(|| deployment_name(&isvc.name, None), str::to_string)
            }
        };
        Some(stable).filter(|s| !s.is_empty())
    }

    /// Whether the rollout's model is in the spec (step 1's write took effect).
    pub fn model_in_spec(&self, isvc: &Isvc, model: &str) -> bool {
        match self {
            Mode::Knative => isvc.model_uri(C).as_deref() == Some(model),
            Mode::Standard { .. } => {
                isvc.canaries().iter().any(|c| c.model_uri.as_deref() == Some(model))
                    || isvc.model_uri(C).as_deref() == Some(model)
            }
        }
    }

    /// The URL gates get for the canary: Knative's `latest` tag URL (status); Standard's
    /// in-cluster Service of the canary variant.
    pub fn canary_url(&self, current: &Isvc) -> Option<String> {
        match self {
            Mode::Knative => current
                .component_status(C)
                .traffic
                .iter()
                .find(|t| t.tag.as_deref() == Some("latest"))
                .and_then(|t| t.url.clone()),
            Mode::Standard { canary } => Some(standard_canary_url(&current.name, &current.namespace, canary)),
        }
    }

    /// The split the live view shows.
    pub fn split(&self, isvc: &Isvc) -> String {
        match self {
            Mode::Knative => crate::wait::short_split(isvc, C),
            Mode::Standard { .. } => {
                let stable = isvc.predictor_name().unwrap_or("stable").to_string();
                let mut parts = vec![stable];
                parts.extend(isvc.canaries().iter().map(|c| format!("{} {}%", c.name, c.percent)));
                parts.join(", ")
            }
        }
    }
}

/// The canary's in-cluster URL: `http://{isvc}-{name}-predictor.{ns}.svc.cluster.local`.
pub fn standard_canary_url(isvc: &str, namespace: &str, canary: &str) -> String {
    format!("http://{}.{namespace}.svc.cluster.local", deployment_name(isvc, Some(canary)))
}

/// `promote --canary-name N`, found in place when N is the stable predictor already and has no
/// entry (a resume after the promotion's write).
fn standard_promote(isvc: &Isvc, canary: &str) -> Result<StandardPlan, Fail> {
    if isvc.predictor_name() == Some(canary) && !isvc.canaries().iter().any(|c| c.name == canary) {
        return Ok(StandardPlan::Unchanged { notes: vec![] });
    }
    crate::standard::plan_promote(isvc, Some(canary), false)
}

/// `rollback --canary-name N`, found in place when the entry is gone already.
fn standard_rollback(isvc: &Isvc, canary: &str) -> Result<StandardPlan, Fail> {
    if !isvc.canaries().iter().any(|c| c.name == canary) {
        return Ok(StandardPlan::Unchanged { notes: vec![] });
    }
    crate::standard::plan_rollback(isvc, Some(canary))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::plan::{Defaults, Smoke, parse_steps};
    use serde_json::json;
    use std::time::Duration;

    fn isvc(canary: serde_json::Value) -> Isvc {
        Isvc::from_value(json!({
            "metadata": {"name": "iris", "namespace": "t", "resourceVersion": "7"},
            "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "gs://m/v1"}},
                     "canary": canary},
            "status": {"deploymentMode": "Standard"}
        }))
    }

    fn plan(steps: &str, gates: Vec<GateSpec>) -> Plan {
        let d = Defaults {
            pause: Duration::ZERO,
            failure_limit: 1,
            interval: Duration::from_secs(10),
            metric: Default::default(),
        };
        Plan { steps: parse_steps(steps, d.pause).unwrap(), gates, failure_limit: 1, interval: d.interval }
    }

    #[test]
    fn the_canary_is_named_as_set_names_it() {
        let i = isvc(serde_json::Value::Null);
        assert_eq!(Mode::standard_for(&i, "gs://m/v3.joblib", None).unwrap(), Mode::Standard { canary: "v3".into() });
        assert_eq!(
            Mode::standard_for(&i, "gs://m/v3", Some("next")).unwrap(),
            Mode::Standard { canary: "next".into() }
        );
        assert_eq!(Mode::standard_for(&i, "gs://m/v3", Some("Bad_Name")).unwrap_err().exit, Exit::Usage);
        let mut named = i.raw.clone();
        named["spec"]["predictor"]["name"] = json!("v1");
        let named = Isvc::from_value(named);
        assert_eq!(Mode::standard_for(&named, "gs://m/v3", Some("v1")).unwrap_err().exit, Exit::Usage);
        // The model's entry already there (a rollout started by hand): its name.
        let i =
            isvc(json!([{"predictor": {"name": "cand", "model": {"storageUri": "gs://m/v3"}}, "trafficPercent": 10}]));
        assert_eq!(Mode::standard_for(&i, "gs://m/v3", None).unwrap(), Mode::Standard { canary: "cand".into() });
    }

    #[test]
    fn standard_mode_refuses_smoke_and_metric_gates_and_a_first_step_of_100() {
        let m = Mode::Standard { canary: "v2".into() };
        let smoke = GateSpec::Smoke(Smoke { input: None, protocol: None, status: 200, body: None });
        let err = m.check_plan(&plan("10,100", vec![smoke])).unwrap_err();
        assert_eq!(err.exit, Exit::Usage);
        assert!(err.message.contains("smoke gates are not available in Standard mode"), "{}", err.message);
        assert!(err.message.contains("exec gate"), "{}", err.message);
        assert_eq!(m.check_plan(&plan("100", vec![])).unwrap_err().exit, Exit::Usage);
        assert!(m.check_plan(&plan("10,50,100", vec![GateSpec::Exec { command: "true".into() }])).is_ok());
        assert!(Mode::Knative.check_plan(&plan("100", vec![])).is_ok());
    }

    #[test]
    fn a_standard_gate_gets_the_canary_s_in_cluster_url() {
        let m = Mode::Standard { canary: "v2".into() };
        let i = isvc(serde_json::Value::Null);
        assert_eq!(m.canary_url(&i).unwrap(), "http://iris-v2-predictor.t.svc.cluster.local");
        assert_eq!(m.revision_of(&i), "v2");
        assert_eq!(m.stable_of(&i).unwrap(), "iris-predictor");
    }

    #[test]
    fn promote_and_rollback_are_found_in_place() {
        let promoted = Isvc::from_value(json!({
            "metadata": {"name": "iris", "namespace": "t"},
            "spec": {"predictor": {"name": "v2", "model": {"storageUri": "gs://m/v2"}}},
            "status": {"deploymentMode": "Standard"}
        }));
        assert_eq!(standard_promote(&promoted, "v2").unwrap(), StandardPlan::Unchanged { notes: vec![] });
        assert_eq!(standard_rollback(&promoted, "v2").unwrap(), StandardPlan::Unchanged { notes: vec![] });
        let i =
            isvc(json!([{"predictor": {"name": "v2", "model": {"storageUri": "gs://m/v2"}}, "trafficPercent": 50}]));
        let StandardPlan::Write { change, .. } = standard_rollback(&i, "v2").unwrap() else { panic!() };
        assert_eq!(change.merge_patch("7")["spec"], json!({"canary": null}));
    }
}
