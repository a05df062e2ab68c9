//! Standard (RawDeployment) mode canaries, KServe 0.20+: `spec.canary[]`, named predictor
//! variants each with a `trafficPercent` (kserve-facts §4.7). Pure reading, naming, guard rails
//! and patch building; the commands call these as they call `rules` in Knative mode.
//!
//! `spec.canary` is an atomic list, so every patch carries the whole list: the entries it does
//! not change go back exactly as read.

use serde_json::{Value, json};

use crate::error::{Exit, Fail};
use crate::isvc::{Component, Isvc, ModelField};

/// The pod label value is `isvc.{isvc}-{name}-predictor` and must fit in 63 characters.
const MAX_NAMES_LEN: usize = 47;

/// One `spec.canary` entry as read.
#[derive(Debug, Clone, PartialEq)]
pub struct Canary {
    pub name: String,
    pub model_uri: Option<String>,
    pub percent: i64,
    /// The entry exactly as read, to send back unchanged.
    pub raw: Value,
}

/// One `status.canaryStatuses` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanaryStatus {
    pub name: String,
    pub ready: bool,
    pub traffic_percent: Option<i64>,
}

/// The storage URI of a predictor spec, in the `model` field or a legacy framework field.
fn storage_uri(predictor: &Value) -> Option<String> {
    let holder = predictor
        .get("model")
        .filter(|m| m.is_object())
        .or_else(|| crate::isvc::FRAMEWORK_FIELDS.iter().find_map(|fw| predictor.get(*fw).filter(|v| v.is_object())))?;
    holder.get("storageUri")?.as_str().map(str::to_string)
}

impl Isvc {
    /// `spec.canary`, in order.
    pub fn canaries(&self) -> Vec<Canary> {
        let entries = self.raw.pointer("/spec/canary").and_then(Value::as_array).cloned().unwrap_or_default();
        entries
            .into_iter()
            .map(|raw| Canary {
                name: raw.pointer("/predictor/name").and_then(Value::as_str).unwrap_or_default().to_string(),
                model_uri: raw.get("predictor").and_then(storage_uri),
                percent: raw.get("trafficPercent").and_then(Value::as_i64).unwrap_or(0),
                raw,
            })
            .collect()
    }

    /// `status.canaryStatuses`.
    pub fn canary_statuses(&self) -> Vec<CanaryStatus> {
        let entries = self.raw.pointer("/status/canaryStatuses").and_then(Value::as_array);
        entries
            .into_iter()
            .flatten()
            .map(|s| CanaryStatus {
                name: s.get("name").and_then(Value::as_str).unwrap_or_default().to_string(),
                ready: s.get("ready").and_then(Value::as_bool).unwrap_or(false),
                traffic_percent: s.get("trafficPercent").and_then(Value::as_i64),
            })
            .collect()
    }

    /// `spec.predictor.name`: the stable variant's name, if it has one.
    pub fn predictor_name(&self) -> Option<&str> {
        self.raw.pointer("/spec/predictor/name").and_then(Value::as_str).filter(|n| !n.is_empty())
    }
}

/// The Deployment (and Service) of a predictor variant: `{isvc}-predictor` for an unnamed stable
/// predictor, `{isvc}-{name}-predictor` for a named one or a canary.
pub fn deployment_name(isvc: &str, variant: Option<&str>) -> String {
    match variant {
        Some(name) => format!("{isvc}-{name}-predictor"),
        None => format!("{isvc}-predictor"),
    }
}

/// The label selector of a variant's pods (`app=isvc.{deployment}`).
pub fn variant_pod_selector(isvc: &str, variant: Option<&str>) -> String {
    format!("app=isvc.{}", deployment_name(isvc, variant))
}

/// A canary name KServe accepts (`^[a-z]([-a-z0-9]*[a-z0-9])?$`) whose pod label fits.
pub fn check_canary_name(isvc: &str, name: &str) -> Result<(), Fail> {
    let b = name.as_bytes();
    let pattern = !b.is_empty()
        && b[0].is_ascii_lowercase()
        && (b[b.len() - 1].is_ascii_lowercase() || b[b.len() - 1].is_ascii_digit())
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
    if !pattern {
        return Err(Fail::new(
            Exit::Usage,
            format!(
                "invalid canary name '{}': it is lowercase letters, digits and '-', starts with a letter and ends with a letter or digit",
                crate::output::sanitize(name)
            ),
        ));
    }
    if isvc.len() + name.len() > MAX_NAMES_LEN {
        return Err(Fail::new(
            Exit::Usage,
            format!(
                "canary name '{name}' is too long for {isvc}: the two together may have at most {MAX_NAMES_LEN} characters \
                 (the pod label app=isvc.{isvc}-{name}-predictor must fit in 63); pass a shorter --canary-name"
            ),
        ));
    }
    Ok(())
}

