//! Metric gates: a PromQL query run for the canary and, for a relative threshold, for the stable
//! revision, both at one evaluation time over one window. No data, too few requests or a
//! Prometheus that cannot be asked is inconclusive, never a pass. Pure except `query`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::http::{send, with_port};
use super::verdict::{GateResult, Verdict};
use crate::cli::{OnInconclusive, Scrape};
use crate::duration::format_duration;

/// The series queue-proxy v0.48.1 exports for its `kn.serving.invocation.duration` histogram,
/// as the OTel Prometheus exporter names them (underscores, unit suffix `_seconds`).
pub const SERIES: &str = "kn_serving_invocation_duration_seconds";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }

    fn holds(self, value: f64, bound: f64) -> bool {
        match self {
            Op::Lt => value < bound,
            Op::Le => value <= bound,
            Op::Gt => value > bound,
            Op::Ge => value >= bound,
        }
    }
}

/// `< 0.5` (absolute) or `<= 1.2 x stable` (the canary against the stable revision's value).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Threshold {
    pub op: Op,
    pub value: f64,
    /// `value` is a factor of the stable revision's value.
    pub relative: bool,
}

impl Eq for Threshold {}

impl std::fmt::Display for Threshold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.relative {
            write!(f, "{} {} x stable", self.op.symbol(), self.value)
        } else {
            write!(f, "{} {}", self.op.symbol(), self.value)
        }
    }
}

/// Parses `< 0.5`, `>=0.99`, `<= 1.2 x stable`, `<= 1.2 × stable`, `<= 1.2*stable`, `<= stable`.
pub fn parse_threshold(text: &str) -> Result<Threshold, String> {
    let t = text.trim();
    let (op, rest) = if let Some(r) = t.strip_prefix("<=") {
        (Op::Le, r)
    } else if let Some(r) = t.strip_prefix(">=") {
        (Op::Ge, r)
    } else if let Some(r) = t.strip_prefix('<') {
        (Op::Lt, r)
    } else if let Some(r) = t.strip_prefix('>') {
        (Op::Gt, r)
    } else {
        return Err(format!("'{t}' does not start with <, <=, > or >="));
    };
    let rest = rest.trim();
    let (number, relative) = match rest.strip_suffix("stable") {
        Some(n) => {
            let n = n.trim_end();
            let n = n.strip_suffix(['x', '*', '×']).unwrap_or(n).trim();
            (if n.is_empty() { "1" } else { n }, true)
        }
        None => (rest, false),
    };
    let value: f64 = number.parse().map_err(|_| format!("'{number}' in '{t}' is not a number"))?;
    if !value.is_finite() || (relative && value <= 0.0) {
        return Err(format!("'{t}': the bound must be a finite number (a factor of stable above 0)"));
    }
    Ok(Threshold { op, value, relative })
}

/// A metric gate as the plan holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metric {
    pub name: String,
    /// PromQL with `{{.Canary}}`, `{{.Stable}}`, `{{.Namespace}}` (and `{{.Window}}`); for a
    /// relative threshold it runs once with the canary and once with `{{.Canary}}` as the stable
    /// revision.
    pub query: String,
    /// The number of requests the value rests on (same placeholders): fewer than
    /// `min_requests` is inconclusive. Presets have one; a custom query may.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<String>,
    pub threshold: Threshold,
    #[serde(with = "super::plan::secs")]
    pub window: Duration,
    pub min_requests: u64,
    /// Inconclusive results in one step before `on_inconclusive` applies (None: hold forever,
    /// that is up to `--timeout`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inconclusive_limit: Option<u32>,
    #[serde(default)]
    pub on_inconclusive: OnInconclusive,
}

/// The presets: queue-proxy's histogram, per revision as `scrape` finds it.
pub const PRESETS: &[&str] = &["success-rate", "error-rate", "latency-p50", "latency-p95", "latency-p99"];

/// The series selector of one revision (`{{.Canary}}` stands for it) over `suffix`, with
/// `extra` matchers, as the scrape configuration allows: a label matcher, or a join on
/// `target_info` (whose value is 1) by `job` and `instance`.
fn per_revision(scrape: Scrape, suffix: &str, extra: &str) -> String {
    let sep = if extra.is_empty() { "" } else { "," };
    match scrape {
        Scrape::Labels => format!(
            "rate({SERIES}_{suffix}{{namespace=\"{{{{.Namespace}}}}\",revision=\"{{{{.Canary}}}}\"{sep}{extra}}}[{{{{.Window}}}}])"
        ),
        Scrape::TargetInfo => format!(
            "(rate({SERIES}_{suffix}{{{extra}}}[{{{{.Window}}}}]) * on(job, instance) group_left() \
             target_info{{k8s_namespace_name=\"{{{{.Namespace}}}}\",kn_revision_name=\"{{{{.Canary}}}}\"}})"
        ),
    }
}

