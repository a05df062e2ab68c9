//! Pure builders of the only writes the plugin makes: JSON merge patches of
//! `canaryTrafficPercent`, the model URI and the tag-routing annotation, and the JSON Patch form
//! used when `--expect-revision` needs an atomic `test`.

use serde_json::{Map, Value, json};

use crate::isvc::{Component, Isvc, ModelField, OwnedFields, TAG_ROUTING_ANNOTATION};

pub const FIELD_MANAGER: &str = "kubectl-isvc-canary";

/// What a command wants the object to look like, in the fields the plugin owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Set `canaryTrafficPercent` (and maybe the model URI in the given field). `tag_routing_on`
    /// also turns tag routing on in the same patch (a rollout's first step: the annotation cuts a
    /// revision of its own, so it rides with the model change).
    Traffic { component: Component, percent: Option<i64>, model: Option<(ModelField, String)>, tag_routing_on: bool },
    /// Turn the tag-routing annotation on ("true") or remove it.
    TagRouting(bool),
}

impl Change {
    /// The owned fields once this change is in place, from those it was decided on: how a
    /// re-read tells "applied" (ours, or an identical one) from "not applied".
    pub fn fields_after(&self, before: &OwnedFields) -> OwnedFields {
        let mut after = before.clone();
        match self {
            Change::Traffic { percent, model, tag_routing_on, .. } => {
                after.canary_traffic_percent = *percent;
                if let Some((_, uri)) = model {
                    after.model_uri = Some(uri.clone());
                }
                if *tag_routing_on {
                    after.tag_routing = Some("true".to_string());
                }
            }
            Change::TagRouting(on) => after.tag_routing = on.then(|| "true".to_string()),
        }
        after
    }

    /// Does the change touch the revision template (a new model, or the annotation that every
    /// revision carries)? Then it is done only once a NEW revision is ready.
    pub fn changes_template(&self) -> bool {
        matches!(
            self,
            Change::TagRouting(_)
                | Change::Traffic { model: Some(_), .. }
                | Change::Traffic { tag_routing_on: true, .. }
        )
    }
}

/// The JSON merge patch for a change, with the read's resourceVersion as precondition.
pub fn merge_patch(change: &Change, resource_version: &str) -> Value {
    let mut patch = json!({"metadata": {"resourceVersion": resource_version}});
    match change {
        Change::Traffic { component, percent, model, tag_routing_on } => {
            if *tag_routing_on {
                patch["metadata"]["annotations"] = json!({ TAG_ROUTING_ANNOTATION: "true" });
            }
            let mut spec = Map::new();
            spec.insert("canaryTrafficPercent".into(), percent.map_or(Value::Null, Value::from));
            if let Some((field, uri)) = model {
                let holder = match field {
                    ModelField::Model => "model",
                    ModelField::Framework(fw) => fw.as_str(),
                    // Guard rails refuse --model-uri before a patch is built for this case.
                    ModelField::None => "model",
                };
                spec.insert(holder.into(), json!({"storageUri": uri}));
            }
            patch["spec"] = json!({ component.key(): spec });
        }
        Change::TagRouting(on) => {
            let value = if *on { Value::from("true") } else { Value::Null };
            patch["metadata"]["annotations"] = json!({ TAG_ROUTING_ANNOTATION: value });
        }
    }
    patch
}

/// The patch as shown to a person (`--print-patch`, dry runs): without the resourceVersion,
/// which is only a precondition.
pub fn display_patch(change: &Change) -> Value {
    let mut patch = merge_patch(change, "");
    if let Some(meta) = patch.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
        if meta.is_empty() {
            patch.as_object_mut().map(|p| p.remove("metadata"));
        }
    }
    patch
}

/// JSON Patch (RFC 6902) for a traffic change that must only apply while the component's latest
/// ready AND latest created revisions are `revision`: the API server evaluates the `test`
/// operations on the stored object, so a newer revision can never take the traffic. `read` is the
/// object as read: its resourceVersion is tested, so the patch may rely on what it holds.
pub fn expect_revision_patch(change: &Change, revision: &str, read: &Isvc) -> Value {
    let resource_version = read.resource_version.as_str();
    let Change::Traffic { component, percent, model, .. } = change else {
        return merge_patch(change, resource_version);
    };
    let c = component.key();
    let mut ops = vec![
        json!({"op": "test", "path": "/metadata/resourceVersion", "value": resource_version}),
        json!({"op": "test", "path": format!("/status/components/{c}/latestReadyRevision"), "value": revision}),
        json!({"op": "test", "path": format!("/status/components/{c}/latestCreatedRevision"), "value": revision}),
    ];
    match percent {
        Some(p) => ops.push(json!({"op": "add", "path": format!("/spec/{c}/canaryTrafficPercent"), "value": p})),
        // `remove` of an absent field fails the whole patch: only where the read object has it.
        None if read.ctp(*component).is_some() => {
            ops.push(json!({"op": "remove", "path": format!("/spec/{c}/canaryTrafficPercent")}));
        }
        None => {}
    }
    if let Some((field, uri)) = model {
        let holder = match field {
            ModelField::Framework(fw) => fw.as_str(),
            _ => "model",
        };
        ops.push(json!({"op": "add", "path": format!("/spec/{c}/{holder}/storageUri"), "value": uri}));
    }
    Value::Array(ops)
}