/// The canary name derived from a model URI: its last path segment that says something
/// (`gs://b/models/sklearn/2.0/model` ⇒ `v2-0`), made valid and short enough, and not one of
/// `taken`.
pub fn canary_name_from_model(isvc: &str, uri: &str, taken: &[&str]) -> String {
    const GENERIC: &[&str] = &["model", "models", "artifacts", "latest", "saved_model", "1", "0"];
    let path = uri.split_once("://").map_or(uri, |(_, rest)| rest);
    // A file's extension says nothing (`v3.joblib` ⇒ `v3`); a version's dot does (`2.0`).
    let stem = |s: &'_ str| -> String {
        match s.rsplit_once('.') {
            Some((stem, ext))
                if !stem.is_empty()
                    && ext.len() <= 12
                    && ext.chars().all(|c| c.is_ascii_alphanumeric())
                    && ext.chars().any(|c| c.is_ascii_alphabetic()) =>
            {
                stem.to_string()
            }
            _ => s.to_string(),
        }
    };
    let segment = path
        .rsplit('/')
        .map(stem)
        .find(|s| !s.is_empty() && !GENERIC.contains(&s.to_ascii_lowercase().as_str()))
        .unwrap_or_else(|| "canary".to_string());
    let mut name = String::new();
    for c in segment.chars().map(|c| c.to_ascii_lowercase()) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            name.push(c);
        } else if !name.ends_with('-') {
            name.push('-');
        }
    }
    let mut name = name.trim_matches('-').to_string();
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        name.insert(0, 'v');
    }
    let room = MAX_NAMES_LEN.saturating_sub(isvc.len()).max(1);
    let fit = |mut s: String, room: usize| {
        s.truncate(room);
        s.trim_end_matches('-').to_string()
    };
    let base = fit(name, room);
    if !taken.contains(&base.as_str()) {
        return base;
    }
    (2..)
        .map(|n| {
            let suffix = format!("-{n}");
            format!("{}{suffix}", fit(base.clone(), room.saturating_sub(suffix.len())))
        })
        .find(|candidate| !taken.contains(&candidate.as_str()))
        .unwrap_or(base)
}

/// What a Standard-mode mutation writes: the whole new `spec.canary` list (`None` removes the
/// field) and, for promote, the stable predictor's new name and model.
#[derive(Debug, Clone, PartialEq)]
pub struct CanaryChange {
    pub canaries: Option<Vec<Value>>,
    pub promote: Option<Promotion>,
}

/// The stable predictor takes the canary's name and model: KServe then keeps the canary's pods
/// as the stable ones (no restart) and deletes the old stable Deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promotion {
    pub name: String,
    pub field: ModelField,
    pub model_uri: String,
}

impl CanaryChange {
    /// The JSON merge patch, with the read's resourceVersion as precondition.
    pub fn merge_patch(&self, resource_version: &str) -> Value {
        let mut patch = json!({"metadata": {"resourceVersion": resource_version}, "spec": {
            "canary": self.canaries.clone().map_or(Value::Null, Value::Array)
        }});
        if let Some(p) = &self.promote {
            let holder = match &p.field {
                ModelField::Framework(fw) => fw.as_str(),
                _ => "model",
            };
            patch["spec"]["predictor"] = json!({"name": p.name, holder: {"storageUri": p.model_uri}});
        }
        patch
    }
}

/// What `set` asked, in Standard mode.
#[derive(Debug, Clone, Copy)]
pub struct StandardSet<'a> {
    pub percent: i64,
    pub model_uri: Option<&'a str>,
    pub canary_name: Option<&'a str>,
    pub replace: bool,
}

/// A Standard-mode decision: nothing to do, or one change, with notes to show first.
#[derive(Debug, Clone, PartialEq)]
pub enum StandardPlan {
    Unchanged { notes: Vec<String> },
    Write { change: CanaryChange, notes: Vec<String> },
}

fn refuse(message: impl Into<String>) -> Fail {
    Fail::new(Exit::Refused, message)
}

/// The canary a command acts on: the one named, or the only one.
fn pick<'a>(isvc: &Isvc, canaries: &'a [Canary], name: Option<&str>, verb: &str) -> Result<Option<&'a Canary>, Fail> {
    match name {
        Some(n) => Ok(canaries.iter().find(|c| c.name == n)),
        None if canaries.len() > 1 => Err(refuse(format!(
            "{} has {} canaries ({}): pass --canary-name to say which to {verb}",
            isvc.name,
            canaries.len(),
            canaries.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
        ))),
        None => Ok(canaries.first()),
    }
}

/// The list with one entry replaced (or added), the others as read.
fn with_entry(canaries: &[Canary], name: &str, entry: Value) -> Vec<Value> {
    let mut list: Vec<Value> = canaries.iter().filter(|c| c.name != name).map(|c| c.raw.clone()).collect();
    let at = canaries.iter().position(|c| c.name == name).unwrap_or(list.len());
    list.insert(at.min(list.len()), entry);
    list
}

fn without_entry(canaries: &[Canary], name: &str) -> Option<Vec<Value>> {
    let list: Vec<Value> = canaries.iter().filter(|c| c.name != name).map(|c| c.raw.clone()).collect();
    (!list.is_empty()).then_some(list)
}

/// A new canary entry: the stable model's format with the new URI (canaries are not defaulted).
fn new_entry(isvc: &Isvc, name: &str, uri: &str, percent: i64) -> Value {
    let p = Component::Predictor;
    let format = match isvc.model_field(p) {
        ModelField::Framework(fw) => json!({"name": fw}),
        _ => isvc.raw.pointer("/spec/predictor/model/modelFormat").cloned().unwrap_or(Value::Null),
    };
    let mut model = json!({"storageUri": uri});
    if !format.is_null() {
        model["modelFormat"] = format;
    }
    json!({"predictor": {"name": name, "model": model}, "trafficPercent": percent})
}

