//! Gates: what decides whether a step may go on. Every gate answers pass, fail or inconclusive,
//! with a value, the threshold it was held against and a reason; inconclusive holds the step and
//! never passes it. The smoke and exec gates are here; metric gates (Prometheus) are in `metric`
//! and return the same `GateResult`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::http::{send, with_port};
use super::plan::{GateSpec, Smoke};
use super::verdict::{GateResult, Verdict};
use crate::output::sanitize;

/// What a gate knows of the step it judges.
#[derive(Debug, Clone)]
pub struct GateContext {
    pub namespace: String,
    pub name: String,
    /// The canary's own URL (the `latest` tag's), when status has one.
    pub url: Option<String>,
    pub revision: String,
    /// 1-based, among all steps of the plan.
    pub step: usize,
    pub percent: i64,
    /// The InferenceService's protocol (`v1`, `v2`).
    pub protocol: String,
    /// Where to connect instead of the URL's host (`--ingress`, or INGRESS_HOST:INGRESS_PORT):
    /// the request still carries the URL's host, as `curl --resolve` would.
    pub connect: Option<String>,
    /// A gate that takes longer is inconclusive.
    pub timeout: Duration,
    /// The directory relative `--input` paths of a plan file are read from.
    pub base_dir: std::path::PathBuf,
    /// The revision that keeps the rest of the traffic (a metric gate's relative threshold).
    pub stable: Option<String>,
    /// Where metric gates ask.
    pub prometheus: Option<super::metric::Prometheus>,
}

/// Runs one gate.
pub async fn evaluate(spec: &GateSpec, ctx: &GateContext) -> GateResult {
    match spec {
        GateSpec::Smoke(smoke) => smoke_gate(smoke, ctx).await,
        GateSpec::Exec { command } => exec_gate(spec.name(), command, ctx).await,
        GateSpec::Metric(m) => {
            let stable = ctx.stable.as_deref();
            super::metric::evaluate(m, ctx.prometheus.as_ref(), &ctx.namespace, &ctx.revision, stable, ctx.timeout)
                .await
        }
    }
}

fn result(gate: String, verdict: Verdict, value: String, threshold: String, reason: String) -> GateResult {
    GateResult { gate, verdict, value, threshold, reason, answered_by: None, at: None }
}

/// The path and method of a smoke request: a POST to predict/infer with a body, else a GET of
/// the model's readiness.
pub fn smoke_request(protocol: &str, model: &str, has_body: bool) -> (&'static str, String) {
    match (protocol, has_body) {
        ("v2", true) => ("POST", format!("/v2/models/{model}/infer")),
        ("v2", false) => ("GET", format!("/v2/models/{model}/ready")),
        (_, true) => ("POST", format!("/v1/models/{model}:predict")),
        (_, false) => ("GET", format!("/v1/models/{model}")),
    }
}

/// Judges a smoke answer: the revision that answered must be the canary's (when the answer
/// names one), the status the expected one, the body contain the expected text. Returns the
/// verdict, the value, the threshold and what the answer said (an excerpt of its body).
pub fn judge_smoke(
    smoke: &Smoke,
    canary: &str,
    status: u16,
    answered_by: Option<&str>,
    body: &str,
) -> (Verdict, String, String, String) {
    let excerpt: String = sanitize(body.trim()).chars().take(200).collect();
    if let Some(rev) = answered_by
        && rev != canary
    {
        return (Verdict::Fail, format!("answered by {rev}"), format!("answered by {canary}"), excerpt);
    }
    if status != smoke.status {
        return (Verdict::Fail, format!("HTTP {status}"), format!("HTTP {}", smoke.status), excerpt);
    }
    if let Some(want) = &smoke.body
        && !body.contains(want.as_str())
    {
        return (Verdict::Fail, "no match in the body".into(), format!("a body with '{want}'"), excerpt);
    }
    (Verdict::Pass, format!("HTTP {status}"), format!("HTTP {}", smoke.status), String::new())
}

