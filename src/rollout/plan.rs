//! A rollout's plan: the steps, the hold after each, the gates and the failure limit, from flags
//! (`--steps 10,pause,100`) or a YAML file (`--plan FILE`). Pure: parsing and validation only.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::metric::{Metric, PRESETS, check_template, parse_threshold, preset};
use crate::cli::{OnInconclusive, Scrape};
use crate::duration::{format_duration, parse_duration};
use crate::error::{Exit, Fail};

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Step {
    /// Send this share to the canary (100 promotes), then hold for `pause`.
    Weight {
        percent: i64,
        #[serde(with = "secs")]
        pause: Duration,
    },
    /// Hold until someone runs `resume`.
    Manual,
}

/// A gate, as the plan names it; how it is evaluated lives in `gate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum GateSpec {
    /// A request through the canary's own tag URL.
    Smoke(Smoke),
    /// A command whose exit code decides.
    Exec { command: String },
    /// A PromQL query against a threshold (`metric`).
    Metric(super::metric::Metric),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Smoke {
    /// The request body: a POST to the predict/infer path; without it a GET of the model's
    /// readiness path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// `v1` or `v2` (default: the InferenceService's protocol).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// The HTTP status expected (default 200).
    #[serde(default = "ok_status")]
    pub status: u16,
    /// Text the answer's body must contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

fn ok_status() -> u16 {
    200
}

impl GateSpec {
    /// The gate's name in events and messages.
    pub fn name(&self) -> String {
        match self {
            GateSpec::Smoke(_) => "smoke".to_string(),
            GateSpec::Exec { command } => {
                let short: String = command.chars().take(40).collect();
                format!("exec '{short}'")
            }
            GateSpec::Metric(m) => m.name.clone(),
        }
    }
}

/// A whole plan, as stored in the Lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub steps: Vec<Step>,
    pub gates: Vec<GateSpec>,
    /// Failures of one gate within one step that roll the rollout back (at least 1).
    pub failure_limit: u32,
    /// How often the gates run during a hold.
    #[serde(with = "secs")]
    pub interval: Duration,
}

impl Plan {
    /// The weight steps' shares, in order (for messages and views).
    pub fn weights(&self) -> Vec<i64> {
        self.steps
            .iter()
            .filter_map(|s| match s {
                Step::Weight { percent, .. } => Some(*percent),
                Step::Manual => None,
            })
            .collect()
    }

    /// `10%,pause,50%,100%`.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .steps
            .iter()
            .map(|s| match s {
                Step::Weight { percent, pause } if pause.is_zero() => format!("{percent}%"),
                Step::Weight { percent, pause } => format!("{percent}% for {}", format_duration(*pause)),
                Step::Manual => "pause".to_string(),
            })
            .collect();
        parts.join(", ")
    }
}

/// Durations stored as seconds (fractions kept) in the Lease's JSON.
pub(crate) mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        Duration::try_from_secs_f64(v).map_err(serde::de::Error::custom)
    }
}

fn usage(message: impl Into<String>) -> Fail {
    Fail::new(Exit::Usage, message)
}

/// `--steps 10,25,pause,100` with one `--pause` for every weight step.
pub fn parse_steps(text: &str, pause: Duration) -> Result<Vec<Step>, Fail> {
    let mut steps = Vec::new();
    for word in text.split(',').map(str::trim) {
        if word == "pause" {
            steps.push(Step::Manual);
            continue;
        }
        let percent = word.strip_suffix('%').unwrap_or(word);
        let percent = crate::rules::parse_percent(percent)
            .map_err(|_| usage(format!("--steps: '{word}' is neither a percent from 1 to 100 nor 'pause'")))?;
        steps.push(weight(percent, pause));
    }
    Ok(steps)
}

/// A weight step; 100 is the promotion, after which there is nothing to hold.
fn weight(percent: i64, pause: Duration) -> Step {
    Step::Weight { percent, pause: if percent == 100 { Duration::ZERO } else { pause } }
}