/// `set PERCENT [--model-uri URI] [--canary-name N]` on a Standard-mode InferenceService.
pub fn plan_set(isvc: &Isvc, req: &StandardSet<'_>) -> Result<StandardPlan, Fail> {
    let canaries = isvc.canaries();
    if req.percent == 100 && req.model_uri.is_none() {
        return plan_promote(isvc, req.canary_name, false);
    }
    let stable_model = isvc.model_uri(Component::Predictor);
    let Some(uri) = req.model_uri else {
        let Some(canary) = pick(isvc, &canaries, req.canary_name, "set")? else {
            return Err(refuse(match req.canary_name {
                Some(n) => format!("{} has no canary named {n}: pass --model-uri to start one", isvc.name),
                None => format!("{} has no canary: pass --model-uri to start one", isvc.name),
            }));
        };
        if canary.percent == req.percent {
            return Ok(StandardPlan::Unchanged { notes: vec![] });
        }
        check_total(isvc, &canaries, &canary.name, req.percent)?;
        let mut entry = canary.raw.clone();
        entry["trafficPercent"] = json!(req.percent);
        return Ok(write(with_entry(&canaries, &canary.name, entry), routing_notes(req.percent)));
    };
    if isvc.model_field(Component::Predictor) == ModelField::None {
        return Err(refuse(format!(
            "the predictor of {} has no storage URI (a custom container, or no model): KServe's canaries need a stable model",
            isvc.name
        )));
    }
    if stable_model.as_deref() == Some(uri) {
        return Err(refuse(format!(
            "{uri} is already the stable model of {}: a canary of it would change nothing",
            isvc.name
        )));
    }
    // The same model already has a canary: this is a percent change of that one.
    if let Some(same) = canaries.iter().find(|c| c.model_uri.as_deref() == Some(uri))
        && req.canary_name.is_none_or(|n| n == same.name)
    {
        let name = same.name.clone();
        return plan_set(isvc, &StandardSet { model_uri: None, canary_name: Some(&name), ..*req });
    }
    let stable_name = isvc.predictor_name();
    let name = match req.canary_name {
        Some(n) => n.to_string(),
        None => {
            let taken: Vec<&str> = canaries.iter().map(|c| c.name.as_str()).chain(stable_name).collect();
            canary_name_from_model(&isvc.name, uri, &taken)
        }
    };
    check_canary_name(&isvc.name, &name)?;
    if stable_name == Some(name.as_str()) {
        return Err(Fail::new(
            Exit::Usage,
            format!("canary name '{name}' is the stable predictor's name: pass another --canary-name"),
        ));
    }
    // Another model's canary would be dropped (the one named, or the only one when none is).
    let replaced: Vec<&Canary> = match req.canary_name {
        Some(n) => canaries.iter().filter(|c| c.name == n).collect(),
        None => canaries.iter().collect(),
    };
    let mut notes = routing_notes(req.percent);
    let mut list: Vec<Value> = canaries.iter().map(|c| c.raw.clone()).collect();
    if let Some(other) = replaced.first() {
        if !req.replace {
            return Err(refuse(format!(
                "a canary of {} ({}) is at {}%: setting another model would drop it; promote or roll it back first, or pass --replace",
                other.model_uri.as_deref().unwrap_or("another model"),
                other.name,
                other.percent
            )));
        }
        notes.push(format!(
            "the canary {} ({}) is dropped (--replace)",
            other.name,
            other.model_uri.as_deref().unwrap_or("-")
        ));
        let gone: Vec<&str> = replaced.iter().map(|c| c.name.as_str()).collect();
        list = canaries.iter().filter(|c| !gone.contains(&c.name.as_str())).map(|c| c.raw.clone()).collect();
    }
    let kept: Vec<Canary> = canaries.iter().filter(|c| list.contains(&c.raw)).cloned().collect();
    check_total(isvc, &kept, &name, req.percent)?;
    list.push(new_entry(isvc, &name, uri, req.percent));
    Ok(write(list, notes))
}

fn write(list: Vec<Value>, notes: Vec<String>) -> StandardPlan {
    StandardPlan::Write { change: CanaryChange { canaries: Some(list), promote: None }, notes }
}

/// KServe refuses a sum above 100; say it before sending.
fn check_total(isvc: &Isvc, canaries: &[Canary], name: &str, percent: i64) -> Result<(), Fail> {
    let others: i64 = canaries.iter().filter(|c| c.name != name).map(|c| c.percent).sum();
    if others + percent > 100 {
        return Err(refuse(format!(
            "the canaries of {} would add up to {}% ({percent}% here, {others}% on the others): KServe allows at most 100%",
            isvc.name,
            others + percent
        )));
    }
    Ok(())
}

/// KServe 0.20.0 sizes the canary by the percent but routes no request to it (§4.7).
fn routing_notes(percent: i64) -> Vec<String> {
    if percent == 0 {
        vec!["0% is a dark launch: the canary runs with no traffic".to_string()]
    } else {
        vec![format!(
            "KServe sizes the canary's replicas by {percent}%; whether requests reach it depends on the KServe release (`status` shows the actual routing)"
        )]
    }
}