/// A preset's query and its request count, or None for an unknown name.
pub fn preset(name: &str, scrape: Scrape) -> Option<(String, String)> {
    let all = format!("sum({})", per_revision(scrape, "count", ""));
    let requests = format!("{all} * {{{{.WindowSeconds}}}}");
    let query = match name {
        "success-rate" => {
            format!("sum({}) / {all}", per_revision(scrape, "count", "http_response_status_code!~\"5..\""))
        }
        "error-rate" => {
            format!("sum({}) / {all}", per_revision(scrape, "count", "http_response_status_code=~\"5..\""))
        }
        _ => {
            let q = match name.strip_prefix("latency-p")? {
                "50" => "0.5",
                "95" => "0.95",
                "99" => "0.99",
                _ => return None,
            };
            format!("histogram_quantile({q}, sum by (le) ({}))", per_revision(scrape, "bucket", ""))
        }
    };
    Some((query, requests))
}

/// Fills a query's placeholders. Revision and namespace names are DNS labels, so they need no
/// quoting inside a PromQL string.
pub fn render(template: &str, revision: &str, stable: &str, namespace: &str, window: Duration) -> String {
    template
        .replace("{{.Canary}}", revision)
        .replace("{{.Stable}}", stable)
        .replace("{{.Namespace}}", namespace)
        .replace("{{.WindowSeconds}}", &window.as_secs().to_string())
        .replace("{{.Window}}", &format!("{}s", window.as_secs()))
}

/// Placeholders a template may use; anything else between `{{` and `}}` is a typo.
pub fn check_template(template: &str) -> Result<(), String> {
    let known = ["{{.Canary}}", "{{.Stable}}", "{{.Namespace}}", "{{.Window}}", "{{.WindowSeconds}}"];
    let mut rest = template;
    while let Some(at) = rest.find("{{") {
        let tail = &rest[at..];
        match known.iter().find(|k| tail.starts_with(*k)) {
            Some(k) => rest = &tail[k.len()..],
            None => {
                let end = tail.find("}}").map_or(tail.len(), |e| e + 2);
                return Err(format!(
                    "unknown placeholder {} (known: {{{{.Canary}}}}, {{{{.Stable}}}}, {{{{.Namespace}}}}, {{{{.Window}}}})",
                    &tail[..end]
                ));
            }
        }
    }
    Ok(())
}

/// One value read from a Prometheus answer: a number, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum Sample {
    Value(f64),
    NoData(String),
}

/// Reads the answer of `/api/v1/query`: one series (or a scalar) with a finite value; an empty
/// vector or NaN (a 0/0) is no data; several series, an error answer or another shape are
/// errors, as the reason says.
pub fn parse_answer(answer: &serde_json::Value) -> Result<Sample, String> {
    if answer["status"] != "success" {
        let what = answer["errorType"].as_str().unwrap_or("error");
        let why = answer["error"].as_str().unwrap_or("no reason given");
        return Err(format!("Prometheus answered {what}: {why}"));
    }
    let data = &answer["data"];
    let value = match data["resultType"].as_str() {
        Some("vector") => {
            let result = data["result"].as_array().ok_or("the answer has no result")?;
            match result.as_slice() {
                [] => return Ok(Sample::NoData("no series".into())),
                [one] => &one["value"],
                many => return Err(format!("the query returned {} series; a gate needs one (use sum)", many.len())),
            }
        }
        Some("scalar") => &data["result"],
        other => return Err(format!("the query returned a {}, not a vector", other.unwrap_or("nothing"))),
    };
    let text = value[1].as_str().ok_or("the answer's value is not [time, \"number\"]")?;
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Sample::Value(v)),
        Ok(_) => Ok(Sample::NoData(format!("the value is {text}"))),
        Err(_) => Err(format!("the answer's value '{text}' is not a number")),
    }
}

