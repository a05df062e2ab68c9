//! `tag-routing [NAME] on|off`: the `serving.kserve.io/enable-tag-routing` annotation, and the
//! `latest-`/`prev-` URLs with ready-to-run curl commands.

use anyhow::Result;

use super::Ctx;
use super::mutate::{self, Mutation};
use crate::cli::TagRoutingArgs;
use crate::error::{Exit, fail};
use crate::isvc::{Component, Isvc};
use crate::resolve::resolve;
use crate::rules::{check_mode, plan_tag_routing};
use crate::wait::Goal;

pub async fn run(ctx: &Ctx, args: &TagRoutingArgs) -> Result<Exit> {
    let name = args.name.as_deref();
    let on = match (name, args.state.as_str()) {
        (_, "on") => true,
        (_, "off") => false,
        // `tag-routing NAME`: no change asked, so show where it stands.
        (None, only_name) => return show(ctx, args, only_name).await,
        (Some(_), other) => return Err(fail(Exit::Usage, format!("tag-routing takes on or off (got '{other}')"))),
    };
    let wait = args.write.wait_limits()?;
    if let Some(input) = &args.input
        && !input.is_file()
    {
        return Err(fail(Exit::Usage, format!("--input {}: no such file", input.display())));
    }
    let isvc = resolve(&ctx.kube, &ctx.term, name).await?;
    if super::standard::is_standard(&isvc) {
        return Err(crate::standard::refuse_tag_routing(&isvc).into());
    }
    check_mode(&isvc)?;
    for warning in tag_warnings(&isvc) {
        ctx.term.warn(&warning);
    }
    let verb = if on { "tag routing enabled" } else { "tag routing disabled" };
    let show_urls = on && args.write.dry_run.is_none() && !args.write.print_patch;
    let snapshot = isvc.clone();
    let m = Mutation {
        name: None,
        pre_read: Some(isvc),
        component: None,
        write: &args.write,
        wait,
        expect_revision: None,
        verb,
    };
    let exit =
        mutate::run(ctx, m, |i| Ok(plan_tag_routing(i, on)), |i, _| Goal::for_ctp(i.ctp(Component::Predictor))).await?;
    if show_urls {
        // The last state: re-read only when we waited (status then carries the tag URLs).
        let current =
            if args.write.wait { ctx.kube.get_isvc(&snapshot.namespace, &snapshot.name).await? } else { snapshot };
        let text =
            render_urls(&current, args.input.as_deref().map(|p| p.display().to_string()).as_deref(), &ingress_env());
        if ctx.output().is_none() {
            print!("{text}");
        } else {
            eprint!("{text}");
        }
    }
    Ok(exit)
}

/// `tag-routing NAME`: the current state on stdout, and the tag URLs when it is on.
async fn show(ctx: &Ctx, args: &TagRoutingArgs, name: &str) -> Result<Exit> {
    let isvc = resolve(&ctx.kube, &ctx.term, Some(name)).await?;
    let input = args.input.as_deref().map(|p| p.display().to_string());
    print!("{}", render_state(&isvc, input.as_deref(), &ingress_env()));
    Ok(Exit::Ok)
}

/// The tag-routing state of an InferenceService, with its URLs and curl lines when it is on.
pub fn render_state(isvc: &Isvc, input: Option<&str>, ingress: &(Option<String>, Option<String>)) -> String {
    if !isvc.tag_routing() {
        return format!(
            "tag routing is off for {}/{} (turn it on: kubectl isvc-canary -n {} tag-routing {} on)\n",
            isvc.namespace, isvc.name, isvc.namespace, isvc.name
        );
    }
    format!("tag routing is on for {}/{}\n{}", isvc.namespace, isvc.name, render_urls(isvc, input, ingress))
}

/// `INGRESS_HOST` and `INGRESS_PORT` from the environment, if set.
fn ingress_env() -> (Option<String>, Option<String>) {
    let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    (get("INGRESS_HOST"), get("INGRESS_PORT"))
}

/// Problems a tag URL will have: a DNS label over 63 characters, or no external route at all.
pub fn tag_warnings(isvc: &Isvc) -> Vec<String> {
    let mut out = Vec::new();
    let s = isvc.component_status(Component::Predictor);
    if let Some(host) = s.url.as_deref().and_then(host_of) {
        let label = host.split('.').next().unwrap_or_default();
        for tag in ["latest", "prev"] {
            let len = tag.len() + 1 + label.len();
            if len > 63 {
                out.push(format!(
                    "the host label {tag}-{label} is {len} characters, over DNS's 63: the {tag} URL will not resolve"
                ));
            }
        }
        if host.ends_with(".svc.cluster.local") || host.ends_with(".svc") {
            out.push(format!(
                "{} is cluster-local: its tag URLs are reachable only from inside the cluster",
                isvc.name
            ));
        }
    }
    if isvc.labels.get("networking.knative.dev/visibility").map(String::as_str) == Some("cluster-local") {
        out.push(format!("{} is cluster-local (networking.knative.dev/visibility): no ingress route", isvc.name));
    }
    out.dedup();
    out
}

fn host_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    Some(rest.split(['/', ':']).next().unwrap_or(rest))
}