async fn smoke_gate(smoke: &Smoke, ctx: &GateContext) -> GateResult {
    let name = "smoke".to_string();
    let threshold = format!("HTTP {}", smoke.status);
    let inconclusive =
        |reason: String| result(name.clone(), Verdict::Inconclusive, "-".into(), threshold.clone(), reason);
    let Some(url) = &ctx.url else {
        return inconclusive("the canary has no tag URL in status yet".into());
    };
    let body = match &smoke.input {
        Some(path) => match std::fs::read(ctx.base_dir.join(path)) {
            Ok(b) => Some(b),
            Err(e) => return inconclusive(format!("cannot read {path}: {e}")),
        },
        None => None,
    };
    let uri: http::Uri = match url.parse() {
        Ok(u) => u,
        Err(e) => return inconclusive(format!("the tag URL {url} cannot be read: {e}")),
    };
    let Some(host) = uri.authority().map(|a| a.to_string()) else {
        return inconclusive(format!("the tag URL {url} has no host"));
    };
    if uri.scheme_str() == Some("https") {
        return inconclusive(format!("{url} is HTTPS, which the smoke gate does not speak: use an exec gate"));
    }
    let connect = ctx.connect.clone().unwrap_or_else(|| with_port(&host));
    let protocol = smoke.protocol.as_deref().unwrap_or(&ctx.protocol);
    let (method, path) = smoke_request(protocol, &ctx.name, body.is_some());
    let sent = tokio::time::timeout(ctx.timeout, send(&connect, &host, method, &path, body)).await;
    let (status, answered_by, text) = match sent {
        Ok(Ok(answer)) => (
            answer.status.as_u16(),
            answer.headers.get("knative-serving-revision").and_then(|v| v.to_str().ok()).map(str::to_string),
            String::from_utf8_lossy(&answer.body[..answer.body.len().min(64 * 1024)]).into_owned(),
        ),
        Ok(Err(e)) => return inconclusive(format!("{method} http://{host}{path} via {connect}: {e}")),
        Err(_) => return inconclusive(format!("{method} http://{host}{path}: no answer within {:?}", ctx.timeout)),
    };
    let (verdict, value, threshold, said) = judge_smoke(smoke, &ctx.revision, status, answered_by.as_deref(), &text);
    let reason = if said.is_empty() {
        format!("{method} http://{host}{path}")
    } else {
        format!("{method} http://{host}{path}: {said}")
    };
    GateResult { gate: name, verdict, value, threshold, reason, answered_by, at: None }
}

/// The environment an exec gate's command gets.
pub fn exec_env(ctx: &GateContext) -> Vec<(&'static str, String)> {
    vec![
        ("ISVC_CANARY_NAME", ctx.name.clone()),
        ("ISVC_CANARY_NAMESPACE", ctx.namespace.clone()),
        ("ISVC_CANARY_URL", ctx.url.clone().unwrap_or_default()),
        ("ISVC_CANARY_REVISION", ctx.revision.clone()),
        ("ISVC_CANARY_STEP", ctx.step.to_string()),
        ("ISVC_CANARY_PERCENT", ctx.percent.to_string()),
    ]
}

/// The last few lines of a command's output, for a message.
pub fn output_tail(stdout: &[u8], stderr: &[u8]) -> String {
    let text = format!("{}{}", String::from_utf8_lossy(stdout), String::from_utf8_lossy(stderr));
    let lines: Vec<&str> = text.lines().map(str::trim_end).filter(|l| !l.is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(3)..].join(" | ");
    let tail = sanitize(&tail);
    if tail.chars().count() > 300 {
        format!("…{}", tail.chars().rev().take(300).collect::<String>().chars().rev().collect::<String>())
    } else {
        tail
    }
}

async fn exec_gate(name: String, command: &str, ctx: &GateContext) -> GateResult {
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c").arg(command).current_dir(&ctx.base_dir).kill_on_drop(true);
    cmd.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    for (k, v) in exec_env(ctx) {
        cmd.env(k, v);
    }
    let threshold = "exit 0".to_string();
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return result(name, Verdict::Inconclusive, "-".into(), threshold, format!("cannot start sh: {e}")),
    };
    match tokio::time::timeout(ctx.timeout, child.wait_with_output()).await {
        Ok(Ok(out)) => {
            let tail = output_tail(&out.stdout, &out.stderr);
            let (verdict, value) = match out.status.code() {
                Some(0) => (Verdict::Pass, "exit 0".to_string()),
                Some(n) => (Verdict::Fail, format!("exit {n}")),
                None => (Verdict::Fail, "killed by a signal".to_string()),
            };
            result(name, verdict, value, threshold, tail)
        }
        Ok(Err(e)) => result(name, Verdict::Inconclusive, "-".into(), threshold, format!("{e}")),
        Err(_) => {
            let why = format!("no exit within {}", crate::duration::format_duration(ctx.timeout));
            result(name, Verdict::Inconclusive, "-".into(), threshold, why)
        }
    }
}

/// Failures counted per gate within one step (reset when the step changes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub failures: Vec<u32>,
    /// Inconclusive results per gate within the step (a metric gate's inconclusive limit).
    #[serde(default)]
    pub inconclusive: Vec<u32>,
    /// The last result of each gate (`None`: not run yet in this step).
    pub last: Vec<Option<GateResult>>,
}

impl Tally {
    pub fn new(gates: usize) -> Tally {
        Tally { failures: vec![0; gates], inconclusive: vec![0; gates], last: vec![None; gates] }
    }

    /// Records one result; the index of a gate that reached the failure limit, if one did.
    pub fn record(&mut self, index: usize, r: GateResult, limit: u32) -> Option<usize> {
        match r.verdict {
            Verdict::Fail => self.failures[index] += 1,
            Verdict::Inconclusive => self.inconclusive[index] += 1,
            Verdict::Pass => {}
        }
        let reached = self.failures[index] >= limit;
        self.last[index] = Some(r);
        reached.then_some(index)
    }

    /// Every gate's last result is a pass (vacuously true without gates): inconclusive and not
    /// yet run both hold the step.
    pub fn all_pass(&self) -> bool {
        self.last.iter().all(|r| r.as_ref().is_some_and(|r| r.verdict == Verdict::Pass))
    }