/// What was measured for one revision: its value and its requests (when counted).
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    pub value: Result<Sample, String>,
    pub requests: Option<Result<Sample, String>>,
}

/// Judges the measurements: (verdict, value, threshold, reason). `stable` is there for a
/// relative threshold only.
pub fn judge(m: &Metric, canary: &Measured, stable: Option<&Measured>, at: &str) -> (Verdict, String, String, String) {
    let window = format_duration(m.window);
    let threshold = m.threshold.to_string();
    let inconclusive = |why: String| (Verdict::Inconclusive, "-".to_string(), threshold.clone(), why);
    let read = |who: &str, x: &Measured| -> Result<(f64, Option<f64>), String> {
        let requests = match &x.requests {
            None => None,
            Some(Err(e)) => return Err(format!("{who}'s requests: {e}")),
            Some(Ok(Sample::NoData(_))) => Some(0.0),
            Some(Ok(Sample::Value(n))) => Some(*n),
        };
        if let Some(n) = requests
            && n < m.min_requests as f64
        {
            return Err(format!(
                "{who} served {} requests in {window}, fewer than the {} needed",
                n.round(),
                m.min_requests
            ));
        }
        match &x.value {
            Err(e) => Err(format!("{who}: {e}")),
            Ok(Sample::NoData(why)) => Err(format!("no data for the {who} in {window} ({why})")),
            Ok(Sample::Value(v)) => Ok((*v, requests)),
        }
    };
    let (value, requests) = match read("canary", canary) {
        Ok(v) => v,
        Err(why) => return inconclusive(format!("{why} at {at}")),
    };
    let served = |n: Option<f64>| n.map(|n| format!(", {} requests", n.round())).unwrap_or_default();
    let (bound, threshold, stable_part) = if m.threshold.relative {
        let Some(stable) = stable else {
            return inconclusive(format!("the stable revision is not known at {at}"));
        };
        match read("stable", stable) {
            Ok((s, n)) => {
                let bound = m.threshold.value * s;
                let (b, sv) = (number(bound), number(s));
                (bound, format!("{} {b} ({} x stable {sv})", m.threshold.op.symbol(), m.threshold.value), served(n))
            }
            Err(why) => return inconclusive(format!("{why} at {at}")),
        }
    } else {
        (m.threshold.value, threshold.clone(), String::new())
    };
    let verdict = if m.threshold.op.holds(value, bound) { Verdict::Pass } else { Verdict::Fail };
    let stable_note = if m.threshold.relative { format!("; stable{stable_part}") } else { String::new() };
    let shown = number(value);
    let reason = format!("canary {shown} over {window} at {at}{}{stable_note}", served(requests));
    (verdict, shown, threshold, reason)
}

/// A measured value for a person: six significant digits, no float noise (0.7000000000000001 ⇒
/// 0.7), integers as integers.
pub fn number(v: f64) -> String {
    if !v.is_finite() || v == 0.0 {
        return v.to_string();
    }
    let decimals = (5 - v.abs().log10().floor() as i32).clamp(0, 15) as usize;
    let text = format!("{v:.decimals$}");
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_string() } else { text }
}

/// Where Prometheus is asked.
#[derive(Clone)]
pub enum Prometheus {
    /// `--prometheus URL` (http only).
    Url(String),
    /// `--prometheus-service NS/NAME:PORT`: through the API server's service proxy, with the
    /// kubeconfig's credentials.
    Service { kube: Box<crate::client::Kube>, namespace: String, name: String, port: String },
}

impl std::fmt::Debug for Prometheus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Prometheus {
    pub fn describe(&self) -> String {
        match self {
            Prometheus::Url(u) => u.clone(),
            Prometheus::Service { namespace, name, port, .. } => format!("service {namespace}/{name}:{port}"),
        }
    }

    /// Runs one instant query at `time` (unix seconds): the parsed JSON answer.
    pub async fn query(&self, promql: &str, time: &str, timeout: Duration) -> Result<serde_json::Value, String> {
        let params = format!("query={}&time={time}", crate::client::encode(promql));
        let asked = async {
            match self {
                Prometheus::Url(base) => get_json(base, &format!("/api/v1/query?{params}")).await,
                Prometheus::Service { kube, namespace, name, port } => {
                    let uri = format!(
                        "/api/v1/namespaces/{}/services/{}:{}/proxy/api/v1/query?{params}",
                        crate::client::encode(namespace),
                        crate::client::encode(name),
                        crate::client::encode(port)
                    );
                    kube.call(http::Method::GET, &uri, None, Some("application/json"))
                        .await
                        .map_err(|e| format!("{e:#}"))
                }
            }
        };
        match tokio::time::timeout(timeout, asked).await {
            Ok(r) => r.map_err(|e| format!("Prometheus at {} cannot be asked: {e}", self.describe())),
            Err(_) => {
                Err(format!("Prometheus at {} did not answer within {}", self.describe(), format_duration(timeout)))
            }
        }
    }
}

