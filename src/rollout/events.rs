//! A rollout's events: one record for each step, gate result, pause, promotion and rollback,
//! printed (a line, or one JSON object per line under `-o json`) and written as a Kubernetes
//! Event on the InferenceService with the same reason and message. Pure builders and renderers.

use serde::Serialize;
use serde_json::{Value, json};

use super::verdict::GateResult;
use crate::isvc::{GROUP, Isvc, VERSION};
use crate::output::sanitize;

/// The reasons, as `kubectl describe isvc` shows them.
pub mod reason {
    pub const STARTED: &str = "RolloutStarted";
    pub const TAKEN_OVER: &str = "RolloutResumed";
    pub const STEP_APPLIED: &str = "CanaryStepApplied";
    pub const GATE_PASSED: &str = "GatePassed";
    pub const GATE_FAILED: &str = "GateFailed";
    pub const GATE_INCONCLUSIVE: &str = "GateInconclusive";
    pub const PAUSED: &str = "RolloutPaused";
    pub const RESUMED: &str = "RolloutResumedByUser";
    pub const PROMOTED: &str = "Promoted";
    pub const REVISION_FAILED: &str = "CanaryFailed";
    pub const ROLLED_BACK: &str = "RolledBack";
    pub const ABORTED: &str = "RolloutAborted";
    pub const INTERRUPTED: &str = "RolloutInterrupted";
    pub const REFUSED: &str = "RolloutRefused";
}

/// The component name events are reported by.
pub const REPORTER: &str = "kubectl-isvc-canary";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutEvent {
    pub time: String,
    pub namespace: String,
    pub name: String,
    pub reason: String,
    /// `Normal` or `Warning`, as Kubernetes Events.
    #[serde(rename = "type")]
    pub kind: String,
    /// 1-based step, when the event is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
    pub steps: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<GateResult>,
    pub message: String,
}

impl RolloutEvent {
    pub fn warning(&self) -> bool {
        self.kind == "Warning"
    }

    /// The line without a terminal: `TIME REASON step 2/3 50%: MESSAGE`.
    pub fn line(&self) -> String {
        let step = match (self.step, self.percent) {
            (Some(s), Some(p)) => format!(" step {s}/{} {p}%", self.steps),
            (Some(s), None) => format!(" step {s}/{}", self.steps),
            _ => String::new(),
        };
        sanitize(&format!("{} {}{step}: {}", self.time, self.reason, self.message))
    }
}

/// Whether a reason is a warning.
pub fn kind_of(reason: &str) -> &'static str {
    match reason {
        reason::GATE_FAILED
        | reason::GATE_INCONCLUSIVE
        | reason::REVISION_FAILED
        | reason::ROLLED_BACK
        | reason::ABORTED
        | reason::INTERRUPTED
        | reason::REFUSED => "Warning",
        _ => "Normal",
    }
}

/// The core/v1 Event for a rollout event, regarding the InferenceService (with its uid, so that
/// `kubectl describe isvc` finds it).
pub fn k8s_event(ev: &RolloutEvent, isvc: &Isvc, instance: &str) -> Value {
    let message: String = ev.message.chars().take(1024).collect();
    let instance: String = instance.chars().take(128).collect();
    json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": format!("{}.", isvc.name), "namespace": isvc.namespace},
        "involvedObject": {
            "apiVersion": format!("{GROUP}/{VERSION}"),
            "kind": "InferenceService",
            "name": isvc.name,
            "namespace": isvc.namespace,
            "uid": isvc.raw.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default(),
        },
        "reason": ev.reason,
        "message": message,
        "type": ev.kind,
        "source": {"component": REPORTER},
        "reportingComponent": REPORTER,
        "reportingInstance": instance,
        "action": ev.reason,
        "firstTimestamp": ev.time,
        "lastTimestamp": ev.time,
        "count": 1,
    })
}

/// The message of a gate result: `smoke: HTTP 500 (threshold HTTP 200): GET http://…`.
pub fn gate_message(r: &GateResult) -> String {
    let mut m = format!("{}: {} (threshold {})", r.gate, r.value, r.threshold);
    if let Some(rev) = &r.answered_by {
        m.push_str(&format!(", answered by {rev}"));
    }
    if !r.reason.is_empty() {
        m.push_str(&format!(": {}", r.reason));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::verdict::Verdict;

    fn ev(reason: &str) -> RolloutEvent {
        RolloutEvent {
            time: "2026-11-30T12:00:00Z".into(),
            namespace: "ns".into(),
            name: "m".into(),
            reason: reason.into(),
            kind: kind_of(reason).into(),
            step: Some(2),
            steps: 3,
            percent: Some(50),
            revision: Some("m-predictor-00002".into()),
            gate: None,
            message: "traffic 50% to m-predictor-00002".into(),
        }
    }

    #[test]
    fn a_line_per_event_and_the_same_in_json() {
        let e = ev(reason::STEP_APPLIED);
        assert_eq!(e.line(), "2026-11-30T12:00:00Z CanaryStepApplied step 2/3 50%: traffic 50% to m-predictor-00002");
        let j = serde_json::to_value(&e).unwrap();
        assert_eq!(j["reason"], "CanaryStepApplied");
        assert_eq!(j["type"], "Normal");
        assert_eq!(j["step"], 2);
        assert!(j.get("gate").is_none());
        assert!(ev(reason::ROLLED_BACK).warning());
    }

    #[test]
    fn the_kubernetes_event_regards_the_inference_service() {
        let isvc = Isvc::from_value(json!({"metadata": {"name": "m", "namespace": "ns", "uid": "u-1"}}));
        let mut e = ev(reason::GATE_FAILED);
        e.message = "x".repeat(2000);
        let k = k8s_event(&e, &isvc, "me@host/1");
        assert_eq!(k["involvedObject"]["uid"], "u-1");
        assert_eq!(k["involvedObject"]["kind"], "InferenceService");
        assert_eq!(k["involvedObject"]["apiVersion"], "serving.kserve.io/v1beta1");
        assert_eq!(k["type"], "Warning");
        assert_eq!(k["message"].as_str().unwrap().len(), 1024);
        assert_eq!(k["metadata"]["generateName"], "m.");
    }

    #[test]
    fn a_gate_message_names_value_threshold_and_revision() {
        let r = GateResult {
            gate: "smoke".into(),
            verdict: Verdict::Fail,
            value: "HTTP 500".into(),
            threshold: "HTTP 200".into(),
            reason: "GET http://latest-m".into(),
            answered_by: Some("m-predictor-00002".into()),
            at: None,
        };
        assert_eq!(
            gate_message(&r),
            "smoke: HTTP 500 (threshold HTTP 200), answered by m-predictor-00002: GET http://latest-m"
        );
    }
}