/// `promote`: the canary becomes the stable predictor.
pub fn plan_promote(isvc: &Isvc, canary_name: Option<&str>, force: bool) -> Result<StandardPlan, Fail> {
    let canaries = isvc.canaries();
    let Some(canary) = pick(isvc, &canaries, canary_name, "promote")? else {
        return match canary_name {
            Some(n) => Err(refuse(format!("{} has no canary named {n}", isvc.name))),
            None => Ok(StandardPlan::Unchanged { notes: vec![] }),
        };
    };
    let Some(uri) = canary.model_uri.clone() else {
        return Err(refuse(format!(
            "the canary {} of {} has no storage URI: promote it by hand (set predictor.name and the stable model, remove the entry)",
            canary.name, isvc.name
        )));
    };
    let mut notes = Vec::new();
    let ready = isvc.canary_statuses().iter().any(|s| s.name == canary.name && s.ready);
    if !ready {
        if !force {
            return Err(refuse(format!(
                "the canary {} is not ready: promoting would make it the stable predictor anyway; wait for it, roll back, or pass --force",
                canary.name
            )));
        }
        notes.push(format!("promoting {} although it is not ready (--force)", canary.name));
    }
    let field = match isvc.model_field(Component::Predictor) {
        ModelField::None => ModelField::Model,
        f => f,
    };
    Ok(StandardPlan::Write {
        change: CanaryChange {
            canaries: without_entry(&canaries, &canary.name),
            promote: Some(Promotion { name: canary.name.clone(), field, model_uri: uri }),
        },
        notes,
    })
}

/// `rollback`: the canary entry is removed; its Deployment goes and the stable replicas come back.
pub fn plan_rollback(isvc: &Isvc, canary_name: Option<&str>) -> Result<StandardPlan, Fail> {
    let canaries = isvc.canaries();
    let Some(canary) = pick(isvc, &canaries, canary_name, "roll back")? else {
        return Err(refuse(match canary_name {
            Some(n) => format!("{} has no canary named {n}: nothing to roll back", isvc.name),
            None => format!("{} has no canary: nothing to roll back", isvc.name),
        }));
    };
    Ok(StandardPlan::Write {
        change: CanaryChange { canaries: without_entry(&canaries, &canary.name), promote: None },
        notes: vec![],
    })
}

/// `tag-routing` has nothing to act on in Standard mode.
pub fn refuse_tag_routing(isvc: &Isvc) -> Fail {
    refuse(format!(
        "{} runs in Standard mode, which has no revisions and no tag routing: each canary has its own Service, \
         {}.{}.svc (`status` shows it)",
        isvc.name,
        deployment_name(&isvc.name, Some("NAME")),
        isvc.namespace
    ))
}

/// A Deployment as the Standard-mode waits and `status` read it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeploymentState {
    pub name: String,
    /// `spec.replicas`, the count asked for.
    pub desired: i64,
    pub updated: i64,
    pub ready: i64,
    /// `status.replicas`: pods of every ReplicaSet, old ones still terminating included.
    pub total: i64,
    /// `status.observedGeneration` has caught up with `metadata.generation`.
    pub observed: bool,
    /// `Progressing=False` with `ProgressDeadlineExceeded`: its message.
    pub deadline_exceeded: Option<String>,
}

impl DeploymentState {
    pub fn from_value(d: &Value) -> DeploymentState {
        let int = |ptr: &str| d.pointer(ptr).and_then(Value::as_i64).unwrap_or(0);
        let conditions = d.pointer("/status/conditions").and_then(Value::as_array);
        let deadline_exceeded = conditions.into_iter().flatten().find_map(|c| {
            let field = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or_default();
            (field("type") == "Progressing"
                && field("status") == "False"
                && field("reason") == "ProgressDeadlineExceeded")
                .then(|| field("message").to_string())
        });
        DeploymentState {
            name: d.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string(),
            desired: d.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1),
            updated: int("/status/updatedReplicas"),
            ready: int("/status/readyReplicas"),
            total: int("/status/replicas"),
            observed: int("/status/observedGeneration") >= int("/metadata/generation"),
            deadline_exceeded,
        }
    }

    /// Rolled out as `kubectl rollout status` judges it: every replica updated and ready, no old
    /// one left.
    pub fn rolled_out(&self) -> bool {
        self.observed && self.updated == self.desired && self.ready == self.desired && self.total == self.desired
    }
}

/// What "done" means for a Standard-mode change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StandardGoal {
    /// `set N`: the canary ready at N%, both Deployments rolled out.
    Canary { name: String, percent: i64 },
    /// `promote`: no entry, the stable predictor carries the canary's name, the old stable
    /// Deployment is gone, the predictor Ready.
    Promoted { name: String, old_stable: String },
    /// `rollback`: the entry and its Deployment gone, the stable Deployment rolled out.
    RolledBack { name: String },
    /// `wait --for promoted|rolled-back`: no canary entry, no predictor Deployment but the
    /// stable one, the stable rolled out and the predictor Ready.
    NoCanary,
    /// `wait --for ready`: Ready, the stable Deployment rolled out.
    Ready,
}

impl StandardGoal {
    /// The variant whose pods the failure signals are read from: the canary that comes up, the
    /// promoted (now stable) variant, or the stable one.
    pub fn watched_variant(&self, isvc: &Isvc) -> Option<String> {
        match self {
            StandardGoal::Canary { name, .. } | StandardGoal::Promoted { name, .. } => Some(name.clone()),
            _ => isvc.predictor_name().map(str::to_string),
        }
    }
}

