//! What `status` shows of a Standard-mode InferenceService (contract, "Standard mode"): the
//! stable predictor and each canary, the actual routing read from what KServe configured, and
//! the pods of each variant. Pure: the command reads, this builds and renders.

use serde::Serialize;
use serde_json::Value;

use crate::isvc::{Component, Isvc};
use crate::output::{render_table, sanitize};
use crate::standard::{DeploymentState, deployment_name, route_backends, routed_percent};
use crate::view::PodView;

/// What KServe configured for requests to the InferenceService's URL.
#[derive(Debug, Clone, PartialEq)]
pub enum RouteSource {
    /// The HTTPRoute `{isvc}` (Gateway API).
    HttpRoute { name: String, object: Value },
    /// The networking.k8s.io Ingress `{isvc}` (no weights: each backend takes what its rule matches).
    Ingress { name: String, object: Value },
    /// Neither could be read: why.
    Unknown(String),
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StandardView {
    pub mode: &'static str,
    pub variants: Vec<VariantView>,
    pub routing: RoutingView,
    /// Why pods could not be listed, when they could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pods_note: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VariantView {
    /// `stable` or `canary`.
    pub role: &'static str,
    /// `predictor.name` (empty for an unnamed stable predictor).
    pub name: String,
    pub model: Option<String>,
    /// The canary's `trafficPercent`; `None` for the stable predictor.
    pub percent_asked: Option<i64>,
    pub deployment: String,
    pub replicas_desired: Option<i64>,
    pub replicas_ready: Option<i64>,
    pub ready: bool,
    /// The in-cluster address of the variant's Service.
    pub address: String,
    /// The share of requests through the InferenceService's URL that reach it; `None` unknown.
    pub routed_percent: Option<i64>,
    pub pods: Vec<PodView>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RoutingView {
    /// `HTTPRoute NAME`, `Ingress NAME`, or `unknown`.
    pub source: String,
    pub backends: Vec<Backend>,
    /// The plain sentence: where requests go, and where they do not.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Backend {
    pub service: String,
    pub weight: i64,
}

/// The backend Services of an Ingress (no weights: 1 each).
fn ingress_backends(ingress: &Value) -> Vec<(String, i64)> {
    let mut out: Vec<(String, i64)> = Vec::new();
    let rules = ingress.pointer("/spec/rules").and_then(Value::as_array).into_iter().flatten();
    let paths = rules.filter_map(|r| r.pointer("/http/paths").and_then(Value::as_array)).flatten();
    let default = ingress.pointer("/spec/defaultBackend/service/name").and_then(Value::as_str);
    for name in paths.filter_map(|p| p.pointer("/backend/service/name").and_then(Value::as_str)).chain(default) {
        if !out.iter().any(|(n, _)| n == name) {
            out.push((name.to_string(), 1));
        }
    }
    out
}

/// Builds the view from one reading of the object, its Deployments, the route and the pods of
/// each variant (by Deployment name).
pub fn build(
    isvc: &Isvc,
    deployments: &[DeploymentState],
    route: &RouteSource,
    pods: &[(String, Vec<PodView>)],
    pods_note: Option<String>,
) -> StandardView {
    let (source, backends) = match route {
        RouteSource::HttpRoute { name, object } => (format!("HTTPRoute {name}"), Some(route_backends(object))),
        RouteSource::Ingress { name, object } => (format!("Ingress {name}"), Some(ingress_backends(object))),
        RouteSource::Unknown(_) => ("unknown".to_string(), None),
    };
    let statuses = isvc.canary_statuses();
    let mut variants = Vec::new();
    let stable_name = isvc.predictor_name();
    let mut push =
        |role: &'static str, name: Option<&str>, model: Option<String>, percent: Option<i64>, ready: bool| {
            let deployment = deployment_name(&isvc.name, name);
            let d = deployments.iter().find(|d| d.name == deployment);
            let variant_pods = pods.iter().find(|(n, _)| n == &deployment).map(|(_, p)| p.clone()).unwrap_or_default();
            variants.push(VariantView {
                role,
                name: name.unwrap_or_default().to_string(),
                model,
                percent_asked: percent,
                replicas_desired: d.map(|d| d.desired),
                replicas_ready: d.map(|d| d.ready),
                ready,
                address: format!("{deployment}.{}.svc", isvc.namespace),
                routed_percent: backends.as_ref().map(|b| routed_percent(b, &deployment)),
                deployment,
                pods: variant_pods,
            });
        };
    let stable_ready = isvc.condition("PredictorReady").is_some_and(|c| c.status == "True");
    push("stable", stable_name, isvc.model_uri(Component::Predictor), None, stable_ready);
    for c in isvc.canaries() {
        let ready = statuses.iter().any(|s| s.name == c.name && s.ready);
        push("canary", Some(&c.name), c.model_uri.clone(), Some(c.percent), ready);
    }
    let mut notes = Vec::new();
    match (&backends, route) {
        (None, RouteSource::Unknown(why)) => {
            notes.push(format!("routing unknown: {why}; where requests to the InferenceService's URL go is not known"))
        }
        (Some(b), _) => {
            for v in variants.iter().filter(|v| v.role == "canary") {
                match v.routed_percent {
                    Some(0) | None => notes.push(format!(
                        "no request reaches the canary {} through the InferenceService's URL ({source} routes to {}, \
                         whatever the {}% asked: this KServe release sizes the canary's replicas by it and routes \
                         nothing); the canary answers in-cluster at http://{}",
                        v.name,
                        if b.is_empty() {
                            "no backend".to_string()
                        } else {
                            b.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
                        },
                        v.percent_asked.unwrap_or(0),
                        v.address
                    )),
                    Some(p) => notes.push(format!(
                        "{p}% of the requests to the InferenceService's URL reach the canary {}",
                        v.name
                    )),
                }
            }
        }
        _ => {}
    }
    StandardView {
        mode: "Standard",
        variants,
        routing: RoutingView {
            source,
            backends: backends
                .unwrap_or_default()
                .into_iter()
                .map(|(service, weight)| Backend { service, weight })
                .collect(),
            notes,
        },
        pods_note,
    }
}

/// The text after the InferenceService table.
pub fn render(view: &StandardView, no_headers: bool) -> String {
    let mut out = String::from("\nmode: Standard (spec.canary)\n");
    let opt = |v: Option<i64>| v.map_or("-".to_string(), |n| n.to_string());
    let rows: Vec<Vec<String>> = view
        .variants
        .iter()
        .map(|v| {
            vec![
                v.role.to_string(),
                if v.name.is_empty() { "-".to_string() } else { sanitize(&v.name) },
                sanitize(v.model.as_deref().unwrap_or("-")),
                v.percent_asked.map_or("-".to_string(), |p| format!("{p}%")),
                format!("{}/{}", opt(v.replicas_ready), opt(v.replicas_desired)),
                if v.ready { "True" } else { "False" }.to_string(),
                v.routed_percent.map_or("unknown".to_string(), |p| format!("{p}%")),
                sanitize(&v.address),
            ]
        })
        .collect();
    out.push_str(&render_table(
        &["VARIANT", "NAME", "MODEL", "ASKED", "READY/DESIRED", "READY", "ROUTED", "ADDRESS"],
        &rows,
        no_headers,
    ));
    let backends: Vec<String> =
        view.routing.backends.iter().map(|b| format!("{} (weight {})", sanitize(&b.service), b.weight)).collect();
    out.push_str(&format!(
        "routing ({}): {}\n",
        sanitize(&view.routing.source),
        if backends.is_empty() { "no backend read".to_string() } else { backends.join(", ") }
    ));
    for note in &view.routing.notes {
        out.push_str(&format!("  {}\n", sanitize(note)));
    }
    if let Some(note) = &view.pods_note {
        out.push_str(&format!("pods: {}\n", sanitize(note)));
    }
    for v in &view.variants {
        if v.pods.is_empty() {
            out.push_str(&format!("pods of {}: none\n", sanitize(&v.deployment)));
            continue;
        }
        out.push_str(&format!("pods of {}:\n", sanitize(&v.deployment)));
        let rows: Vec<Vec<String>> = v
            .pods
            .iter()
            .map(|p| {
                vec![
                    sanitize(&p.name),
                    sanitize(&p.ready),
                    sanitize(&p.status),
                    sanitize(&p.restarts_text),
                    sanitize(&p.age),
                ]
            })
            .collect();
        out.push_str(&render_table(&["NAME", "READY", "STATUS", "RESTARTS", "AGE"], &rows, no_headers));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn isvc() -> Isvc {
        Isvc::from_value(json!({
            "metadata": {"name": "iris", "namespace": "t"},
            "spec": {"predictor": {"model": {"storageUri": "gs://m1"}},
                     "canary": [{"predictor": {"name": "v2", "model": {"storageUri": "gs://m2"}}, "trafficPercent": 25}]},
            "status": {"deploymentMode": "Standard",
                       "conditions": [{"type": "PredictorReady", "status": "True"}],
                       "canaryStatuses": [{"name": "v2", "ready": true, "trafficPercent": 25}]}
        }))
    }

    fn deployments() -> Vec<DeploymentState> {
        vec![
            DeploymentState { name: "iris-predictor".into(), desired: 3, ready: 3, ..Default::default() },
            DeploymentState { name: "iris-v2-predictor".into(), desired: 1, ready: 1, ..Default::default() },
        ]
    }

    #[test]
    fn v0_20_routes_nothing_to_the_canary_and_says_so() {
        let route = json!({"spec": {"rules": [{"backendRefs": [{"name": "iris-predictor", "port": 80}]}]}});
        let view =
            build(&isvc(), &deployments(), &RouteSource::HttpRoute { name: "iris".into(), object: route }, &[], None);
        assert_eq!(view.variants[0].routed_percent, Some(100));
        assert_eq!(view.variants[1].routed_percent, Some(0));
        assert_eq!(view.variants[1].replicas_desired, Some(1));
        let text = render(&view, false);
        assert!(text.contains("no request reaches the canary v2 through the InferenceService's URL"), "{text}");
        assert!(text.contains("http://iris-v2-predictor.t.svc"), "{text}");
        assert!(text.contains("routing (HTTPRoute iris): iris-predictor (weight 1)"), "{text}");
    }

    #[test]
    fn a_weighted_route_gives_the_canary_its_share() {
        let route = json!({"spec": {"rules": [{"backendRefs": [
            {"name": "iris-predictor", "weight": 75}, {"name": "iris-v2-predictor", "weight": 25}]}]}});
        let view =
            build(&isvc(), &deployments(), &RouteSource::HttpRoute { name: "iris".into(), object: route }, &[], None);
        assert_eq!(view.variants[1].routed_percent, Some(25));
        assert!(view.routing.notes[0].starts_with("25% of the requests"));
    }

    #[test]
    fn no_route_is_unknown_never_a_guess() {
        let view =
            build(&isvc(), &deployments(), &RouteSource::Unknown("no HTTPRoute or Ingress iris".into()), &[], None);
        assert_eq!(view.variants[1].routed_percent, None);
        assert_eq!(view.routing.source, "unknown");
        let text = render(&view, false);
        assert!(text.contains("routing unknown"), "{text}");
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["variants"][1]["percentAsked"], 25);
    }

    #[test]
    fn an_ingress_names_its_backends() {
        let ingress =
            json!({"spec": {"rules": [{"http": {"paths": [{"backend": {"service": {"name": "iris-predictor"}}}]}}]}});
        let view =
            build(&isvc(), &deployments(), &RouteSource::Ingress { name: "iris".into(), object: ingress }, &[], None);
        assert_eq!(view.routing.source, "Ingress iris");
        assert_eq!(view.variants[1].routed_percent, Some(0));
    }
}