/// Applies a merge patch (RFC 7386) to a document: used to preview the object after a client
/// dry run.
pub fn apply_merge(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(t), Some(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    apply_merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        _ => *target = patch.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn traffic(percent: Option<i64>, model: Option<(ModelField, &str)>) -> Change {
        Change::Traffic {
            component: Component::Predictor,
            percent,
            model: model.map(|(f, u)| (f, u.to_string())),
            tag_routing_on: false,
        }
    }

    #[test]
    fn first_rollout_step_turns_tag_routing_on_in_the_same_patch() {
        let change = Change::Traffic {
            component: Component::Predictor,
            percent: Some(10),
            model: Some((ModelField::Model, "gs://m2".into())),
            tag_routing_on: true,
        };
        assert_eq!(
            merge_patch(&change, "7"),
            json!({"metadata": {"resourceVersion": "7", "annotations": {TAG_ROUTING_ANNOTATION: "true"}},
                   "spec": {"predictor": {"canaryTrafficPercent": 10, "model": {"storageUri": "gs://m2"}}}})
        );
        let after = change.fields_after(&OwnedFields::default());
        assert_eq!(after.tag_routing.as_deref(), Some("true"));
        assert!(change.changes_template());
    }

    #[test]
    fn set_with_model_is_one_patch_in_the_model_field() {
        let p = merge_patch(&traffic(Some(10), Some((ModelField::Model, "gs://m2"))), "42");
        assert_eq!(
            p,
            json!({"metadata":{"resourceVersion":"42"},
                   "spec":{"predictor":{"canaryTrafficPercent":10,"model":{"storageUri":"gs://m2"}}}})
        );
    }

    #[test]
    fn set_on_legacy_schema_writes_the_framework_field() {
        let p = merge_patch(&traffic(Some(20), Some((ModelField::Framework("sklearn".into()), "gs://x"))), "1");
        assert_eq!(p["spec"]["predictor"]["sklearn"], json!({"storageUri":"gs://x"}));
        assert!(p["spec"]["predictor"].get("model").is_none());
    }

    #[test]
    fn promote_removes_the_field_and_rollback_pins_zero() {
        let promote = merge_patch(&traffic(None, None), "7");
        assert_eq!(promote["spec"]["predictor"], json!({"canaryTrafficPercent": null}));
        let rollback = merge_patch(&traffic(Some(0), None), "7");
        assert_eq!(rollback["spec"]["predictor"], json!({"canaryTrafficPercent": 0}));
    }

    #[test]
    fn transformer_component_is_patched_under_its_own_key() {
        let c = Change::Traffic {
            component: Component::Transformer,
            percent: Some(30),
            model: None,
            tag_routing_on: false,
        };
        assert_eq!(merge_patch(&c, "1")["spec"], json!({"transformer":{"canaryTrafficPercent":30}}));
    }

    #[test]
    fn tag_routing_sets_true_or_removes() {
        let on = merge_patch(&Change::TagRouting(true), "3");
        assert_eq!(on["metadata"]["annotations"][TAG_ROUTING_ANNOTATION], json!("true"));
        let off = merge_patch(&Change::TagRouting(false), "3");
        assert_eq!(off["metadata"]["annotations"][TAG_ROUTING_ANNOTATION], Value::Null);
        assert!(off.get("spec").is_none());
    }

    #[test]
    fn display_patch_hides_the_precondition() {
        let d = display_patch(&traffic(Some(10), None));
        assert_eq!(d, json!({"spec":{"predictor":{"canaryTrafficPercent":10}}}));
        let t = display_patch(&Change::TagRouting(true));
        assert_eq!(t, json!({"metadata":{"annotations":{TAG_ROUTING_ANNOTATION:"true"}}}));
    }

    #[test]
    fn expect_revision_tests_ready_and_created() {
        let read = |ctp: Value| {
            Isvc::from_value(
                json!({"metadata": {"resourceVersion": "9"}, "spec": {"predictor": {"canaryTrafficPercent": ctp}}}),
            )
        };
        let p = expect_revision_patch(&traffic(None, None), "m-predictor-00002", &read(json!(10)));
        let ops = p.as_array().unwrap();
        assert_eq!(ops[0], json!({"op":"test","path":"/metadata/resourceVersion","value":"9"}));
        assert_eq!(ops[1]["path"], "/status/components/predictor/latestReadyRevision");
        assert_eq!(ops[2]["path"], "/status/components/predictor/latestCreatedRevision");
        assert_eq!(ops[2]["value"], "m-predictor-00002");
        assert_eq!(ops[3], json!({"op":"remove","path":"/spec/predictor/canaryTrafficPercent"}));
        // Promoting a new model on an object without ctp: nothing to remove.
        let model = traffic(None, Some((ModelField::Model, "gs://m3")));
        let p = expect_revision_patch(&model, "m-predictor-00002", &read(Value::Null));
        assert!(!p.as_array().unwrap().iter().any(|op| op["op"] == "remove"), "{p}");
    }

    #[test]
    fn merge_preview_applies_null_as_delete() {
        let mut doc = json!({"spec":{"predictor":{"canaryTrafficPercent":10,"model":{"storageUri":"a"}}}});
        apply_merge(&mut doc, &json!({"spec":{"predictor":{"canaryTrafficPercent":null,"model":{"storageUri":"b"}}}}));
        assert_eq!(doc, json!({"spec":{"predictor":{"model":{"storageUri":"b"}}}}));
    }
}
