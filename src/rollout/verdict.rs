//! What every gate answers: pass, fail or inconclusive, with a value, the threshold it was held
//! against and a reason. Apart from `gate` and `metric` so that both can answer it without
//! depending on each other.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Verdict {
    Pass,
    Fail,
    Inconclusive,
}

/// One evaluation of one gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GateResult {
    pub gate: String,
    pub verdict: Verdict,
    /// What was measured: `HTTP 500`, `exit 1`.
    pub value: String,
    /// What it was held against: `HTTP 200`, `exit 0`.
    pub threshold: String,
    /// Why, in a few words (the answer's body, the command's output).
    pub reason: String,
    /// The revision that answered a request (the `Knative-Serving-Revision` header), when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_by: Option<String>,
    /// A metric gate's evaluation time (unix seconds, as sent to Prometheus's `time`), so that
    /// the same query can be asked again for the same window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}