/// The done rule on one read of the object and its predictor Deployments.
pub fn judge(isvc: &Isvc, goal: &StandardGoal, deployments: &[DeploymentState]) -> Result<(), String> {
    let find = |name: &str| deployments.iter().find(|d| d.name == name);
    let stable = deployment_name(&isvc.name, isvc.predictor_name());
    let sizes = expected_replicas(isvc);
    let rolled_out = |name: &str| match find(name) {
        // KServe's size not yet applied (an HPA that has not scaled the Deployment yet).
        Some(d) if sizes.get(name).is_some_and(|want| d.desired < *want) => {
            Err(format!("waiting for {name} to be sized to {} replicas ({} now)", sizes[name], d.desired))
        }
        Some(d) if d.rolled_out() => Ok(()),
        Some(d) => Err(format!("waiting for {name}: {}/{} ready, {} updated", d.ready, d.desired, d.updated)),
        None => Err(format!("waiting for Deployment {name}")),
    };
    match goal {
        StandardGoal::Canary { name, percent } => {
            let status = isvc.canary_statuses().into_iter().find(|s| &s.name == name);
            match status {
                // 0% is a dark launch: ceil(stable × 0 / 100) = 0 replicas, never `ready`.
                Some(s) if (s.ready || *percent == 0) && s.traffic_percent == Some(*percent) => {}
                Some(s) if s.traffic_percent != Some(*percent) => {
                    return Err(format!("waiting for KServe to size the canary {name} for {percent}%"));
                }
                _ => return Err(format!("waiting for the canary {name} to be ready")),
            }
            rolled_out(&deployment_name(&isvc.name, Some(name)))?;
            rolled_out(&stable)?;
            // KServe's own verdict last: its status can lag the resized stable Deployment.
            ready(isvc)
        }
        StandardGoal::Promoted { name, old_stable } => {
            if isvc.canaries().iter().any(|c| &c.name == name) || isvc.predictor_name() != Some(name.as_str()) {
                return Err(format!("waiting for {name} to become the stable predictor"));
            }
            if find(old_stable).is_some() {
                return Err(format!("waiting for the old stable Deployment {old_stable} to be removed"));
            }
            if isvc.condition("PredictorReady").map(|c| c.status.as_str()) != Some("True") {
                return Err("waiting for PredictorReady".to_string());
            }
            rolled_out(&stable)
        }
        StandardGoal::RolledBack { name } => {
            let canary = deployment_name(&isvc.name, Some(name));
            if isvc.canaries().iter().any(|c| &c.name == name) || find(&canary).is_some() {
                return Err(format!("waiting for the canary {name} and its Deployment {canary} to be removed"));
            }
            rolled_out(&stable)?;
            ready(isvc)
        }
        StandardGoal::NoCanary => {
            if let Some(c) = isvc.canaries().first() {
                return Err(format!("waiting for the canary {} to be promoted or rolled back", c.name));
            }
            if let Some(other) = deployments.iter().find(|d| d.name != stable && d.name.ends_with("-predictor")) {
                return Err(format!("waiting for Deployment {} to be removed", other.name));
            }
            if isvc.condition("PredictorReady").map(|c| c.status.as_str()) != Some("True") {
                return Err("waiting for PredictorReady".to_string());
            }
            rolled_out(&stable)
        }
        StandardGoal::Ready => {
            if isvc.ready() != "True" {
                return Err("waiting for Ready".to_string());
            }
            rolled_out(&stable)
        }
    }
}

/// The InferenceService's `Ready` (KServe: `PredictorReady` and `IngressReady`).
fn ready(isvc: &Isvc) -> Result<(), String> {
    match isvc.ready() {
        "True" => Ok(()),
        _ => Err("waiting for the InferenceService to be Ready".to_string()),
    }
}

/// The replicas KServe 0.20 gives each predictor Deployment (facts §4.7): a canary its own
/// `minReplicas`, else ⌈stable minReplicas (default 1) × percent / 100⌉; the stable one, when its
/// `minReplicas` is set, that less the canaries' replicas (at least 1). A Deployment must have at
/// least these (an HPA may add more); a stable without `minReplicas` has no expectation.
pub fn expected_replicas(isvc: &Isvc) -> std::collections::BTreeMap<String, i64> {
    let stable_min = isvc.raw.pointer("/spec/predictor/minReplicas").and_then(Value::as_i64);
    let base = stable_min.unwrap_or(1);
    let mut out = std::collections::BTreeMap::new();
    let mut taken = 0;
    for c in isvc.canaries() {
        let count = match c.raw.pointer("/predictor/minReplicas").and_then(Value::as_i64) {
            Some(n) => n,
            None => (base * c.percent + 99) / 100,
        };
        taken += count;
        out.insert(deployment_name(&isvc.name, Some(&c.name)), count);
    }
    if let Some(min) = stable_min {
        out.insert(deployment_name(&isvc.name, isvc.predictor_name()), (min - taken).max(1));
    }
    out
}

