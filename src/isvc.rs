//! The parts of a KServe InferenceService this plugin reads, typed loosely (every field optional)
//! so that schema drift never breaks a read. Objects are never written back whole: only patches.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const GROUP: &str = "serving.kserve.io";
pub const VERSION: &str = "v1beta1";
pub const PLURAL: &str = "inferenceservices";
pub const KIND: &str = "InferenceService";
pub const TAG_ROUTING_ANNOTATION: &str = "serving.kserve.io/enable-tag-routing";
pub const DEPLOYMENT_MODE_ANNOTATION: &str = "serving.kserve.io/deploymentMode";
pub const SOURCE_URI_ANNOTATION: &str = "internal.serving.kserve.io/storage-initializer-sourceuri";
pub const ISVC_LABEL: &str = "serving.kserve.io/inferenceservice";
pub const REVISION_LABEL: &str = "serving.knative.dev/revision";

/// A component of an InferenceService: the part a command changes or judges. Clap offers its
/// values for `--component`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Component {
    #[default]
    Predictor,
    Transformer,
    Explainer,
}

impl Component {
    pub fn key(self) -> &'static str {
        match self {
            Component::Predictor => "predictor",
            Component::Transformer => "transformer",
            Component::Explainer => "explainer",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Component::Predictor => "Predictor",
            Component::Transformer => "Transformer",
            Component::Explainer => "Explainer",
        }
    }

    /// The component's Ready condition (`PredictorReady`).
    pub fn ready_condition(self) -> String {
        format!("{}Ready", self.title())
    }

    /// The component's route condition, as KServe spells it (the explainer's is plural).
    pub fn route_condition(self) -> &'static str {
        match self {
            Component::Predictor => "PredictorRouteReady",
            Component::Transformer => "TransformerRouteReady",
            Component::Explainer => "ExplainerRoutesReady",
        }
    }

    /// The component's configuration condition (`PredictorConfigurationReady`).
    pub fn configuration_condition(self) -> String {
        format!("{}ConfigurationReady", self.title())
    }
}

/// The spec fields a mutation depends on and owns: a change to any of them by someone else
/// between our read and our write (or during our wait) is a conflict, not a retry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnedFields {
    pub canary_traffic_percent: Option<i64>,
    pub model_uri: Option<String>,
    pub tag_routing: Option<String>,
}

/// Why a revision failed: KServe's reason and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub reason: String,
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.reason, self.message)
    }
}

/// The legacy framework fields that carry their own `storageUri` (facts §2).
pub const FRAMEWORK_FIELDS: &[&str] =
    &["sklearn", "xgboost", "tensorflow", "pytorch", "triton", "onnx", "huggingface", "pmml", "lightgbm", "paddle"];

/// An InferenceService as read: the typed view plus the raw object (for output and patches).
#[derive(Debug, Clone)]
pub struct Isvc {
    pub raw: Value,
    pub name: String,
    pub namespace: String,
    pub resource_version: String,
    pub annotations: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub status: Status,
    /// Why `status` could not be read, when it could not (a field of the wrong type): then
    /// `status` is empty, and nothing may be decided from it.
    pub status_error: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Status {
    pub url: Option<String>,
    pub conditions: Vec<Condition>,
    pub components: BTreeMap<String, ComponentStatus>,
    pub model_status: Option<ModelStatus>,
    pub deployment_mode: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub last_transition_time: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct ComponentStatus {
    pub latest_ready_revision: Option<String>,
    pub latest_created_revision: Option<String>,
    pub previous_rolledout_revision: Option<String>,
    pub latest_rolledout_revision: Option<String>,
    pub traffic: Vec<Traffic>,
    pub url: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct Traffic {
    pub tag: Option<String>,
    pub revision_name: Option<String>,
    pub latest_revision: Option<bool>,
    pub percent: Option<i64>,
    pub url: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct ModelStatus {
    pub transition_status: Option<String>,
    pub last_failure_info: Option<FailureInfo>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct FailureInfo {
    pub reason: Option<String>,
    pub message: Option<String>,
    pub model_revision_name: Option<String>,
    pub exit_code: Option<i64>,
}

/// The deployment mode, normalised (contract, "States").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Knative,
    Standard,
    ModelMesh,
    Other(String),
}

impl Mode {
    pub fn parse(value: &str) -> Mode {
        match value {
            "Knative" | "Serverless" => Mode::Knative,
            "Standard" | "RawDeployment" => Mode::Standard,
            "ModelMesh" => Mode::ModelMesh,
            other => Mode::Other(other.to_string()),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Mode::Knative => "Knative",
            Mode::Standard => "Standard",
            Mode::ModelMesh => "ModelMesh",
            Mode::Other(s) => s,
        }
    }
}

/// Where a component keeps its model URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelField {
    /// `spec.<component>.model.storageUri` (the current schema).
    Model,
    /// A legacy framework field, e.g. `spec.predictor.sklearn.storageUri`.
    Framework(String),
    /// A custom container, or a transformer/explainer: no storage URI to set.
    None,
}

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string()))).collect())
        .unwrap_or_default()
}