/// Checks what any plan must be: at least one step; shares from 1 to 100 that only grow; the
/// last step 100 (the promotion), with no manual step after it; a failure limit of at least 1.
pub fn validate(plan: &Plan) -> Result<(), Fail> {
    let weights = plan.weights();
    let Some(&last) = weights.last() else {
        return Err(usage("the plan has no steps: give --steps like 10,50,100"));
    };
    if weights.contains(&0) {
        return Err(usage("a step of 0% sends nothing to the canary: steps are from 1 to 100"));
    }
    if weights.windows(2).any(|w| w[1] <= w[0]) {
        return Err(usage(format!("steps must grow: {}", plan.describe())));
    }
    if last != 100 {
        return Err(usage(format!("the last step must be 100 (the promotion); the plan ends at {last}%")));
    }
    if matches!(plan.steps.last(), Some(Step::Manual)) {
        return Err(usage("a manual pause after the 100% step holds nothing: put it before"));
    }
    if matches!(plan.steps.first(), Some(Step::Manual)) {
        return Err(usage("a plan cannot start with a manual pause: the first step sends the new model traffic"));
    }
    if plan.failure_limit == 0 {
        return Err(usage("--failure-limit must be at least 1"));
    }
    if plan.interval.is_zero() && !plan.gates.is_empty() {
        return Err(usage("--gate-interval must be more than 0"));
    }
    Ok(())
}

