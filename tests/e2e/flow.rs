//! KServe's "Canary Rollout Example", step by step with our binary; at every step our table equals
//! `kubectl get isvc` (AGE aside, fakes paused) and our pods equal `kubectl get pods -l …`.

use serde_json::Value;

use crate::harness::*;

fn tagged_url(v: &Value, tag: &str) -> String {
    v["status"]["components"]["predictor"]["traffic"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["tag"] == tag))
        .and_then(|t| t["url"].as_str())
        .unwrap_or_else(|| panic!("no {tag} URL in status: {}", v["status"]))
        .to_string()
}

#[test]
fn canary_rollout_example_step_by_step() {
    let ns = Ns::new("canary-example");
    let name = "sklearn-iris";
    let (r1, r2, r3) = (rev(name, 1), rev(name, 2), rev(name, 3));
    ns.create_ready(name, MODEL_1);
    ns.assert_status_matches_kubectl(name);

    // Canary 10% with the second model, NAME omitted (the only one in the namespace).
    let out = ns.plugin(["set", "10", "--model-uri", MODEL_2, "--wait"]);
    out.ok()
        .stdout_is("inferenceservice.serving.kserve.io/sklearn-iris canary set\n")
        .stderr_has(&format!("{}/{name} @ ", ns.name))
        .stderr_has("sklearn-iris");
    let v = ns.get(name);
    assert_eq!(
        traffic(&v),
        vec![(r2.clone(), 10, String::new(), true), (r1.clone(), 90, "prev".into(), false)],
        "canary split\n{}",
        out.describe()
    );
    assert_eq!(v["spec"]["predictor"]["canaryTrafficPercent"], 10);
    assert_eq!(v["spec"]["predictor"]["model"]["storageUri"], MODEL_2);
    assert_eq!(v["status"]["components"]["predictor"]["latestRolledoutRevision"], r1.as_str());
    ns.assert_status_matches_kubectl(name);

    // The JSON view says the same, with the models of both revisions and their pods.
    let j = ns.plugin(["status", name, "-o", "json"]).ok().json();
    assert_eq!(j["name"], name);
    assert_eq!(j["namespace"], ns.name.as_str());
    assert_eq!(j["mode"], "Knative");
    let p = &j["components"]["predictor"];
    assert_eq!(p["desiredPercent"], 10);
    assert_eq!(p["latestCreatedRevision"], r2.as_str());
    assert_eq!(p["latestReadyRevision"], r2.as_str());
    assert_eq!(p["latestRolledoutRevision"], r1.as_str());
    let t = p["traffic"].as_array().expect("traffic");
    assert_eq!(t.len(), 2, "{j}");
    assert_eq!(
        (t[0]["revision"].as_str(), t[0]["percent"].as_i64(), t[0]["latest"].as_bool()),
        (Some(r2.as_str()), Some(10), Some(true))
    );
    assert_eq!(
        (t[1]["revision"].as_str(), t[1]["percent"].as_i64(), t[1]["tag"].as_str()),
        (Some(r1.as_str()), Some(90), Some("prev"))
    );
    for pod in p["pods"].as_array().expect("pods") {
        assert!(pod["restarts"].is_i64(), "restarts is an integer: {pod}");
    }
    for r in [&r1, &r2] {
        assert!(
            p["pods"].as_array().unwrap().iter().any(|pod| pod["revision"] == r.as_str() && pod["status"] == "Running"),
            "a running pod of {r}: {j}"
        );
    }

    // Promote.
    let out = ns.plugin(["promote", name, "--wait"]);
    out.ok().stdout_is("inferenceservice.serving.kserve.io/sklearn-iris promoted\n");
    let v = ns.get(name);
    assert_eq!(traffic(&v), vec![(r2.clone(), 100, String::new(), true)], "{}", out.describe());
    assert!(v["spec"]["predictor"].get("canaryTrafficPercent").is_none());
    let ps = &v["status"]["components"]["predictor"];
    assert_eq!(
        (ps["latestRolledoutRevision"].as_str(), ps["previousRolledoutRevision"].as_str()),
        (Some(r2.as_str()), Some(r1.as_str()))
    );
    ns.assert_status_matches_kubectl(name);
    ns.assert_no_headers_matches_kubectl(name);

    // Roll back (pin to the first model): done only after the second pass (facts §4.5-6).
    let out = ns.plugin(["rollback", name, "--wait"]);
    out.ok()
        .stdout_is("inferenceservice.serving.kserve.io/sklearn-iris rolled back\n")
        .stderr_has(&r1)
        .stderr_has(MODEL_1);
    let v = ns.get(name);
    assert_eq!(
        traffic(&v),
        vec![(r2.clone(), 0, String::new(), true), (r1.clone(), 100, "prev".into(), false)],
        "pinned to r1 when the wait returned\n{}",
        out.describe()
    );
    assert_eq!(v["spec"]["predictor"]["canaryTrafficPercent"], 0);
    let ps = &v["status"]["components"]["predictor"];
    assert_eq!(
        (ps["latestRolledoutRevision"].as_str(), ps["previousRolledoutRevision"].as_str()),
        (Some(r1.as_str()), Some(r1.as_str()))
    );
    ns.assert_status_matches_kubectl(name);

    // Canary 10 again, then tag routing: a new revision r3 gets the 10%.
    ns.plugin(["set", name, "10", "--wait"])
        .ok()
        .stdout_is("inferenceservice.serving.kserve.io/sklearn-iris canary set\n");
    let v = ns.get(name);
    assert_eq!(traffic(&v), vec![(r2.clone(), 10, String::new(), true), (r1.clone(), 90, "prev".into(), false)]);
    let out = ns.plugin(["tag-routing", name, "on", "--wait"]);
    out.ok().stdout_has_line("inferenceservice.serving.kserve.io/sklearn-iris tag routing enabled");
    let v = ns.get(name);
    assert_eq!(v["metadata"]["annotations"]["serving.kserve.io/enable-tag-routing"], "true");
    assert_eq!(
        traffic(&v),
        vec![(r3.clone(), 10, "latest".into(), true), (r1.clone(), 90, "prev".into(), false)],
        "{}",
        out.describe()
    );
    let latest = tagged_url(&v, "latest");
    let prev = tagged_url(&v, "prev");
    assert_eq!(latest, format!("http://latest-{name}-predictor.{}.example.com", ns.name));
    out.stdout_has_line(&format!("latest: {latest}")).stdout_has_line(&format!("prev: {prev}"));
    let latest_host = latest.trim_start_matches("http://");
    // The curl line of the latest- host, on one line with the model's predict path.
    let curl = format!("  curl -H \"Host: {latest_host}\" ");
    let predict = format!("/v1/models/{name}:predict ");
    assert!(
        out.stdout.lines().any(|l| l.starts_with(&curl) && l.contains(&predict)),
        "no line {curl:?}…{predict:?}\n{}",
        out.describe()
    );
    ns.assert_status_matches_kubectl(name);

    // Through the ingress: the latest- host answers from r3, the prev- host from r1.
    let body = r#"{"instances": [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]}"#;
    let path = format!("/v1/models/{name}:predict");
    let (status, headers, answer) = http(&ns.cluster.ingress, latest_host, "POST", &path, body);
    assert!(status.contains(" 200 "), "{status} {headers:?} {answer}");
    assert_eq!(headers.get("x-sim-revision"), Some(&r3), "{headers:?}");
    assert_eq!(headers.get("knative-serving-revision"), Some(&r3), "{headers:?}");
    let (status, headers, answer) = http(&ns.cluster.ingress, prev.trim_start_matches("http://"), "POST", &path, body);
    assert!(status.contains(" 200 "), "{status} {headers:?} {answer}");
    assert_eq!(headers.get("x-sim-revision"), Some(&r1), "{headers:?}");
}