    /// The first gate that holds the step, with why, for messages.
    pub fn holding(&self) -> Option<String> {
        self.last.iter().find_map(|r| match r {
            None => Some("a gate has not run yet".to_string()),
            Some(r) if r.verdict != Verdict::Pass => {
                Some(format!("{} is {}: {}", r.gate, verdict_word(r.verdict), r.reason))
            }
            Some(_) => None,
        })
    }
}

pub fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::Inconclusive => "inconclusive",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(verdict: Verdict) -> GateResult {
        result("g".into(), verdict, "v".into(), "t".into(), "why".into())
    }

    #[test]
    fn failures_count_to_the_limit_and_inconclusive_never_passes() {
        let mut t = Tally::new(2);
        assert!(!t.all_pass(), "gates that have not run hold the step");
        assert_eq!(t.record(0, r(Verdict::Pass), 2), None);
        assert_eq!(t.record(1, r(Verdict::Inconclusive), 2), None);
        assert!(!t.all_pass());
        assert!(t.holding().unwrap().contains("inconclusive"));
        assert_eq!(t.inconclusive, vec![0, 1], "inconclusive results are counted per gate");
        assert_eq!(t.record(1, r(Verdict::Pass), 2), None);
        assert!(t.all_pass());
        assert_eq!(t.record(0, r(Verdict::Fail), 2), None);
        assert!(!t.all_pass());
        assert_eq!(t.record(0, r(Verdict::Pass), 2), None);
        assert_eq!(t.record(0, r(Verdict::Fail), 2), Some(0), "the second failure reaches a limit of 2");
        let mut one = Tally::new(1);
        assert_eq!(one.record(0, r(Verdict::Fail), 1), Some(0));
        assert!(Tally::new(0).all_pass());
    }

    #[test]
    fn smoke_requests_follow_the_protocol() {
        assert_eq!(smoke_request("v1", "m", true), ("POST", "/v1/models/m:predict".to_string()));
        assert_eq!(smoke_request("v1", "m", false), ("GET", "/v1/models/m".to_string()));
        assert_eq!(smoke_request("v2", "m", true), ("POST", "/v2/models/m/infer".to_string()));
        assert_eq!(smoke_request("v2", "m", false), ("GET", "/v2/models/m/ready".to_string()));
    }

    #[test]
    fn smoke_judges_revision_status_and_body() {
        let s = Smoke { status: 200, body: Some("predictions".into()), ..Smoke::default() };
        let ok = judge_smoke(&s, "r2", 200, Some("r2"), r#"{"predictions":[1]}"#);
        assert_eq!(ok.0, Verdict::Pass);
        // Another revision answering cannot pass, whatever it says.
        let wrong = judge_smoke(&s, "r2", 200, Some("r1"), r#"{"predictions":[1]}"#);
        assert_eq!((wrong.0, wrong.1.as_str()), (Verdict::Fail, "answered by r1"));
        let err = judge_smoke(&s, "r2", 500, Some("r2"), "{\"error\":\"boom\"}");
        assert_eq!((err.0, err.1.as_str()), (Verdict::Fail, "HTTP 500"));
        assert_eq!(err.2, "HTTP 200");
        assert!(err.3.contains("boom"));
        let body = judge_smoke(&s, "r2", 200, None, "{}");
        assert_eq!(body.0, Verdict::Fail);
    }

    #[test]
    fn exec_output_keeps_the_last_lines() {
        let t = output_tail(b"one\ntwo\n", b"three\nfour\n\n");
        assert_eq!(t, "two | three | four");
        assert!(output_tail(&[b'x'; 1000], b"").chars().count() <= 301);
    }

    #[tokio::test]
    async fn exec_gate_sees_the_step_and_decides_by_exit_code() {
        let ctx = GateContext {
            namespace: "ns".into(),
            name: "m".into(),
            url: Some("http://latest-m.ns.example.com".into()),
            revision: "m-predictor-00002".into(),
            step: 2,
            percent: 50,
            protocol: "v1".into(),
            connect: None,
            timeout: Duration::from_secs(10),
            base_dir: std::env::temp_dir(),
            stable: None,
            prometheus: None,
        };
        let pass = evaluate(
            &GateSpec::Exec { command: "test \"$ISVC_CANARY_STEP/$ISVC_CANARY_PERCENT\" = 2/50".into() },
            &ctx,
        )
        .await;
        assert_eq!(pass.verdict, Verdict::Pass, "{pass:?}");
        let fail =
            evaluate(&GateSpec::Exec { command: "echo \"bad $ISVC_CANARY_REVISION\"; exit 3".into() }, &ctx).await;
        assert_eq!((fail.verdict, fail.value.as_str()), (Verdict::Fail, "exit 3"));
        assert_eq!(fail.reason, "bad m-predictor-00002");
        let slow = GateContext { timeout: Duration::from_millis(200), ..ctx };
        let hung = evaluate(&GateSpec::Exec { command: "sleep 5".into() }, &slow).await;
        assert_eq!(hung.verdict, Verdict::Inconclusive);
    }
}