/// The YAML form of `--plan FILE`:
///
/// ```yaml
/// steps: [10, {percent: 50, pause: 2m}, pause, 100]
/// pause: 1m            # the hold of a step that names none
/// failureLimit: 2
/// interval: 10s
/// gates:
///   - smoke: {input: input.json, status: 200, body: predictions}
///   - exec: ./check.sh
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PlanFile {
    steps: Vec<StepFile>,
    #[serde(default)]
    pause: Option<String>,
    #[serde(default)]
    failure_limit: Option<u32>,
    #[serde(default)]
    interval: Option<String>,
    #[serde(default)]
    gates: Vec<GateFile>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum StepFile {
    Percent(i64),
    Word(String),
    Full {
        percent: i64,
        #[serde(default)]
        pause: Option<String>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
enum GateFile {
    Smoke(Option<Smoke>),
    Exec(String),
    Metric(MetricFile),
}

/// `metric: {preset: success-rate, threshold: '>= 0.99'}`, or a custom `query` (with a `name`,
/// and optionally a `requests` query); the rest falls back on the flags.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct MetricFile {
    #[serde(default)]
    preset: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    requests: Option<String>,
    threshold: String,
    #[serde(default)]
    window: Option<String>,
    #[serde(default)]
    min_requests: Option<u64>,
    #[serde(default)]
    inconclusive_limit: Option<u32>,
    #[serde(default)]
    on_inconclusive: Option<OnInconclusive>,
    #[serde(default)]
    scrape: Option<Scrape>,
}

/// What a metric gate falls back on (the flags' values).
#[derive(Debug, Clone, Copy)]
pub struct MetricDefaults {
    pub window: Duration,
    pub min_requests: u64,
    pub inconclusive_limit: Option<u32>,
    pub on_inconclusive: OnInconclusive,
    pub scrape: Scrape,
}

impl Default for MetricDefaults {
    fn default() -> MetricDefaults {
        MetricDefaults {
            window: Duration::from_secs(60),
            min_requests: 10,
            inconclusive_limit: None,
            on_inconclusive: OnInconclusive::Hold,
            scrape: Scrape::TargetInfo,
        }
    }
}

/// `--metric 'success-rate >= 0.99'`: a preset and its threshold.
pub fn parse_metric_flag(text: &str, d: MetricDefaults) -> Result<GateSpec, Fail> {
    let at = text.find(['<', '>']).ok_or_else(|| {
        usage(format!("--metric '{text}': give a preset and a threshold, like 'success-rate >= 0.99'"))
    })?;
    let (name, threshold) = text.split_at(at);
    metric_gate(Some(name.trim()), None, None, None, threshold, d, "--metric")
}

/// A metric gate from its parts; a preset or a custom query, checked.
fn metric_gate(
    preset_name: Option<&str>,
    name: Option<String>,
    query: Option<String>,
    requests: Option<String>,
    threshold: &str,
    d: MetricDefaults,
    what: &str,
) -> Result<GateSpec, Fail> {
    let threshold = parse_threshold(threshold).map_err(|e| usage(format!("{what}: the threshold {e}")))?;
    let (name, query, requests) = match (preset_name, query) {
        (Some(p), None) => {
            let (q, n) = preset(p, d.scrape).ok_or_else(|| {
                usage(format!("{what}: no preset '{p}' (presets: {}; or a custom query)", PRESETS.join(", ")))
            })?;
            (name.unwrap_or_else(|| p.to_string()), q, Some(n))
        }
        (None, Some(q)) => {
            let name = name.ok_or_else(|| usage(format!("{what}: a custom query needs a name")))?;
            (name, q, requests)
        }
        _ => return Err(usage(format!("{what}: give either a preset or a query"))),
    };
    for t in std::iter::once(&query).chain(requests.as_ref()) {
        check_template(t).map_err(|e| usage(format!("{what} {name}: {e}")))?;
    }
    if d.window < Duration::from_secs(1) {
        return Err(usage(format!("{what} {name}: the window must be at least 1s")));
    }
    if d.inconclusive_limit == Some(0) {
        return Err(usage(format!("{what} {name}: the inconclusive limit must be at least 1")));
    }
    Ok(GateSpec::Metric(Metric {
        name,
        query,
        requests,
        threshold,
        window: d.window,
        min_requests: d.min_requests,
        inconclusive_limit: d.inconclusive_limit,
        on_inconclusive: d.on_inconclusive,
    }))
}

/// Defaults a plan file falls back on (the flags' values).
#[derive(Debug, Clone, Copy)]
pub struct Defaults {
    pub pause: Duration,
    pub failure_limit: u32,
    pub interval: Duration,
    pub metric: MetricDefaults,
}

fn duration(field: &str, text: &str) -> Result<Duration, Fail> {
    parse_duration(text).map_err(|e| usage(format!("the plan's {field}: {e}")))
}

/// Parses a plan file's text (YAML; JSON is YAML too).
pub fn parse_plan_file(text: &str, d: Defaults) -> Result<Plan, Fail> {
    let file: PlanFile = serde_saphyr::from_str(text).map_err(|e| {
        let first = e.to_string().lines().next().unwrap_or_default().to_string();
        usage(format!("the plan file is not a valid plan: {first}"))
    })?;
    let pause = match &file.pause {
        Some(p) => duration("pause", p)?,
        None => d.pause,
    };
    let mut steps = Vec::new();
    for s in file.steps {
        steps.push(match s {
            StepFile::Percent(p) => weight(check_percent(p)?, pause),
            StepFile::Word(w) if w == "pause" => Step::Manual,
            StepFile::Word(w) => {
                let p = crate::rules::parse_percent(w.trim_end_matches('%'))
                    .map_err(|_| usage(format!("the plan's step '{w}' is neither a percent nor 'pause'")))?;
                weight(p, pause)
            }
            StepFile::Full { percent, pause: own } => weight(
                check_percent(percent)?,
                match own {
                    Some(p) => duration("step pause", &p)?,
                    None => pause,
                },
            ),
        });
    }
    let mut gates = Vec::new();
    for g in file.gates {
        gates.push(match g {
            GateFile::Smoke(s) => GateSpec::Smoke(s.unwrap_or_else(|| Smoke { status: 200, ..Smoke::default() })),
            GateFile::Exec(command) => GateSpec::Exec { command },
            GateFile::Metric(m) => {
                let md = MetricDefaults {
                    window: match &m.window {
                        Some(w) => duration("metric window", w)?,
                        None => d.metric.window,
                    },
                    min_requests: m.min_requests.unwrap_or(d.metric.min_requests),
                    inconclusive_limit: m.inconclusive_limit.or(d.metric.inconclusive_limit),
                    on_inconclusive: m.on_inconclusive.unwrap_or(d.metric.on_inconclusive),
                    scrape: m.scrape.unwrap_or(d.metric.scrape),
                };
                metric_gate(m.preset.as_deref(), m.name, m.query, m.requests, &m.threshold, md, "the plan's metric")?
            }
        });
    }
    let plan = Plan {
        steps,
        gates,
        failure_limit: file.failure_limit.unwrap_or(d.failure_limit),
        interval: match &file.interval {
            Some(i) => duration("interval", i)?,
            None => d.interval,
        },
    };
    validate(&plan)?;
    Ok(plan)
}

fn check_percent(p: i64) -> Result<i64, Fail> {
    if (0..=100).contains(&p) {
        Ok(p)
    } else {
        Err(usage(format!("the plan's step {p} is not a percent from 1 to 100")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Defaults = Defaults {
        pause: Duration::from_secs(30),
        failure_limit: 1,
        interval: Duration::from_secs(10),
        metric: MetricDefaults {
            window: Duration::from_secs(60),
            min_requests: 10,
            inconclusive_limit: None,
            on_inconclusive: OnInconclusive::Hold,
            scrape: Scrape::TargetInfo,
        },
    };

    fn plan(steps: Vec<Step>) -> Plan {
        Plan { steps, gates: vec![], failure_limit: 1, interval: Duration::from_secs(1) }
    }

    fn w(percent: i64) -> Step {
        Step::Weight { percent, pause: Duration::from_secs(5) }
    }

    #[test]
    fn steps_flag_takes_percents_and_manual_pauses() {
        let steps = parse_steps("10, 25%,pause,100", Duration::from_secs(5)).unwrap();
        let promote = Step::Weight { percent: 100, pause: Duration::ZERO };
        assert_eq!(steps, vec![w(10), w(25), Step::Manual, promote]);
        assert!(parse_steps("10,ten,100", Duration::ZERO).unwrap_err().message.contains("'ten'"));
        assert!(parse_steps("10,101", Duration::ZERO).is_err());
        assert!(parse_steps("", Duration::ZERO).is_err());
    }

    #[test]
    fn a_plan_grows_and_ends_promoted() {
        assert!(validate(&plan(vec![w(10), w(50), w(100)])).is_ok());
        assert!(validate(&plan(vec![w(100)])).is_ok());
        let bad = [
            (vec![w(10), w(50)], "last step must be 100"),
            (vec![w(50), w(10), w(100)], "must grow"),
            (vec![w(10), w(10), w(100)], "must grow"),
            (vec![w(10), w(100), Step::Manual], "after the 100% step"),
            (vec![Step::Manual, w(100)], "cannot start"),
            (vec![w(0), w(100)], "0%"),
            (vec![], "no steps"),
        ];
        for (steps, why) in bad {
            let err = validate(&plan(steps.clone())).unwrap_err();
            assert!(err.message.contains(why), "{steps:?}: {}", err.message);
            assert_eq!(err.exit, Exit::Usage);
        }
        let mut zero = plan(vec![w(100)]);
        zero.failure_limit = 0;
        assert!(validate(&zero).is_err());
    }

    #[test]
    fn plan_file_with_every_form_of_step_and_gate() {
        let text = "steps: [10, {percent: 50, pause: 2m}, pause, '100%']\npause: 45s\nfailureLimit: 3\ninterval: 5s\n\
                    gates:\n  - smoke: {input: in.json, body: predictions}\n  - exec: ./check.sh --fast\n";
        let p = parse_plan_file(text, D).unwrap();
        assert_eq!(
            p.steps,
            vec![
                Step::Weight { percent: 10, pause: Duration::from_secs(45) },
                Step::Weight { percent: 50, pause: Duration::from_secs(120) },
                Step::Manual,
                Step::Weight { percent: 100, pause: Duration::ZERO },
            ]
        );
        assert_eq!(p.failure_limit, 3);
        assert_eq!(p.interval, Duration::from_secs(5));
        assert_eq!(
            p.gates,
            vec![
                GateSpec::Smoke(Smoke {
                    input: Some("in.json".into()),
                    protocol: None,
                    status: 200,
                    body: Some("predictions".into())
                }),
                GateSpec::Exec { command: "./check.sh --fast".into() },
            ]
        );
    }

    #[test]
    fn plan_file_defaults_and_errors() {
        let p = parse_plan_file("steps: [20, 100]\ngates: [smoke: ]\n", D).unwrap();
        assert_eq!(p.steps[0], Step::Weight { percent: 20, pause: Duration::from_secs(30) });
        assert_eq!(p.gates, vec![GateSpec::Smoke(Smoke { status: 200, ..Smoke::default() })]);
        for (text, why) in [
            ("steps: [10, 50]\n", "must be 100"),
            ("steps: [10, 100]\npause: soon\n", "pause"),
            ("steps: [10, 100]\nextra: 1\n", "not a valid plan"),
            ("steps: [10, 100]\ngates: [{ping: x}]\n", "not a valid plan"),
            ("steps: [10, later, 100]\n", "'later'"),
        ] {
            let err = parse_plan_file(text, D).unwrap_err();
            assert!(err.message.contains(why), "{text}: {}", err.message);
        }
    }

    #[test]
    fn a_plan_round_trips_through_the_lease_json() {
        let p = parse_plan_file("steps: [10, pause, 100]\ngates: [exec: 'true']\n", D).unwrap();
        let back: Plan = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
        assert_eq!(p.describe(), "10% for 30s, pause, 100%");
    }

    #[test]
    fn metric_gates_from_the_flag_and_the_plan_file() {
        let GateSpec::Metric(m) = parse_metric_flag("success-rate >= 0.99", D.metric).unwrap() else { panic!() };
        assert_eq!((m.name.as_str(), m.threshold.to_string().as_str()), ("success-rate", ">= 0.99"));
        assert!(m.query.contains("target_info") && m.requests.is_some());
        for (flag, why) in [
            ("success-rate", "a preset and a threshold"),
            ("cpu < 1", "no preset 'cpu'"),
            ("latency-p99 < x", "not a number"),
        ] {
            let err = parse_metric_flag(flag, D.metric).unwrap_err();
            assert!(err.message.contains(why), "{flag}: {}", err.message);
        }
        let text = "steps: [10, 100]\ngates:\n                    - metric: {preset: latency-p99, threshold: '<= 1.2 x stable', window: 30s, scrape: labels, inconclusiveLimit: 3, onInconclusive: fail}\n                    - metric: {name: errors, query: 'sum(rate(errors_total{revision=\"{{.Canary}}\"}[{{.Window}}]))', threshold: '< 0.5', minRequests: 0}\n";
        let p = parse_plan_file(text, D).unwrap();
        let GateSpec::Metric(p99) = &p.gates[0] else { panic!() };
        assert_eq!(
            (p99.window, p99.inconclusive_limit, p99.on_inconclusive),
            (Duration::from_secs(30), Some(3), OnInconclusive::Fail)
        );
        assert!(p99.threshold.relative && p99.query.contains("revision=\"{{.Canary}}\""));
        let GateSpec::Metric(custom) = &p.gates[1] else { panic!() };
        assert_eq!((custom.name.as_str(), custom.requests.as_ref(), custom.min_requests), ("errors", None, 0));
        let back: Plan = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
        for (text, why) in [
            ("steps: [100]\ngates: [metric: {query: 'x', threshold: '< 1'}]\n", "needs a name"),
            ("steps: [100]\ngates: [metric: {name: a, query: 'x{{.Rev}}', threshold: '< 1'}]\n", "{{.Rev}}"),
            (
                "steps: [100]\ngates: [metric: {preset: success-rate, threshold: '< 1', inconclusiveLimit: 0}]\n",
                "at least 1",
            ),
        ] {
            let err = parse_plan_file(text, D).unwrap_err();
            assert!(err.message.contains(why), "{text}: {}", err.message);
        }
    }
}
