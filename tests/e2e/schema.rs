//! Objects that are not the plain `predictor.model` case: the old framework schema (which KServe's
//! mutating webhook converts) and an InferenceService with a transformer.

use serde_json::json;

use crate::harness::*;

#[test]
fn old_schema_object_gets_its_canary() {
    let ns = Ns::new("old-schema");
    let name = "legacy";
    let doc = isvc_doc(name, json!({"predictor": {"sklearn": {"storageUri": MODEL_1}}}));
    ns.apply(&doc.to_string());
    // KServe's defaulter converts the framework field into `model` (seen on v0.17.0): no object
    // on a cluster keeps `predictor.sklearn`, so the plugin meets the converted object.
    let stored = ns.get(name);
    let p = &stored["spec"]["predictor"];
    assert!(
        p.get("sklearn").is_none() && p["model"]["modelFormat"]["name"] == "sklearn",
        "stored as predictor.model: {p}"
    );
    ns.wait_rolled_out(name);

    let out = ns.plugin(["set", name, "10", "--model-uri", MODEL_2, "--print-patch"]);
    let patch = out.ok().json();
    assert_eq!(patch, json!({"spec": {"predictor": {"canaryTrafficPercent": 10, "model": {"storageUri": MODEL_2}}}}));

    ns.plugin(["set", name, "10", "--model-uri", MODEL_2, "--wait"]).ok();
    let v = ns.get(name);
    let p = &v["spec"]["predictor"];
    assert_eq!(p["model"]["storageUri"], MODEL_2, "{p}");
    assert!(p.get("sklearn").is_none(), "{p}");
    assert_eq!(traffic(&v), vec![(rev(name, 2), 10, String::new(), true), (rev(name, 1), 90, "prev".into(), false)]);
    // status -o wide names the model of each revision.
    let out = ns.plugin(["status", name, "-o", "wide"]);
    let models: Vec<(String, String)> =
        revision_rows(&out.ok().stdout).iter().map(|r| (r["REVISION"].clone(), r["MODEL"].clone())).collect();
    assert_eq!(models, [(rev(name, 2), MODEL_2.into()), (rev(name, 1), MODEL_1.into())], "{}", out.describe());
}

#[test]
fn transformer_component_has_its_own_split() {
    let ns = Ns::new("transformer");
    let name = "with-transformer";
    let doc = isvc_doc(
        name,
        json!({
            "predictor": sklearn_predictor(MODEL_1),
            "transformer": {"containers": [{"name": "kserve-container", "image": "kserve/image-transformer:latest"}]}
        }),
    );
    ns.apply(&doc.to_string());
    let t1 = format!("{name}-transformer-00001");
    ns.wait_isvc(name, "predictor and transformer rolled out", ROLLOUT, |v| {
        let t = &v["status"]["components"]["transformer"];
        condition(v, "Ready") == "True" && t["latestRolledoutRevision"] == t1.as_str()
    });
    let before = ns.get(name);

    // --model-uri on a transformer without a storage URI: refused.
    ns.plugin(["set", name, "20", "--component", "transformer", "--model-uri", MODEL_2])
        .code(7)
        .stderr_has("storage URI");
    assert_eq!(owned_view(&ns.get(name)), owned_view(&before));

    let out = ns.plugin(["set", name, "20", "--component", "transformer", "--wait"]);
    out.ok().stdout_is(&format!("inferenceservice.serving.kserve.io/{name} canary set\n"));
    let after = ns.get(name);
    assert_eq!(
        owned_view(&after),
        merged(&owned_view(&before), &json!({"spec": {"transformer": {"canaryTrafficPercent": 20}}})),
        "only the transformer's ctp changed"
    );
    let t = &after["status"]["components"]["transformer"]["traffic"];
    let split: Vec<(String, i64)> = t
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["revisionName"].as_str().unwrap_or_default().to_string(), e["percent"].as_i64().unwrap_or(0)))
        .collect();
    assert_eq!(split, vec![(t1.clone(), 20), (t1.clone(), 80)], "{t}");
    // The predictor is untouched: still one entry at 100%.
    assert_eq!(traffic(&after), vec![(rev(name, 1), 100, String::new(), true)]);
    let j = ns.plugin(["status", name, "-o", "json"]).ok().json();
    assert_eq!(j["components"]["transformer"]["desiredPercent"], 20);
    assert!(j["components"]["predictor"]["desiredPercent"].is_null());
    ns.plugin(["wait", name, "--component", "transformer", "--for=traffic=20", "--timeout", "2m"]).ok();
    ns.plugin(["promote", name, "--component", "transformer", "--wait"]).ok();
    assert!(ns.get(name)["spec"]["transformer"].get("canaryTrafficPercent").is_none());
}
