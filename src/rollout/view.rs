//! The live view of a rollout on a terminal: each step with its state, the current split, each
//! gate's last value against its threshold, and the time left in the hold. Pure rendering.

use std::time::Duration;

use super::gate::verdict_word;
use super::plan::Step;
use super::state::{Phase, RolloutState};
use crate::duration::format_duration;
use crate::output::{render_table, sanitize};

/// What the view shows besides the state.
pub struct Live<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    /// The split as status has it: `m-predictor-00002:10% m-predictor-00001:90%(prev)`.
    pub split: &'a str,
    /// Time left in the current hold, when holding.
    pub hold_left: Option<Duration>,
    /// What the current step is doing, when not holding (`waiting for the split`).
    pub doing: Option<&'a str>,
}

pub fn render(s: &RolloutState, live: &Live<'_>) -> String {
    let mut out = format!("rollout of {}/{} to {} ({})\n", live.namespace, live.name, s.model, s.phase.word());
    // The revisions on a line of their own: a model URI is long enough already.
    let revisions: Vec<String> = [("canary", &s.revision), ("stable", &s.stable)]
        .iter()
        .filter_map(|(role, rev)| rev.as_ref().map(|r| format!("{role} {r}")))
        .collect();
    if !revisions.is_empty() {
        out.push_str(&format!("{}\n", revisions.join(", ")));
    }
    let rows: Vec<Vec<String>> = s
        .plan
        .steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let what = match step {
                Step::Weight { percent, pause } if pause.is_zero() => format!("{percent}%"),
                Step::Weight { percent, pause } => format!("{percent}% for {}", format_duration(*pause)),
                Step::Manual => "manual pause".to_string(),
            };
            let state = if i < s.step || (i == s.step && s.phase == Phase::Promoted) {
                "done".to_string()
            } else if i > s.step || s.phase.is_final() {
                "-".to_string()
            } else if s.phase == Phase::Paused {
                "paused: waiting for resume".to_string()
            } else if let Some(left) = live.hold_left.filter(|_| s.applied) {
                let left = left.as_secs();
                let text = if left == 0 { "0s".to_string() } else { format_duration(Duration::from_secs(left)) };
                format!("holding, {text} left")
            } else {
                live.doing.unwrap_or("in progress").to_string()
            };
            let marker = if i == s.step && !s.phase.is_final() { ">" } else { " " };
            vec![format!("{marker}{}", i + 1), what, state]
        })
        .collect();
    out.push_str(&render_table(&["STEP", "SHARE", "STATE"], &rows, false));
    out.push_str(&format!("traffic: {}\n", live.split));
    if !s.plan.gates.is_empty() {
        let rows: Vec<Vec<String>> = s
            .plan
            .gates
            .iter()
            .enumerate()
            .map(|(i, g)| match s.gates.get(i).and_then(Option::as_ref) {
                Some(r) => vec![g.name(), verdict_word(r.verdict).to_string(), r.value.clone(), r.threshold.clone()],
                None => vec![g.name(), "-".into(), "-".into(), "-".into()],
            })
            .collect();
        out.push_str(&render_table(&["GATE", "LAST", "VALUE", "THRESHOLD"], &rows, false));
    }
    sanitize_lines(&out)
}

/// Cluster text escaped, line breaks kept.
fn sanitize_lines(text: &str) -> String {
    text.lines().map(sanitize).collect::<Vec<_>>().join("\n") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::plan::{GateSpec, Plan};
    use crate::rollout::verdict::{GateResult, Verdict};

    #[test]
    fn the_view_shows_steps_split_gates_and_time_left() {
        let plan = Plan {
            steps: vec![
                Step::Weight { percent: 10, pause: Duration::from_secs(60) },
                Step::Weight { percent: 50, pause: Duration::from_secs(60) },
                Step::Manual,
                Step::Weight { percent: 100, pause: Duration::ZERO },
            ],
            gates: vec![GateSpec::Smoke(Default::default()), GateSpec::Exec { command: "./check.sh".into() }],
            failure_limit: 1,
            interval: Duration::from_secs(10),
        };
        let mut s = RolloutState::new("id".into(), "gs://m2".into(), plan, "t");
        s.step = 1;
        s.applied = true;
        s.revision = Some("m-predictor-00002".into());
        s.stable = Some("m-predictor-00001".into());
        s.gates[0] = Some(GateResult {
            gate: "smoke".into(),
            verdict: Verdict::Pass,
            value: "HTTP 200".into(),
            threshold: "HTTP 200".into(),
            reason: String::new(),
            answered_by: None,
            at: None,
        });
        let live = Live {
            namespace: "ns",
            name: "m",
            split: "m-predictor-00002:50% m-predictor-00001:50%(prev)",
            hold_left: Some(Duration::from_millis(42_700)),
            doing: None,
        };
        let text = render(&s, &live);
        let want = "\
rollout of ns/m to gs://m2 (running)
canary m-predictor-00002, stable m-predictor-00001
STEP   SHARE          STATE
 1     10% for 1m     done
>2     50% for 1m     holding, 42s left
 3     manual pause   -
 4     100%           -
traffic: m-predictor-00002:50% m-predictor-00001:50%(prev)
GATE                LAST   VALUE      THRESHOLD
smoke               pass   HTTP 200   HTTP 200
exec './check.sh'   -      -          -
";
        assert_eq!(text, want);
    }
}