impl Isvc {
    pub fn from_value(raw: Value) -> Isvc {
        let meta = raw.get("metadata");
        let text = |key: &str| meta.and_then(|m| m.get(key)).and_then(Value::as_str).unwrap_or_default().to_string();
        let (status, status_error) = match raw.get("status") {
            None | Some(Value::Null) => (Status::default(), None),
            Some(s) => match serde_json::from_value(without_nulls(s)) {
                Ok(status) => (status, None),
                Err(e) => (Status::default(), Some(e.to_string())),
            },
        };
        Isvc {
            name: text("name"),
            namespace: text("namespace"),
            resource_version: text("resourceVersion"),
            annotations: string_map(meta.and_then(|m| m.get("annotations"))),
            labels: string_map(meta.and_then(|m| m.get("labels"))),
            status,
            status_error,
            raw,
        }
    }

    pub fn mode(&self) -> Mode {
        if let Some(m) = self.status.deployment_mode.as_deref().filter(|m| !m.is_empty()) {
            return Mode::parse(m);
        }
        match self.annotations.get(DEPLOYMENT_MODE_ANNOTATION) {
            Some(m) if !m.is_empty() => Mode::parse(m),
            _ => Mode::Knative,
        }
    }

    pub fn spec_component(&self, c: Component) -> Option<&Value> {
        self.raw.pointer(&format!("/spec/{}", c.key())).filter(|v| v.is_object())
    }

    /// `canaryTrafficPercent` of a component, if set.
    pub fn ctp(&self, c: Component) -> Option<i64> {
        self.spec_component(c)?.get("canaryTrafficPercent")?.as_i64()
    }

    pub fn component_status(&self, c: Component) -> ComponentStatus {
        self.status.components.get(c.key()).cloned().unwrap_or_default()
    }

