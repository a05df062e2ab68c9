//! What a rollout records in its Lease (`isvc-canary-<name>`, never on the InferenceService,
//! whose annotations cut revisions): the plan, the current step, gate results, the outcome, and
//! the last outcomes of earlier rollouts. Pure: the records, their JSON and the decisions on them.

use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::plan::{Plan, Step};
use super::verdict::GateResult;

/// The Lease's annotations.
pub const STATE_ANNOTATION: &str = "isvc-canary.kserve.io/rollout";
pub const HISTORY_ANNOTATION: &str = "isvc-canary.kserve.io/history";
/// Written by `pause`, `resume` and `abort` from another process: `VERB TIME BY`.
pub const CONTROL_ANNOTATION: &str = "isvc-canary.kserve.io/control";
/// Outcomes kept in the history annotation.
pub const HISTORY_KEEP: usize = 10;

pub fn lease_name(isvc: &str) -> String {
    format!("isvc-canary-{isvc}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    Running,
    /// Held at a manual step or by `pause`, until `resume`.
    Paused,
    /// Stopped with a step applied (Ctrl-C, --timeout, a lost connection): `--resume` goes on.
    Interrupted,
    Promoted,
    RolledBack,
    Aborted,
    /// Ended before its first write took effect (a guard rail, admission, RBAC): nothing changed.
    Refused,
}

impl Phase {
    pub fn is_final(self) -> bool {
        matches!(self, Phase::Promoted | Phase::RolledBack | Phase::Aborted | Phase::Refused)
    }

    pub fn word(self) -> &'static str {
        match self {
            Phase::Running => "running",
            Phase::Paused => "paused",
            Phase::Interrupted => "interrupted",
            Phase::Promoted => "promoted",
            Phase::RolledBack => "rolled-back",
            Phase::Aborted => "aborted",
            Phase::Refused => "refused",
        }
    }
}

/// When a step's share went to the canary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepRecord {
    pub percent: i64,
    pub at: String,
}

/// The rollout in progress (or the last one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutState {
    pub id: String,
    pub model: String,
    pub plan: Plan,
    /// Index of the current step in `plan.steps`.
    pub step: usize,
    /// The current step's write is applied (its wait may not be over).
    pub applied: bool,
    /// When the current step's hold started (its wait ended): a resumed hold keeps the clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_started_at: Option<String>,
    /// The canary revision under test (known once step 1 is in place).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// The revision that served before (the rollback target).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable: Option<String>,
    /// Standard mode: the `spec.canary` entry's name (its `predictor.name`), chosen before step 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<String>,
    pub phase: Phase,
    /// The last control request acted upon (the control annotation's value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_seen: Option<String>,
    #[serde(default)]
    pub gates: Vec<Option<GateResult>>,
    #[serde(default)]
    pub traffic: Vec<StepRecord>,
    pub started_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    /// Why it ended, or where it stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// One earlier rollout, as `history` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryRecord {
    pub id: String,
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// The revision that served before: it carried the rest of each split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable: Option<String>,
    pub outcome: Phase,
    pub started_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    #[serde(default)]
    pub traffic: Vec<StepRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl RolloutState {
    pub fn new(id: String, model: String, plan: Plan, now: &str) -> RolloutState {
        let gates = vec![None; plan.gates.len()];
        RolloutState {
            id,
            model,
            plan,
            step: 0,
            applied: false,
            hold_started_at: None,
            revision: None,
            stable: None,
            canary: None,
            phase: Phase::Running,
            control_seen: None,
            gates,
            traffic: vec![],
            started_at: now.to_string(),
            ended_at: None,
            message: None,
        }
    }

    pub fn record(&self) -> HistoryRecord {
        HistoryRecord {
            id: self.id.clone(),
            model: self.model.clone(),
            revision: self.revision.clone(),
            stable: self.stable.clone(),
            outcome: self.phase,
            started_at: self.started_at.clone(),
            ended_at: self.ended_at.clone(),
            traffic: self.traffic.clone(),
            message: self.message.clone(),
        }
    }

    /// The current step's share (None for a manual step, or past the end).
    pub fn percent(&self) -> Option<i64> {
        match self.plan.steps.get(self.step) {
            Some(Step::Weight { percent, .. }) => Some(*percent),
            _ => None,
        }
    }

    /// `step 2 of 3 (50%)`.
    pub fn where_(&self) -> String {
        let n = self.plan.steps.len();
        match self.plan.steps.get(self.step) {
            Some(Step::Weight { percent, .. }) => format!("step {} of {n} ({percent}%)", self.step + 1),
            Some(Step::Manual) => format!("step {} of {n} (manual pause)", self.step + 1),
            None => format!("the end of the plan ({n} steps)"),
        }
    }
}

/// Adds a finished rollout to the history, newest first, at most `HISTORY_KEEP` kept; a record
/// with the same id is replaced.
pub fn push_history(history: &mut Vec<HistoryRecord>, r: HistoryRecord) {
    history.retain(|h| h.id != r.id);
    history.insert(0, r);
    history.truncate(HISTORY_KEEP);
}

/// A Lease as read: the coordination fields and what our annotations hold.
#[derive(Debug, Clone, Default)]
pub struct LeaseRecord {
    pub resource_version: String,
    pub holder: String,
    pub duration: Duration,
    pub renew_time: Option<Timestamp>,
    pub transitions: i64,
    pub state: Option<RolloutState>,
    pub history: Vec<HistoryRecord>,
    pub control: Option<String>,
}