/// The tag URLs and curl commands, pure: hosts and domain from status only.
pub fn render_urls(isvc: &Isvc, input: Option<&str>, ingress: &(Option<String>, Option<String>)) -> String {
    let s = isvc.component_status(Component::Predictor);
    let path = match isvc.protocol() {
        "v2" => format!("/v2/models/{}/infer", isvc.name),
        _ => format!("/v1/models/{}:predict", isvc.name),
    };
    let host_var = ingress.0.clone().unwrap_or_else(|| "${INGRESS_HOST}".into());
    let port_var = ingress.1.clone().unwrap_or_else(|| "${INGRESS_PORT}".into());
    let data = input.map_or_else(|| "-d @./input.json".to_string(), |f| format!("-d @{f}"));
    let mut out = String::new();
    let tagged: Vec<(&str, &str)> = ["latest", "prev"]
        .into_iter()
        .filter_map(|tag| {
            s.traffic.iter().find(|t| t.tag.as_deref() == Some(tag)).and_then(|t| t.url.as_deref()).map(|u| (tag, u))
        })
        .collect();
    if tagged.is_empty() {
        out.push_str("tag URLs: not in status yet (they appear once the new revision is ready; run with --wait, or `kubectl isvc-canary status`)\n");
        return out;
    }
    for (tag, url) in tagged {
        let Some(host) = host_of(url) else { continue };
        out.push_str(&format!("{tag}: {url}\n"));
        if url.starts_with("https://") {
            out.push_str(&format!(
                "  curl --resolve {host}:{port_var}:{host_var} -H \"Content-Type: application/json\" https://{host}:{port_var}{path} {data}\n"
            ));
        } else {
            out.push_str(&format!(
                "  curl -H \"Host: {host}\" -H \"Content-Type: application/json\" http://{host_var}:{port_var}{path} {data}\n"
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tagged(url_scheme: &str, protocol: Option<&str>) -> Isvc {
        let mut model = json!({"storageUri": "gs://x"});
        if let Some(p) = protocol {
            model["protocolVersion"] = json!(p);
        }
        Isvc::from_value(json!({"metadata": {"name": "sklearn-iris"},
            "spec": {"predictor": {"model": model}},
            "status": {"components": {"predictor": {"url": format!("{url_scheme}://sklearn-iris-predictor.kserve-test.example.com"),
              "traffic": [
                {"tag": "latest", "latestRevision": true, "percent": 10, "revisionName": "r3", "url": format!("{url_scheme}://latest-sklearn-iris-predictor.kserve-test.example.com")},
                {"tag": "prev", "latestRevision": false, "percent": 90, "revisionName": "r1", "url": format!("{url_scheme}://prev-sklearn-iris-predictor.kserve-test.example.com")}]}}}}))
    }

    #[test]
    fn curl_uses_host_header_and_v1_path() {
        let text = render_urls(&tagged("http", None), Some("./iris-input.json"), &(None, None));
        assert!(text.contains("latest: http://latest-sklearn-iris-predictor.kserve-test.example.com\n"));
        assert!(text.contains("curl -H \"Host: latest-sklearn-iris-predictor.kserve-test.example.com\" -H \"Content-Type: application/json\" http://${INGRESS_HOST}:${INGRESS_PORT}/v1/models/sklearn-iris:predict -d @./iris-input.json"));
        assert!(text.contains("prev: http://prev-"));
    }

    #[test]
    fn env_values_and_v2_path() {
        let text = render_urls(&tagged("http", Some("v2")), None, &(Some("127.0.0.1".into()), Some("8080".into())));
        assert!(text.contains("http://127.0.0.1:8080/v2/models/sklearn-iris/infer"));
    }

    #[test]
    fn https_uses_resolve() {
        let text = render_urls(&tagged("https", None), None, &(None, None));
        assert!(text.contains(
            "curl --resolve latest-sklearn-iris-predictor.kserve-test.example.com:${INGRESS_PORT}:${INGRESS_HOST}"
        ));
        assert!(!text.contains("Host:"));
    }

    #[test]
    fn long_labels_are_warned() {
        let long = "a".repeat(60);
        let i = Isvc::from_value(json!({"metadata": {"name": long},
            "status": {"components": {"predictor": {"url": format!("http://{long}-predictor.ns.example.com")}}}}));
        assert!(tag_warnings(&i).iter().any(|w| w.contains("over DNS's 63")));
    }

    #[test]
    fn state_says_on_or_off_and_how_to_turn_it_on() {
        let mut on = tagged("http", None);
        on.annotations.insert(crate::isvc::TAG_ROUTING_ANNOTATION.into(), "true".into());
        on.namespace = "t".into();
        let text = render_state(&on, None, &(None, None));
        assert!(text.starts_with("tag routing is on for t/sklearn-iris\nlatest: http://latest-"), "{text}");
        let off = Isvc::from_value(json!({"metadata": {"name": "m", "namespace": "t"}}));
        assert_eq!(
            render_state(&off, None, &(None, None)),
            "tag routing is off for t/m (turn it on: kubectl isvc-canary -n t tag-routing m on)\n"
        );
    }

    #[test]
    fn no_tag_urls_yet_says_so() {
        let i = Isvc::from_value(json!({"metadata": {"name": "m"}}));
        assert!(render_urls(&i, None, &(None, None)).contains("not in status yet"));
    }
}