    pub fn tag_routing(&self) -> bool {
        self.annotations.get(TAG_ROUTING_ANNOTATION).map(String::as_str) == Some("true")
    }

    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.status.conditions.iter().find(|c| c.type_ == type_)
    }

    /// The Ready condition's status string ("True", "False", "Unknown"), or "" if absent.
    pub fn ready(&self) -> &str {
        self.condition("Ready").map_or("", |c| c.status.as_str())
    }

    /// The field that holds the model URI of a component.
    pub fn model_field(&self, c: Component) -> ModelField {
        let Some(spec) = self.spec_component(c) else { return ModelField::None };
        for fw in FRAMEWORK_FIELDS {
            if spec.get(*fw).is_some_and(Value::is_object) {
                return ModelField::Framework((*fw).to_string());
            }
        }
        if spec.get("model").is_some_and(Value::is_object) {
            return ModelField::Model;
        }
        ModelField::None
    }

    /// The model URI in the spec of a component, if it has one.
    pub fn model_uri(&self, c: Component) -> Option<String> {
        let spec = self.spec_component(c)?;
        let holder = match self.model_field(c) {
            ModelField::Model => spec.get("model")?,
            ModelField::Framework(fw) => spec.get(fw.as_str())?,
            ModelField::None => return None,
        };
        holder.get("storageUri")?.as_str().map(str::to_string)
    }

    /// The inference protocol the predictor speaks: "v2" or "v1" (KServe's default).
    pub fn protocol(&self) -> &'static str {
        let spec = self.spec_component(Component::Predictor);
        let declared = spec.and_then(|p| {
            let holder = match self.model_field(Component::Predictor) {
                ModelField::Model => p.get("model"),
                ModelField::Framework(fw) => p.get(fw.as_str()),
                ModelField::None => None,
            };
            holder?.get("protocolVersion")?.as_str()
        });
        match declared {
            Some(v) if v.eq_ignore_ascii_case("v2") || v.eq_ignore_ascii_case("grpc-v2") => "v2",
            _ => "v1",
        }
    }

    /// Components present in the spec, predictor first.
    pub fn components(&self) -> Vec<Component> {
        [Component::Predictor, Component::Transformer, Component::Explainer]
            .into_iter()
            .filter(|c| self.spec_component(*c).is_some())
            .collect()
    }

    /// The fields of a component that a mutation depends on.
    pub fn owned_fields(&self, c: Component) -> OwnedFields {
        OwnedFields {
            canary_traffic_percent: self.ctp(c),
            model_uri: self.model_uri(c),
            tag_routing: self.annotations.get(TAG_ROUTING_ANNOTATION).cloned(),
        }
    }

    /// Who wrote the object last, from managedFields (status writes excluded).
    pub fn last_writer(&self) -> String {
        let text = |f: &Value, key: &str| f.get(key).and_then(Value::as_str).unwrap_or("?").to_string();
        self.raw
            .pointer("/metadata/managedFields")
            .and_then(Value::as_array)
            .and_then(|fields| {
                fields
                    .iter()
                    .filter(|f| f.get("subresource").is_none())
                    .max_by_key(|f| f.get("time").and_then(Value::as_str).unwrap_or_default().to_string())
            })
            .map(|f| format!("last written by {} at {}", text(f, "manager"), text(f, "time")))
            .unwrap_or_else(|| "by another writer".to_string())
    }

    /// KServe's one reading of why a component's latest created revision cannot become ready:
    /// modelStatus (a failed model load or an invalid spec) first, else the configuration
    /// condition at False. `None` while the latest created revision is the latest ready one.
    pub fn latest_failure(&self, c: Component) -> Option<Failure> {
        let s = self.component_status(c);
        if s.lcr() == s.lrr() {
            return None;
        }
        if let Some(f) = self.model_failure(&["BlockedByFailedLoad", "InvalidSpec"]) {
            return Some(f);
        }
        self.condition(&c.configuration_condition()).filter(|x| x.status == "False").map(|x| Failure {
            reason: x.reason.clone().unwrap_or_default(),
            message: x.message.clone().unwrap_or_default(),
        })
    }

    /// The latest revision was ready and fails now (a model server that crash-loops after it
    /// started, e.g. OOMKilled): LCR = LRR, Knative failed the configuration, and KServe's
    /// modelStatus says the model failed to load. Both are required: either alone also flips
    /// for a moment during a healthy rollout.
    pub fn crash_failure(&self, c: Component) -> Option<Failure> {
        let s = self.component_status(c);
        if s.lcr().is_empty() || s.lcr() != s.lrr() {
            return None;
        }
        self.condition(&c.configuration_condition()).filter(|x| x.status == "False")?;
        self.model_failure(&["BlockedByFailedLoad"])
    }

    /// KServe's modelStatus failure, when its transitionStatus is one of `states`; an empty
    /// message is replaced by the exit code KServe recorded.
    fn model_failure(&self, states: &[&str]) -> Option<Failure> {
        let ms = self.status.model_status.as_ref()?;
        let t = ms.transition_status.as_deref().filter(|t| states.contains(t))?;
        let info = ms.last_failure_info.clone().unwrap_or_default();
        let mut message = info.message.unwrap_or_default().trim().to_string();
        if message.is_empty()
            && let Some(code) = info.exit_code
        {
            message = format!("exit code {code}");
        }
        Some(Failure { reason: info.reason.unwrap_or_else(|| t.to_string()), message })
    }

    /// KServe could not reconcile the component at all (its Ready condition says
    /// ReconcileFailed): no revision will come of this spec.
    pub fn reconcile_failure(&self, c: Component) -> Option<String> {
        self.condition(&c.ready_condition())
            .filter(|x| x.status == "False" && x.reason.as_deref() == Some("ReconcileFailed"))
            .map(|x| x.message.clone().unwrap_or_default())
    }

    /// Signs that a GitOps controller manages the object and will revert a manual change:
    /// its field managers, or Argo CD's and Flux's tracking labels and annotation.
    pub fn gitops_owners(&self) -> Vec<String> {
        const MANAGERS: &[&str] = &["argocd", "kustomize-controller", "helm-controller"];
        const MARKS: &[&str] = &[
            "argocd.argoproj.io/instance",
            "argocd.argoproj.io/tracking-id",
            "kustomize.toolkit.fluxcd.io/name",
            "helm.toolkit.fluxcd.io/name",
        ];
        let managers = self
            .raw
            .pointer("/metadata/managedFields")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|f| f.get("manager").and_then(Value::as_str))
            .filter(|m| MANAGERS.iter().any(|g| m.starts_with(g)))
            .map(|m| format!("field manager {m}"));
        let marks = MARKS
            .iter()
            .filter(|k| self.labels.contains_key(**k) || self.annotations.contains_key(**k))
            .map(|k| format!("label {k}"));
        let mut found: Vec<String> = managers.chain(marks).collect();
        found.dedup();
        found
    }
}