impl LeaseRecord {
    pub fn from_value(v: &Value) -> LeaseRecord {
        let ann = |k: &str| v.pointer("/metadata/annotations").and_then(|a| a.get(k)).and_then(Value::as_str);
        let spec = &v["spec"];
        LeaseRecord {
            resource_version: v.pointer("/metadata/resourceVersion").and_then(Value::as_str).unwrap_or_default().into(),
            holder: spec["holderIdentity"].as_str().unwrap_or_default().to_string(),
            duration: Duration::from_secs(spec["leaseDurationSeconds"].as_u64().unwrap_or(0)),
            renew_time: spec["renewTime"].as_str().and_then(|t| t.parse().ok()),
            transitions: spec["leaseTransitions"].as_i64().unwrap_or(0),
            state: ann(STATE_ANNOTATION).and_then(|s| serde_json::from_str(s).ok()),
            history: ann(HISTORY_ANNOTATION).and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default(),
            control: ann(CONTROL_ANNOTATION).map(str::to_string),
        }
    }

    /// Someone holds it and renewed it less than a lease duration ago.
    pub fn held(&self, now: Timestamp) -> bool {
        if self.holder.is_empty() {
            return false;
        }
        match self.renew_time {
            Some(t) => {
                let age = now.duration_since(t);
                age.as_secs_f64() < self.duration.as_secs_f64()
            }
            None => false,
        }
    }

    /// When the holder's claim runs out.
    pub fn expires_in(&self, now: Timestamp) -> Duration {
        let Some(t) = self.renew_time else { return Duration::ZERO };
        let left = self.duration.as_secs_f64() - now.duration_since(t).as_secs_f64();
        Duration::from_secs_f64(left.max(0.0))
    }

    /// An unfinished rollout is recorded.
    pub fn unfinished(&self) -> Option<&RolloutState> {
        self.state.as_ref().filter(|s| !s.phase.is_final())
    }
}

/// A Lease's MicroTime: RFC 3339 with microseconds, UTC.
pub fn micro_time(t: Timestamp) -> String {
    let micros = t.subsec_microsecond();
    let whole = Timestamp::from_second(t.as_second()).unwrap_or(t);
    format!("{}.{micros:06}Z", whole.strftime("%Y-%m-%dT%H:%M:%S"))
}

/// The spec and annotations a holder writes (merge patch body, or the body of a create).
pub fn lease_body(
    holder: &str,
    duration: Duration,
    now: Timestamp,
    transitions: i64,
    state: &RolloutState,
    history: &[HistoryRecord],
) -> Value {
    json!({
        "metadata": {"annotations": {
            STATE_ANNOTATION: serde_json::to_string(state).unwrap_or_default(),
            HISTORY_ANNOTATION: serde_json::to_string(history).unwrap_or_default(),
        }},
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": duration.as_secs().max(1),
            "renewTime": micro_time(now),
            "leaseTransitions": transitions,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::plan::{GateSpec, Step};

    fn plan() -> Plan {
        Plan {
            steps: vec![
                Step::Weight { percent: 10, pause: Duration::from_secs(5) },
                Step::Manual,
                Step::Weight { percent: 100, pause: Duration::ZERO },
            ],
            gates: vec![GateSpec::Exec { command: "true".into() }],
            failure_limit: 1,
            interval: Duration::from_secs(2),
        }
    }

    #[test]
    fn the_lease_round_trips_state_and_history() {
        let now: Timestamp = "2026-11-30T12:00:00.5Z".parse().unwrap();
        let mut s = RolloutState::new("r1".into(), "gs://m2".into(), plan(), &micro_time(now));
        s.step = 1;
        s.applied = true;
        let mut history = vec![];
        push_history(&mut history, s.record());
        let mut body = lease_body("me@host/1", Duration::from_secs(15), now, 2, &s, &history);
        body["metadata"]["resourceVersion"] = json!("42");
        let r = LeaseRecord::from_value(&body);
        assert_eq!(r.state.as_ref(), Some(&s));
        assert_eq!(r.history.len(), 1);
        assert_eq!((r.holder.as_str(), r.transitions, r.resource_version.as_str()), ("me@host/1", 2, "42"));
        assert_eq!(body["spec"]["renewTime"], "2026-11-30T12:00:00.500000Z");
        assert_eq!(s.where_(), "step 2 of 3 (manual pause)");
    }

    #[test]
    fn a_lease_is_held_until_its_duration_runs_out() {
        let renewed: Timestamp = "2026-11-30T12:00:00Z".parse().unwrap();
        let r = LeaseRecord {
            holder: "ci@runner/7".into(),
            duration: Duration::from_secs(15),
            renew_time: Some(renewed),
            ..LeaseRecord::default()
        };
        let at = |s: i64| renewed.checked_add(jiff::SignedDuration::from_secs(s)).unwrap();
        assert!(r.held(at(10)));
        assert_eq!(r.expires_in(at(10)), Duration::from_secs(5));
        assert!(!r.held(at(16)));
        let released = LeaseRecord { holder: String::new(), ..r.clone() };
        assert!(!released.held(at(1)), "an empty holder can be taken at once");
    }

    #[test]
    fn history_keeps_the_newest_outcomes() {
        let mut h = vec![];
        for i in 0..(HISTORY_KEEP + 3) {
            let mut s = RolloutState::new(format!("r{i}"), "m".into(), plan(), "t");
            s.phase = Phase::Promoted;
            push_history(&mut h, s.record());
        }
        assert_eq!(h.len(), HISTORY_KEEP);
        assert_eq!(h[0].id, format!("r{}", HISTORY_KEEP + 2));
        let mut again = RolloutState::new(format!("r{}", HISTORY_KEEP + 2), "m".into(), plan(), "t");
        again.phase = Phase::RolledBack;
        push_history(&mut h, again.record());
        assert_eq!(h.len(), HISTORY_KEEP);
        assert_eq!(h[0].outcome, Phase::RolledBack);
    }
}