/// `--prometheus-service NS/NAME:PORT`.
pub fn parse_service(text: &str) -> Result<(String, String, String), String> {
    let bad = || format!("--prometheus-service '{text}' is not NAMESPACE/NAME:PORT");
    let (ns, rest) = text.split_once('/').ok_or_else(bad)?;
    let (name, port) = rest.split_once(':').ok_or_else(bad)?;
    if [ns, name, port].iter().any(|s| s.is_empty() || s.contains(['/', ':', '?', '#', ' '])) {
        return Err(bad());
    }
    Ok((ns.to_string(), name.to_string(), port.to_string()))
}

/// A GET of `path` on an `http://HOST:PORT[/prefix]` base; 4xx answers of Prometheus carry a
/// JSON error body, which is returned for `parse_answer` to read.
async fn get_json(base: &str, path: &str) -> Result<serde_json::Value, String> {
    let uri: http::Uri = base.parse().map_err(|e| format!("the URL {base} cannot be read: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!("{base} is not an http:// URL (use --prometheus-service for a TLS path)"));
    }
    let authority = uri.authority().ok_or_else(|| format!("{base} has no host"))?.to_string();
    let connect = with_port(&authority);
    let prefix = uri.path().trim_end_matches('/');
    let answer = send(&connect, &authority, "GET", &format!("{prefix}{path}"), None)
        .await
        .map_err(|e| if e.is::<std::io::Error>() { format!("{connect}: {e}") } else { e.to_string() })?;
    serde_json::from_slice(&answer.body).map_err(|_| format!("HTTP {} without a JSON answer", answer.status))
}

/// Evaluates a metric gate at the current time.
pub async fn evaluate(
    m: &Metric,
    prometheus: Option<&Prometheus>,
    namespace: &str,
    canary: &str,
    stable: Option<&str>,
    timeout: Duration,
) -> GateResult {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let at = format!("{}.{:03}", now.as_secs(), now.subsec_millis());
    let threshold = m.threshold.to_string();
    let result = |verdict, value: String, threshold: String, reason: String| GateResult {
        gate: m.name.clone(),
        verdict,
        value,
        threshold,
        reason,
        answered_by: None,
        at: Some(at.clone()),
    };
    let Some(prom) = prometheus else {
        let why = "no Prometheus: give --prometheus URL or --prometheus-service NS/NAME:PORT".to_string();
        return result(Verdict::Inconclusive, "-".into(), threshold, why);
    };
    let stable_name = stable.unwrap_or_default();
    let measure = |rev: &str| {
        let q = render(&m.query, rev, stable_name, namespace, m.window);
        let r = m.requests.as_ref().map(|t| render(t, rev, stable_name, namespace, m.window));
        let at = at.clone();
        async move {
            let value = prom.query(&q, &at, timeout).await.and_then(|a| parse_answer(&a));
            let requests = match r {
                Some(r) => Some(prom.query(&r, &at, timeout).await.and_then(|a| parse_answer(&a))),
                None => None,
            };
            Measured { value, requests }
        }
    };
    let c = measure(canary).await;
    let s = match (m.threshold.relative, stable) {
        (true, Some(rev)) => Some(measure(rev).await),
        _ => None,
    };
    let (verdict, value, threshold, reason) = judge(m, &c, s.as_ref(), &at);
    result(verdict, value, threshold, reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn metric(threshold: &str) -> Metric {
        Metric {
            name: "success-rate".into(),
            query: "q".into(),
            requests: Some("n".into()),
            threshold: parse_threshold(threshold).unwrap(),
            window: Duration::from_secs(60),
            min_requests: 10,
            inconclusive_limit: None,
            on_inconclusive: OnInconclusive::Hold,
        }
    }

    fn measured(value: f64, requests: f64) -> Measured {
        Measured { value: Ok(Sample::Value(value)), requests: Some(Ok(Sample::Value(requests))) }
    }

    #[test]
    fn thresholds_absolute_and_relative() {
        assert_eq!(parse_threshold("< 0.5").unwrap(), Threshold { op: Op::Lt, value: 0.5, relative: false });
        assert_eq!(parse_threshold(">=0.99").unwrap(), Threshold { op: Op::Ge, value: 0.99, relative: false });
        for t in ["<= 1.2 x stable", "<=1.2×stable", "<= 1.2 * stable", "<= 1.2x stable"] {
            assert_eq!(parse_threshold(t).unwrap(), Threshold { op: Op::Le, value: 1.2, relative: true }, "{t}");
        }
        assert_eq!(parse_threshold("> stable").unwrap(), Threshold { op: Op::Gt, value: 1.0, relative: true });
        for bad in ["0.5", "= 1", "< fast", "<= 0 x stable", "< inf", ""] {
            assert!(parse_threshold(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_threshold("<=1.2×stable").unwrap().to_string(), "<= 1.2 x stable");
    }

    #[test]
    fn templates_fill_every_placeholder_and_refuse_typos() {
        let q = render(
            "x{revision=\"{{.Canary}}\",ns=\"{{.Namespace}}\"}[{{.Window}}] / y{r=\"{{.Stable}}\"} * {{.WindowSeconds}}",
            "m-00002",
            "m-00001",
            "team",
            Duration::from_secs(90),
        );
        assert_eq!(q, "x{revision=\"m-00002\",ns=\"team\"}[90s] / y{r=\"m-00001\"} * 90");
        assert!(check_template("a{{.Canary}}b{{.Window}}").is_ok());
        assert!(check_template("a{{.Revision}}").unwrap_err().contains("{{.Revision}}"));
    }

    #[test]
    fn presets_use_queue_proxy_names_and_the_assumed_scrape() {
        let (q, n) = preset("success-rate", Scrape::Labels).unwrap();
        let q = render(&q, "r2", "r1", "ns", Duration::from_secs(60));
        assert_eq!(
            q,
            "sum(rate(kn_serving_invocation_duration_seconds_count{namespace=\"ns\",revision=\"r2\",\
             http_response_status_code!~\"5..\"}[60s])) / sum(rate(kn_serving_invocation_duration_seconds_count\
             {namespace=\"ns\",revision=\"r2\"}[60s]))"
        );
        assert!(render(&n, "r2", "r1", "ns", Duration::from_secs(60)).ends_with("[60s])) * 60"));
        let (p99, _) = preset("latency-p99", Scrape::TargetInfo).unwrap();
        let p99 = render(&p99, "r2", "r1", "ns", Duration::from_secs(30));
        assert!(p99.starts_with(
            "histogram_quantile(0.99, sum by (le) ((rate(kn_serving_invocation_duration_seconds_bucket{}[30s])"
        ));
        assert!(p99.contains("group_left() target_info{k8s_namespace_name=\"ns\",kn_revision_name=\"r2\"}"));
        assert!(preset("latency-p42", Scrape::Labels).is_none());
        assert!(preset("cpu", Scrape::Labels).is_none());
        for p in PRESETS {
            let (q, n) = preset(p, Scrape::TargetInfo).unwrap();
            assert!(check_template(&q).is_ok() && check_template(&n).is_ok());
        }
    }

    #[test]
    fn answers_are_read_strictly() {
        let vector = |result| json!({"status": "success", "data": {"resultType": "vector", "result": result}});
        assert_eq!(parse_answer(&vector(json!([{"metric": {}, "value": [1.5, "0.25"]}]))), Ok(Sample::Value(0.25)));
        assert_eq!(number(0.7000000000000001), "0.7");
        assert_eq!(number(0.123456789), "0.123457");
        assert_eq!(number(0.000123456789), "0.000123457");
        assert_eq!(number(1234.5), "1234.5");
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.0), "0");
        assert!(matches!(parse_answer(&vector(json!([]))), Ok(Sample::NoData(_))));
        assert!(matches!(parse_answer(&vector(json!([{"metric": {}, "value": [1, "NaN"]}]))), Ok(Sample::NoData(_))));
        let two = json!([{"metric": {"a": "1"}, "value": [1, "1"]}, {"metric": {"a": "2"}, "value": [1, "2"]}]);
        assert!(parse_answer(&vector(two)).unwrap_err().contains("2 series"));
        let scalar = json!({"status": "success", "data": {"resultType": "scalar", "result": [1, "3"]}});
        assert_eq!(parse_answer(&scalar), Ok(Sample::Value(3.0)));
        let err = json!({"status": "error", "errorType": "bad_data", "error": "parse error"});
        assert_eq!(parse_answer(&err).unwrap_err(), "Prometheus answered bad_data: parse error");
        let matrix = json!({"status": "success", "data": {"resultType": "matrix", "result": []}});
        assert!(parse_answer(&matrix).is_err());
    }

    #[test]
    fn absolute_gates_pass_and_fail_with_the_measured_value() {
        let m = metric(">= 0.99");
        let (v, value, threshold, reason) = judge(&m, &measured(0.995, 120.0), None, "100.000");
        assert_eq!((v, value.as_str(), threshold.as_str()), (Verdict::Pass, "0.995", ">= 0.99"));
        assert_eq!(reason, "canary 0.995 over 1m at 100.000, 120 requests");
        let (v, value, ..) = judge(&m, &measured(0.5, 120.0), None, "100.000");
        assert_eq!((v, value.as_str()), (Verdict::Fail, "0.5"));
    }

    #[test]
    fn relative_gates_hold_the_canary_against_stable() {
        let m = metric("<= 1.2 x stable");
        let (v, _, threshold, _) = judge(&m, &measured(0.11, 50.0), Some(&measured(0.1, 500.0)), "1");
        assert_eq!(v, Verdict::Pass);
        assert!(threshold.starts_with("<= 0.12") && threshold.ends_with("(1.2 x stable 0.1)"), "{threshold}");
        let (v, value, ..) = judge(&m, &measured(0.3, 50.0), Some(&measured(0.1, 500.0)), "1");
        assert_eq!((v, value.as_str()), (Verdict::Fail, "0.3"));
        // Without a stable value there is nothing to compare with.
        let none = Measured { value: Ok(Sample::NoData("no series".into())), requests: None };
        assert_eq!(judge(&m, &measured(0.3, 50.0), Some(&none), "1").0, Verdict::Inconclusive);
        assert_eq!(judge(&m, &measured(0.3, 50.0), None, "1").0, Verdict::Inconclusive);
    }

    #[test]
    fn no_data_few_requests_and_errors_are_inconclusive_never_a_pass() {
        let m = metric(">= 0.0");
        let few = judge(&m, &measured(1.0, 3.0), None, "1");
        assert_eq!(few.0, Verdict::Inconclusive);
        assert!(few.3.contains("3 requests") && few.3.contains("fewer than the 10"), "{}", few.3);
        let nothing =
            Measured { value: Ok(Sample::NoData("no series".into())), requests: Some(Ok(Sample::NoData("x".into()))) };
        assert_eq!(judge(&m, &nothing, None, "1").0, Verdict::Inconclusive);
        let down = Measured { value: Err("Prometheus at http://x cannot be asked: refused".into()), requests: None };
        let r = judge(&m, &down, None, "1");
        assert_eq!(r.0, Verdict::Inconclusive);
        assert!(r.3.contains("cannot be asked: refused"));
    }

    #[test]
    fn service_flag_is_namespace_name_port() {
        assert_eq!(
            parse_service("monitoring/prometheus:9090").unwrap(),
            ("monitoring".into(), "prometheus".into(), "9090".into())
        );
        assert_eq!(parse_service("m/p:web").unwrap().2, "web");
        for bad in ["prometheus:9090", "m/p", "m/:1", "/p:1", "m/p:1/x"] {
            assert!(parse_service(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn an_unreachable_prometheus_is_inconclusive_with_the_reason() {
        // A port nothing listens on: bind one, then close it.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let prom = Prometheus::Url(format!("http://127.0.0.1:{port}"));
        let m = metric(">= 0.99");
        let r = evaluate(&m, Some(&prom), "ns", "r2", Some("r1"), Duration::from_secs(5)).await;
        assert_eq!(r.verdict, Verdict::Inconclusive);
        assert!(r.reason.contains(&format!("127.0.0.1:{port}")), "{}", r.reason);
        let r = evaluate(&m, None, "ns", "r2", Some("r1"), Duration::from_secs(5)).await;
        assert_eq!(r.verdict, Verdict::Inconclusive);
        assert!(r.reason.contains("--prometheus"));
    }
}