/// A copy without the object keys whose value is null: null is "absent", as Go clients write
/// nil lists and maps.
fn without_nulls(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), without_nulls(v))).collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// The label selector of every pod of an InferenceService.
pub fn pod_selector(name: &str) -> String {
    format!("{ISVC_LABEL}={name}")
}

/// The model a Knative revision was created for (KServe's source-URI annotation on it).
pub fn revision_model(revision: &Value) -> Option<String> {
    revision
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(SOURCE_URI_ANNOTATION))
        .and_then(Value::as_str)
        .map(str::to_string)
}

impl ComponentStatus {
    pub fn lcr(&self) -> &str {
        self.latest_created_revision.as_deref().unwrap_or("")
    }
    pub fn lrr(&self) -> &str {
        self.latest_ready_revision.as_deref().unwrap_or("")
    }
    pub fn lro(&self) -> &str {
        self.latest_rolledout_revision.as_deref().unwrap_or("")
    }
    pub fn pro(&self) -> &str {
        self.previous_rolledout_revision.as_deref().unwrap_or("")
    }

    /// The status entry with `latestRevision: true` (the first, as the printer column takes).
    pub fn latest_entry(&self) -> Option<&Traffic> {
        self.traffic.iter().find(|t| t.latest_revision == Some(true))
    }

    /// The status entry tagged `prev`.
    pub fn prev_entry(&self) -> Option<&Traffic> {
        self.traffic.iter().find(|t| t.tag.as_deref() == Some("prev"))
    }

    /// The common prefix of revision names (`sklearn-iris-predictor-`), from any revision in status.
    pub fn revision_prefix(&self) -> Option<String> {
        let any = [self.lcr(), self.lrr(), self.lro()].into_iter().find(|r| !r.is_empty())?;
        let (prefix, number) = any.rsplit_once('-')?;
        number.chars().all(|c| c.is_ascii_digit()).then(|| format!("{prefix}-"))
    }
}