/// Why a canary will not come up, from its pods and Deployment (contract, Standard mode):
/// CrashLoopBackOff, ImagePullBackOff/ErrImagePull, Unschedulable, ProgressDeadlineExceeded.
/// `CanariesNotReady` alone only means "no available replica yet": not a failure.
pub fn canary_failure(deployment: Option<&DeploymentState>, pods: &[Value]) -> Option<String> {
    if let Some(message) = deployment.and_then(|d| d.deadline_exceeded.as_deref()) {
        return Some(format!("ProgressDeadlineExceeded: {message}"));
    }
    pods.iter().find_map(|pod| {
        let name = pod.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("a pod");
        let unschedulable =
            pod.pointer("/status/conditions").and_then(Value::as_array).into_iter().flatten().find(|c| {
                c.get("type").and_then(Value::as_str) == Some("PodScheduled")
                    && c.get("reason").and_then(Value::as_str) == Some("Unschedulable")
            });
        if let Some(c) = unschedulable {
            let message = c.get("message").and_then(Value::as_str).unwrap_or_default();
            return Some(format!("{name} Unschedulable: {message}"));
        }
        let statuses = ["/status/initContainerStatuses", "/status/containerStatuses"]
            .into_iter()
            .filter_map(|ptr| pod.pointer(ptr).and_then(Value::as_array))
            .flatten();
        statuses.into_iter().find_map(|cs| {
            let waiting = cs.pointer("/state/waiting")?;
            let reason = waiting.get("reason").and_then(Value::as_str)?;
            ["CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull"].contains(&reason).then(|| {
                let message = waiting.get("message").and_then(Value::as_str).unwrap_or_default();
                format!("{name} {reason}: {message}").trim_end_matches([':', ' ']).to_string()
            })
        })
    })
}

/// Where requests to the InferenceService's URL go: the backend Services of the HTTPRoute KServe
/// made, with their weights (Gateway API's default weight is 1).
pub fn route_backends(route: &Value) -> Vec<(String, i64)> {
    let rules = route.pointer("/spec/rules").and_then(Value::as_array).into_iter().flatten();
    let mut out: Vec<(String, i64)> = Vec::new();
    for backend in rules.filter_map(|r| r.get("backendRefs").and_then(Value::as_array)).flatten() {
        let Some(name) = backend.get("name").and_then(Value::as_str) else { continue };
        let weight = backend.get("weight").and_then(Value::as_i64).unwrap_or(1);
        if !out.iter().any(|(n, _)| n == name) {
            out.push((name.to_string(), weight));
        }
    }
    out
}