impl Traffic {
    pub fn revision(&self) -> &str {
        self.revision_name.as_deref().unwrap_or("")
    }
    pub fn pct(&self) -> i64 {
        self.percent.unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn isvc(v: Value) -> Isvc {
        Isvc::from_value(v)
    }

    #[test]
    fn mode_prefers_status_then_annotation_then_knative() {
        let a = isvc(json!({"metadata":{"annotations":{DEPLOYMENT_MODE_ANNOTATION:"RawDeployment"}}}));
        assert_eq!(a.mode(), Mode::Standard);
        let b = isvc(json!({"metadata":{"annotations":{DEPLOYMENT_MODE_ANNOTATION:"RawDeployment"}},
            "status":{"deploymentMode":"Serverless"}}));
        assert_eq!(b.mode(), Mode::Knative);
        assert_eq!(isvc(json!({})).mode(), Mode::Knative);
        assert_eq!(Mode::parse("Weird"), Mode::Other("Weird".into()));
    }

    #[test]
    fn model_field_finds_new_and_legacy_schema() {
        let new =
            isvc(json!({"spec":{"predictor":{"model":{"modelFormat":{"name":"sklearn"},"storageUri":"gs://a"}}}}));
        assert_eq!(new.model_field(Component::Predictor), ModelField::Model);
        assert_eq!(new.model_uri(Component::Predictor).as_deref(), Some("gs://a"));
        let old = isvc(json!({"spec":{"predictor":{"sklearn":{"storageUri":"gs://b"}}}}));
        assert_eq!(old.model_field(Component::Predictor), ModelField::Framework("sklearn".into()));
        assert_eq!(old.model_uri(Component::Predictor).as_deref(), Some("gs://b"));
        let custom = isvc(json!({"spec":{"predictor":{"containers":[{"image":"x"}]}}}));
        assert_eq!(custom.model_field(Component::Predictor), ModelField::None);
        assert_eq!(custom.model_uri(Component::Predictor), None);
    }

    #[test]
    fn a_malformed_status_is_said_and_null_is_absent() {
        let null_conditions =
            isvc(json!({"status": {"conditions": null, "components": {"predictor": {"latestCreatedRevision": "r2"}}}}));
        assert_eq!(null_conditions.status_error, None);
        assert_eq!(null_conditions.component_status(Component::Predictor).lcr(), "r2");
        for bad in [
            json!("garbage"),
            json!({"components": {"predictor": {"traffic": {"0": {}}}}}),
            json!({"components": {"predictor": {"traffic": [{"percent": "10"}]}}}),
        ] {
            let i = isvc(json!({"status": bad}));
            assert!(i.status_error.is_some(), "{bad}");
            assert_eq!(i.status, Status::default());
        }
    }

    #[test]
    fn tag_routing_only_for_exact_true() {
        let on = isvc(json!({"metadata":{"annotations":{TAG_ROUTING_ANNOTATION:"true"}}}));
        assert!(on.tag_routing());
        let other = isvc(json!({"metadata":{"annotations":{TAG_ROUTING_ANNOTATION:"True"}}}));
        assert!(!other.tag_routing());
    }

    #[test]
    fn revision_prefix_from_status() {
        let s = ComponentStatus {
            latest_created_revision: Some("sklearn-iris-predictor-00002".into()),
            ..Default::default()
        };
        assert_eq!(s.revision_prefix().as_deref(), Some("sklearn-iris-predictor-"));
    }

    #[test]
    fn protocol_defaults_to_v1() {
        let v2 = isvc(json!({"spec":{"predictor":{"model":{"protocolVersion":"v2","storageUri":"x"}}}}));
        assert_eq!(v2.protocol(), "v2");
        let v1 = isvc(json!({"spec":{"predictor":{"model":{"storageUri":"x"}}}}));
        assert_eq!(v1.protocol(), "v1");
    }
}