/// The share of requests through the InferenceService's URL that reaches a variant's Service,
/// in percent, from the route's backends.
pub fn routed_percent(backends: &[(String, i64)], service: &str) -> i64 {
    let total: i64 = backends.iter().map(|(_, w)| w).sum();
    let mine: i64 = backends.iter().filter(|(n, _)| n == service).map(|(_, w)| w).sum();
    if total == 0 { 0 } else { (mine * 100 + total / 2) / total }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M1: &str = "gs://kfserving-examples/models/sklearn/1.0/model";
    const M2: &str = "gs://kfserving-examples/models/sklearn/2.0/model";
    const M3: &str = "gs://bucket/iris/v3.joblib";

    fn isvc(canaries: Value, statuses: Value) -> Isvc {
        Isvc::from_value(json!({
            "metadata": {"name": "iris", "namespace": "t", "resourceVersion": "7",
                         "annotations": {"serving.kserve.io/deploymentMode": "Standard"}},
            "spec": {"predictor": {"minReplicas": 4, "model": {"modelFormat": {"name": "sklearn"}, "storageUri": M1}},
                     "canary": canaries},
            "status": {"deploymentMode": "Standard", "canaryStatuses": statuses,
                       "conditions": [{"type": "Ready", "status": "True"}]}
        }))
    }

    fn entry(name: &str, uri: &str, percent: i64) -> Value {
        json!({"predictor": {"name": name, "model": {"modelFormat": {"name": "sklearn"}, "storageUri": uri}}, "trafficPercent": percent})
    }

    fn req<'a>(
        percent: i64,
        model_uri: Option<&'a str>,
        canary_name: Option<&'a str>,
        replace: bool,
    ) -> StandardSet<'a> {
        StandardSet { percent, model_uri, canary_name, replace }
    }

    fn written(plan: StandardPlan) -> CanaryChange {
        match plan {
            StandardPlan::Write { change, .. } => change,
            other => panic!("expected a write, got {other:?}"),
        }
    }

    #[test]
    fn names_come_from_the_model_and_fit_the_label() {
        assert_eq!(canary_name_from_model("iris", M2, &[]), "v2-0");
        assert_eq!(canary_name_from_model("iris", M3, &[]), "v3");
        assert_eq!(canary_name_from_model("iris", "s3://b/Fraud_Model_V7/", &[]), "fraud-model-v7");
        assert_eq!(canary_name_from_model("iris", M2, &["v2-0"]), "v2-0-2");
        let long = "a".repeat(45);
        let name = canary_name_from_model(&long, "gs://b/something-long", &[]);
        assert!(long.len() + name.len() <= MAX_NAMES_LEN, "{name}");
        assert!(check_canary_name(&long, &name).is_ok());
        assert!(check_canary_name("iris", "2bad").is_err());
        assert!(check_canary_name("iris", "bad-").is_err());
        assert!(check_canary_name("iris", &"a".repeat(44)).is_err());
        assert_eq!(variant_pod_selector("iris", Some("v2")), "app=isvc.iris-v2-predictor");
    }

    #[test]
    fn a_new_model_adds_an_entry_with_the_stable_format() {
        let i = isvc(Value::Null, Value::Null);
        let change = written(plan_set(&i, &req(25, Some(M2), None, false)).unwrap());
        assert_eq!(change.canaries, Some(vec![entry("v2-0", M2, 25)]));
        assert_eq!(
            change.merge_patch("7"),
            json!({"metadata": {"resourceVersion": "7"}, "spec": {"canary": [entry("v2-0", M2, 25)]}})
        );
    }

    #[test]
    fn without_a_model_the_one_canary_changes_percent_and_others_go_back_as_read() {
        let mut odd = entry("v3", M3, 10);
        odd["predictor"]["minReplicas"] = json!(1);
        let i = isvc(json!([entry("v2", M2, 20), odd.clone()]), Value::Null);
        assert!(plan_set(&i, &req(30, None, None, false)).is_err(), "two canaries need --canary-name");
        let change = written(plan_set(&i, &req(30, None, Some("v2"), false)).unwrap());
        assert_eq!(change.canaries, Some(vec![entry("v2", M2, 30), odd]));
        let one = isvc(json!([entry("v2", M2, 20)]), Value::Null);
        assert_eq!(plan_set(&one, &req(20, None, None, false)).unwrap(), StandardPlan::Unchanged { notes: vec![] });
        let again = written(plan_set(&one, &req(0, Some(M2), None, false)).unwrap());
        assert_eq!(
            again.canaries,
            Some(vec![entry("v2", M2, 0)]),
            "the same model is a percent change, 0 a dark launch"
        );
    }

    #[test]
    fn guard_rails_refuse_with_what_to_do() {
        let none = isvc(Value::Null, Value::Null);
        let e = plan_set(&none, &req(10, None, None, false)).unwrap_err();
        assert!(e.message.contains("--model-uri"), "{}", e.message);
        let e = plan_set(&none, &req(10, Some(M1), None, false)).unwrap_err();
        assert!(e.message.contains("already the stable model"), "{}", e.message);
        let one = isvc(json!([entry("v2", M2, 20)]), Value::Null);
        let e = plan_set(&one, &req(10, Some(M3), None, false)).unwrap_err();
        assert!(e.message.contains("--replace"), "{}", e.message);
        let replaced = written(plan_set(&one, &req(10, Some(M3), None, true)).unwrap());
        assert_eq!(replaced.canaries, Some(vec![entry("v3", M3, 10)]));
        let two = isvc(json!([entry("v2", M2, 60)]), Value::Null);
        let added = plan_set(&two, &req(50, Some(M3), Some("v3"), false));
        assert!(added.unwrap_err().message.contains("110%"));
    }

    #[test]
    fn promote_takes_the_canary_s_name_and_model_and_removes_it() {
        let i = isvc(json!([entry("v2", M2, 20)]), json!([{"name": "v2", "ready": true, "trafficPercent": 20}]));
        let change = written(plan_promote(&i, None, false).unwrap());
        assert_eq!(
            change.merge_patch("7"),
            json!({"metadata": {"resourceVersion": "7"},
                   "spec": {"canary": null, "predictor": {"name": "v2", "model": {"storageUri": M2}}}})
        );
        let unready = isvc(json!([entry("v2", M2, 20)]), json!([{"name": "v2", "ready": false}]));
        assert!(plan_promote(&unready, None, false).unwrap_err().message.contains("not ready"));
        assert!(plan_promote(&unready, None, true).is_ok());
        assert_eq!(
            plan_promote(&isvc(Value::Null, Value::Null), None, false).unwrap(),
            StandardPlan::Unchanged { notes: vec![] }
        );
    }

    #[test]
    fn rollback_removes_only_the_entry_asked() {
        let i = isvc(json!([entry("v2", M2, 20), entry("v3", M3, 10)]), Value::Null);
        let change = written(plan_rollback(&i, Some("v3")).unwrap());
        assert_eq!(change.canaries, Some(vec![entry("v2", M2, 20)]));
        let one = isvc(json!([entry("v2", M2, 20)]), Value::Null);
        assert_eq!(written(plan_rollback(&one, None).unwrap()).merge_patch("7")["spec"], json!({"canary": null}));
        assert!(plan_rollback(&isvc(Value::Null, Value::Null), None).is_err());
    }

    fn deployment(name: &str, desired: i64, ready: i64) -> Value {
        json!({"metadata": {"name": name, "generation": 2}, "spec": {"replicas": desired},
               "status": {"observedGeneration": 2, "replicas": desired, "updatedReplicas": desired, "readyReplicas": ready}})
    }

    #[test]
    fn a_canary_is_done_when_kserve_sized_it_and_both_deployments_rolled_out() {
        let goal = StandardGoal::Canary { name: "v2".into(), percent: 25 };
        let i = isvc(json!([entry("v2", M2, 25)]), json!([{"name": "v2", "ready": true, "trafficPercent": 25}]));
        let ok = [deployment("iris-predictor", 3, 3), deployment("iris-v2-predictor", 1, 1)]
            .map(|d| DeploymentState::from_value(&d));
        assert_eq!(judge(&i, &goal, &ok), Ok(()));
        let starting = [deployment("iris-predictor", 3, 3), deployment("iris-v2-predictor", 1, 0)]
            .map(|d| DeploymentState::from_value(&d));
        assert!(judge(&i, &goal, &starting).unwrap_err().contains("iris-v2-predictor"));
        let old_size = isvc(json!([entry("v2", M2, 25)]), json!([{"name": "v2", "ready": true, "trafficPercent": 10}]));
        assert!(judge(&old_size, &goal, &ok).unwrap_err().contains("size"));
        let mut shrinking = deployment("iris-predictor", 3, 3);
        shrinking["status"]["replicas"] = json!(4);
        let shrinking = [
            DeploymentState::from_value(&shrinking),
            DeploymentState::from_value(&deployment("iris-v2-predictor", 1, 1)),
        ];
        assert!(judge(&i, &goal, &shrinking).is_err(), "an old stable replica still terminating");
        // Sized and rolled out, but KServe's status has not caught up with the resized stable.
        let mut lagging = i.raw.clone();
        lagging["status"]["conditions"] = json!([{"type": "Ready", "status": "False"}]);
        assert!(judge(&Isvc::from_value(lagging), &goal, &ok).unwrap_err().contains("Ready"));
    }

    #[test]
    fn kserve_sizes_the_variants_and_the_wait_waits_for_the_size() {
        // KServe's canary_controller_test: 4 stable + 25 % ⇒ 3 + 1; two of 25 % ⇒ 2/1/1.
        let i = isvc(json!([entry("v2", M2, 25)]), json!([{"name": "v2", "ready": true, "trafficPercent": 25}]));
        let sizes = expected_replicas(&i);
        assert_eq!((sizes["iris-predictor"], sizes["iris-v2-predictor"]), (3, 1));
        let two = isvc(json!([entry("v2", M2, 25), entry("v3", M3, 25)]), Value::Null);
        let sizes = expected_replicas(&two);
        assert_eq!((sizes["iris-predictor"], sizes["iris-v2-predictor"], sizes["iris-v3-predictor"]), (2, 1, 1));
        // An HPA that has not yet scaled the stable Deployment up to its size.
        let goal = StandardGoal::Canary { name: "v2".into(), percent: 25 };
        let early = [deployment("iris-predictor", 1, 1), deployment("iris-v2-predictor", 1, 1)]
            .map(|d| DeploymentState::from_value(&d));
        assert!(judge(&i, &goal, &early).unwrap_err().contains("sized to 3"));
    }

    #[test]
    fn promote_and_rollback_are_done_when_the_old_deployment_is_gone() {
        let promoted = Isvc::from_value(json!({
            "metadata": {"name": "iris"},
            "spec": {"predictor": {"name": "v2", "model": {"storageUri": M2}}},
            "status": {"conditions": [{"type": "PredictorReady", "status": "True"}, {"type": "Ready", "status": "True"}]}
        }));
        let goal = StandardGoal::Promoted { name: "v2".into(), old_stable: "iris-predictor".into() };
        let both = [deployment("iris-predictor", 4, 4), deployment("iris-v2-predictor", 4, 4)]
            .map(|d| DeploymentState::from_value(&d));
        assert!(judge(&promoted, &goal, &both).unwrap_err().contains("iris-predictor"));
        assert_eq!(judge(&promoted, &goal, &both[1..]), Ok(()));
        let rolled_back = isvc(Value::Null, Value::Null);
        let goal = StandardGoal::RolledBack { name: "v2".into() };
        assert!(judge(&rolled_back, &goal, &both).is_err());
        assert_eq!(judge(&rolled_back, &goal, &both[..1]), Ok(()));
    }

    #[test]
    fn failure_signals_are_the_ones_that_hold_still() {
        let crash = json!({"metadata": {"name": "p1"}, "status": {"containerStatuses": [
            {"state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 20s"}}}]}});
        assert_eq!(canary_failure(None, &[crash]).as_deref(), Some("p1 CrashLoopBackOff: back-off 20s"));
        let pending = json!({"metadata": {"name": "p2"}, "status": {"conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/1 nodes"}]}});
        assert!(canary_failure(None, &[pending]).unwrap().contains("Unschedulable"));
        let creating = json!({"metadata": {"name": "p3"}, "status": {"containerStatuses": [
            {"state": {"waiting": {"reason": "ContainerCreating"}}}]}});
        assert_eq!(canary_failure(None, &[creating]), None);
        let mut stuck = deployment("iris-v2-predictor", 1, 0);
        stuck["status"]["conditions"] = json!([{"type": "Progressing", "status": "False",
            "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet has timed out progressing."}]);
        assert!(
            canary_failure(Some(&DeploymentState::from_value(&stuck)), &[])
                .unwrap()
                .starts_with("ProgressDeadlineExceeded")
        );
    }

    #[test]
    fn routing_is_read_from_the_route_backends() {
        let v020 = json!({"spec": {"rules": [{"backendRefs": [{"name": "iris-predictor", "port": 80}]}]}});
        let backends = route_backends(&v020);
        assert_eq!(routed_percent(&backends, "iris-predictor"), 100);
        assert_eq!(routed_percent(&backends, "iris-v2-predictor"), 0);
        let weighted = json!({"spec": {"rules": [{"backendRefs": [
            {"name": "iris-predictor", "weight": 75}, {"name": "iris-v2-predictor", "weight": 25}]}]}});
        assert_eq!(routed_percent(&route_backends(&weighted), "iris-v2-predictor"), 25);
    }
}
